"""Export to SavedModel, TFLite and ONNX: each run with its own runtime against Keras."""

from __future__ import annotations

import numpy as np
import pytest

from sr_keras import cli, export, models
from sr_keras.images import SRKerasError

PATHS = {"saved_model": "model", "tflite": "model.tflite", "onnx": "model.onnx"}


@pytest.fixture(scope="module")
def trained_like():
    """Models with non-trivial weights (the zero-initialised residual end would hide errors)."""
    built = {}
    rng = np.random.default_rng(0)
    for name, residual in [
        ("srcnn", True),
        ("espcn", False),
        ("sr_autoencoder", False),
        ("rfdn", True),
    ]:
        model = models.build(name, 3, global_residual=residual)
        model.set_weights(
            [rng.normal(0, 0.05, w.shape).astype(np.float32) for w in model.get_weights()]
        )
        built[name] = model
    return built


# srcnn: the bicubic block (X1) and a global residual; espcn: the pixel shuffle;
# sr_autoencoder: the symmetric pad to a multiple of 4, poolings and the final crop (converted
# ops; SavedModel runs TensorFlow's own graph, checked on the other two); rfdn: ESA's strided
# convolution, 7x7 max pool, bilinear resize to a run-time size, mirror padding and crop.
CASES = [(name, format) for name in ["srcnn", "espcn"] for format in PATHS] + [
    (name, format) for name in ["sr_autoencoder", "rfdn"] for format in ["tflite", "onnx"]
]


@pytest.mark.parametrize(("name", "format"), CASES)
def test_export_matches_keras_at_two_sizes(trained_like, name, format, tmp_path):
    model = trained_like[name]
    path = export.export_model(model, tmp_path / PATHS[format], format)
    function = export.load_exported(path, format)
    assert export.parity(model, function) <= export.PARITY_TOLERANCE
    if name == "rfdn":  # smaller than ESA's minimum of 15: its mirror padding runs too
        assert export.parity(model, function, sizes=((12, 12), (5, 7))) <= export.PARITY_TOLERANCE
    # Batch of 2 and another size, straight through the runtime.
    batch = np.random.default_rng(1).random((2, 11, 17, 3), dtype=np.float32)
    assert function(batch).shape == (2, 33, 51, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_parity_detects_a_different_model(tmp_path):
    model = models.build("espcn", 3)  # fresh: never called before the export
    path = export.export_model(model, tmp_path / "espcn.onnx", "onnx")
    assert export.parity(model, export.load_exported(path, "onnx")) <= export.PARITY_TOLERANCE
    other = models.build("espcn", 3)
    assert export.parity(other, export.load_exported(path, "onnx")) > 1e-2


def test_export_replaces_an_existing_saved_model(trained_like, tmp_path):
    target = tmp_path / "model"
    export.export_model(trained_like["espcn"], target, "saved_model")
    export.export_model(trained_like["srcnn"], target, "saved_model")
    function = export.load_exported(target, "saved_model")
    assert export.parity(trained_like["srcnn"], function) == 0.0


def test_bad_arguments(trained_like, tmp_path):
    with pytest.raises(ValueError, match="format"):
        export.export_model(trained_like["espcn"], tmp_path / "m.pb", "coreml")
    with pytest.raises(ValueError, match=r"\.tflite"):
        export.export_model(trained_like["espcn"], tmp_path / "m.onnx", "tflite")
    with pytest.raises(SRKerasError, match="does not exist"):
        export.load_exported(tmp_path / "missing.onnx", "onnx")


def test_cli_export_checks_parity(trained_like, tmp_path, capfd):
    weights = tmp_path / "espcn_x3.keras"
    trained_like["espcn"].save(weights)
    output = tmp_path / "out" / "espcn.tflite"
    argv = ["export", "--model", "espcn", "--scale", "3", "--weights", str(weights)]
    status = cli.main([*argv, "--format", "tflite", "-o", str(output)])
    printed, err = capfd.readouterr()  # also what native code writes
    assert status == 0, printed
    assert output.is_file()
    assert "parity with Keras" in printed and ": ok" in printed
    assert "XNNPACK" not in err  # TFLite's "INFO: Created ... delegate" line is hidden


def test_cli_export_wrong_scale_exit_2(trained_like, tmp_path, capsys):
    weights = tmp_path / "espcn_x3.keras"
    trained_like["espcn"].save(weights)
    argv = ["export", "--model", "espcn", "--scale", "4", "--weights", str(weights)]
    status = cli.main([*argv, "--format", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert status == 2
    assert "x3 model, not x4" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


# --- outputs are never lost (issue #11) ----------------------------------------------------------


def _export(weights, output, format, *extra):
    argv = ["export", "--model", "espcn", "--scale", "3", "--weights", str(weights)]
    return cli.main([*argv, "--format", format, "-o", str(output), "--no-check", *extra])


@pytest.fixture
def espcn_file(trained_like, tmp_path):
    path = tmp_path / "espcn_x3.keras"
    trained_like["espcn"].save(path)
    return path


def test_cli_export_never_deletes_a_folder_it_did_not_write(espcn_file, tmp_path, capsys):
    folder = tmp_path / "my_documents"
    (folder / "notes.txt").parent.mkdir()
    (folder / "notes.txt").write_text("precious")
    onnx_folder = tmp_path / "x.onnx"
    (onnx_folder / "keep.txt").parent.mkdir()
    (onnx_folder / "keep.txt").write_text("precious too")
    for extra in ([], ["--overwrite"]):
        assert _export(espcn_file, folder, "saved_model", *extra) == 2
        assert "holds files that are not a SavedModel" in capsys.readouterr().err
        assert _export(espcn_file, onnx_folder, "onnx", *extra) == 2
        assert "is a folder" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "precious"
    assert (onnx_folder / "keep.txt").read_text() == "precious too"


def test_cli_export_replaces_an_export_only_with_overwrite(
    trained_like, espcn_file, tmp_path, capsys
):
    saved = tmp_path / "served"
    assert _export(espcn_file, saved, "saved_model") == 0
    capsys.readouterr()
    assert _export(espcn_file, saved, "saved_model") == 2
    assert f"output '{saved}' exists (use --overwrite to replace it)" in capsys.readouterr().err
    stale = tmp_path / ".served.k2j_8x0q.tmp"  # a staging folder a killed export left
    (stale / "variables").mkdir(parents=True)
    assert _export(espcn_file, saved, "saved_model", "--overwrite") == 0
    assert (saved / "saved_model.pb").is_file() and not stale.exists()
    function = export.load_exported(saved, "saved_model")
    assert export.parity(trained_like["espcn"], function) <= export.PARITY_TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["espcn_x3.keras", "served"]


def test_cli_export_of_another_architecture_is_refused(espcn_file, tmp_path, capsys):
    argv = ["export", "--model", "srcnn", "--scale", "3", "--weights", str(espcn_file)]
    assert cli.main([*argv, "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "holds the model espcn, not srcnn; use --model espcn" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "m.onnx").exists()
