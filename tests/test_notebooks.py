"""The eight study notebooks run headless (``jupyter nbconvert --execute``) in quick mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED_FIGURES = {
    "01_interpolation_baselines": ["baselines_sample_x4.png"],
    **{
        f"{number}_{model}": [
            f"{model}_x4_curves.png",
            f"{model}_gr_x4_curves.png",
            f"{model}_x4_outputs.png",
        ]
        for number, model in [
            ("02", "srcnn"),
            ("03", "srresnet"),
            ("04", "srresnet_lite"),
            ("05", "sr_autoencoder"),
        ]
    },
    "06_comparison": ["comparison_x4_0.png", "psnr_vs_parameters_x4.png", "psnr_vs_time_x4.png"],
    "07_efficient_models": [
        "espcn_x4_curves.png",
        "edsr_baseline_gr_x4_curves.png",
        "rfdn_gr_x4_curves.png",
        "efficient_x4_outputs.png",
    ],
    "08_real_images": ["real_images_cv2_cubic_x4.png", "real_images_jpeg75_x4.png"],
}


def test_the_eight_notebooks_are_there_and_thin():
    names = [path.name for path in NOTEBOOKS]
    assert names == [
        "01_interpolation_baselines.ipynb",
        "02_srcnn.ipynb",
        "03_srresnet.ipynb",
        "04_srresnet_lite.ipynb",
        "05_sr_autoencoder.ipynb",
        "06_comparison.ipynb",
        "07_efficient_models.ipynb",
        "08_real_images.ipynb",
    ]
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        cells = notebook["cells"]
        tagged = [cell for cell in cells if "parameters" in cell["metadata"].get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: one cell tagged 'parameters'"
        assert len(cells) <= 20, f"{path.name}: {len(cells)} cells"
        code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
        for forbidden in ("def ", "class ", "model.fit(", "Lambda("):
            assert forbidden not in code, f"{path.name} defines {forbidden!r}: move it to sr_keras"
        assert all(not cell.get("outputs") for cell in cells if cell["cell_type"] == "code"), (
            f"{path.name} is committed with outputs"
        )


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def this_python_kernel(tmp_path_factory):
    """A JUPYTER_PATH whose ``python3`` kernel is this interpreter: a ``python3`` kernelspec
    installed elsewhere (another Python without sr_keras) must not run the notebooks."""
    jupyter_path = tmp_path_factory.mktemp("jupyter")
    spec = jupyter_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return str(jupyter_path)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes_in_quick_mode(notebook, quick_runs, this_python_kernel, tmp_path):
    environment = {
        **os.environ,
        "SR_KERAS_MODE": "quick",
        "SR_KERAS_RUNS": str(quick_runs),
        "JUPYTER_PATH": this_python_kernel,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=900",
            "--output-dir",
            str(tmp_path),
            str(notebook),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    executed = json.loads((tmp_path / notebook.name).read_text())
    errors = [
        output
        for cell in executed["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    if notebook.stem == "06_comparison":  # every model trained by 02-05 is in the table
        table = (quick_runs / "quick" / "results" / "comparison.csv").read_text()
        for name in ("bicubic", "srcnn", "srresnet_gr", "srresnet_lite", "sr_autoencoder_gr"):
            assert f"\n{name}," in table or f",{name}," in table, name
    if notebook.stem == "07_efficient_models":  # every export matched Keras
        printed = "".join(
            "".join(output.get("text", ""))
            for cell in executed["cells"]
            for output in cell.get("outputs", [])
        )
        differences = [
            float(line.rsplit(" ", 1)[1])
            for line in printed.splitlines()
            if "max abs difference" in line
        ]
        assert len(differences) == 8 and max(differences) <= 1e-4, printed
    figures = quick_runs / "quick" / "results" / "figures"
    if notebook.stem == "08_real_images":  # shipped models only: the first run's folder
        figures = quick_runs / "study" / "figures"
    for name in EXPECTED_FIGURES[notebook.stem]:
        assert (figures / name).is_file(), f"{notebook.name} did not write {name}"
