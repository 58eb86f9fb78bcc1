"""Exporting a trained model for serving: SavedModel, TFLite (LiteRT) and ONNX, with dynamic
height and width, each checked against Keras with its own runtime (:func:`parity`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import keras
import numpy as np

from sr_keras.upscaling import ArrayFunction
from sr_keras.utils import (
    OVERWRITE_FLAG,
    SRKerasError,
    atomic_path,
    check_output,
    ensure_writable_folder,
    quiet_native_stderr,
    remove_stale_temp_files,
)

#: The export formats: a directory, a ``.tflite`` file, a ``.onnx`` file.
FORMATS = ("saved_model", "tflite", "onnx")
_KERAS_FORMATS = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}

#: Largest accepted absolute difference between an exported model and Keras (images in [0, 1]).
PARITY_TOLERANCE = 1e-4


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")


def check_export_path(path: str | os.PathLike, format: str, overwrite: bool = False) -> Path:
    """Checks where an export will go, before any work: an existing export is replaced only
    with ``overwrite``, an empty folder always, another folder never (SRKerasError)."""
    _check_format(format)
    path = Path(path)
    suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(format)
    if suffix and path.suffix != suffix:
        raise ValueError(f"path of a {format} export must end with {suffix}, got '{path}'")
    if format != "saved_model":
        return check_output(path, overwrite)
    if path.exists() and not path.is_dir():
        raise SRKerasError(f"output '{path}' is a file; a SavedModel is a folder: give a new one")
    if path.is_dir() and any(path.iterdir()):
        if not (path / "saved_model.pb").is_file():
            raise SRKerasError(
                f"output folder '{path}' holds files that are not a SavedModel; it is never "
                "replaced: give a new folder"
            )
        if not overwrite:
            raise SRKerasError(f"output '{path}' exists (use {OVERWRITE_FLAG} to replace it)")
    return path


def export_model(model: keras.Model, path, format: str, overwrite: bool = True) -> Path:
    """Exports a model to ``path`` (a folder for ``saved_model``, else a ``.tflite`` or ``.onnx``
    file) atomically; SRKerasError if the path is taken or the conversion fails."""
    path = check_export_path(path, format, overwrite)
    ensure_writable_folder(path.parent)
    remove_stale_temp_files(path)
    # Keras' ONNX exporter refuses a model that was never called.
    model(np.zeros((1, 8, 8, model.input_shape[-1]), np.float32), training=False)
    with atomic_path(path) as target:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.export(str(target), format=_KERAS_FORMATS[format], verbose=False)
        except ImportError as error:
            raise SRKerasError(
                f"exporting to {format} needs a package that is not installed ({error}); "
                "install the project's requirements: python -m pip install -e ."
            ) from error
        except Exception as error:  # the converters raise many types
            raise SRKerasError(f"export of {model.name} to {format} failed: {error}") from error
    return path


def load_exported(path: str | os.PathLike, format: str) -> ArrayFunction:
    """An export loaded with its own runtime, as a function of a ``(N, h, w, C)`` float32 array."""
    _check_format(format)
    path = Path(path)
    if not path.exists():
        raise SRKerasError(f"exported model '{path}' does not exist")
    if format == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda batch: loaded.serve(tf.constant(batch, tf.float32)).numpy()
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda batch: session.run(None, {name: np.asarray(batch, np.float32)})[0]
    try:  # TFLite: LiteRT's own package, where installed
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = Interpreter(model_path=str(path))
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    allocated: list[tuple[int, ...]] = []

    def run(batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if allocated != [batch.shape]:
            interpreter.resize_tensor_input(input_index, batch.shape, strict=False)
            with quiet_native_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                interpreter.allocate_tensors()
            allocated[:] = [batch.shape]
        interpreter.set_tensor(input_index, batch)
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()

    return run


def parity(model: keras.Model, function, sizes=((37, 29), (24, 48)), seed: int = 0) -> float:
    """The largest ``|exported - keras|`` over random ``[0, 1]`` images of two LR ``sizes``."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for height, width in sizes:
        image = rng.random((1, height, width, model.input_shape[-1]), dtype=np.float32)
        expected = np.asarray(model(image, training=False), np.float32)
        actual = np.asarray(function(image), np.float32)
        if actual.shape != expected.shape:
            raise SRKerasError(
                f"exported model gave shape {actual.shape} for input {image.shape}, "
                f"Keras gave {expected.shape}"
            )
        worst = max(worst, float(np.max(np.abs(actual - expected))))
    return worst
