"""Exporting a trained model for serving: TensorFlow SavedModel, TFLite (LiteRT) and ONNX.

Each format keeps the height and width dynamic (one file for every image size) and is checked
against the Keras model it came from: :func:`parity` runs the exported file with its own
runtime (``tf.saved_model.load``, the TFLite interpreter, onnxruntime) on random images of two
sizes and returns the largest absolute difference.

The bicubic block is no resize op (:class:`sr_keras.layers.BicubicUpsample` is a fixed
convolution and a pixel shuffle); RFDN's attention resizes bilinearly, which both formats have
as a builtin. So TFLite runs every model with its builtin ops and ONNX needs no
TensorFlow-specific node.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from sr_keras.utils import (
    OVERWRITE_FLAG,
    SRKerasError,
    check_output,
    ensure_writable_folder,
    quiet_native_stderr,
    remove_stale_temp_files,
    temp_beside,
)

#: The export formats: a directory, a ``.tflite`` file, a ``.onnx`` file.
FORMATS = ("saved_model", "tflite", "onnx")

#: Keras' names of the formats.
_KERAS_FORMATS = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}

#: Largest accepted absolute difference between an exported model and Keras (images in [0, 1]).
PARITY_TOLERANCE = 1e-4

ArrayFunction = Callable[[np.ndarray], np.ndarray]


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")


def _check_path(path: Path, format: str) -> None:
    suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(format)
    if suffix and path.suffix != suffix:
        raise ValueError(f"path of a {format} export must end with {suffix}, got '{path}'")


def check_export_path(path: str | os.PathLike, format: str, overwrite: bool = False) -> Path:
    """Checks where an export will go, before any work.

    A ``.tflite`` or ``.onnx`` file replaces an existing file only with ``overwrite``; a
    SavedModel replaces an existing SavedModel folder only with ``overwrite``, and an empty
    folder always. A folder that holds anything else is never replaced.

    Returns:
        The path.

    Raises:
        ValueError: If ``format`` is unknown or ``path`` has the wrong suffix.
        SRKerasError: If the path is taken, naming it and the way out.
    """
    _check_format(format)
    path = Path(path)
    _check_path(path, format)
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


def export_model(
    model: keras.Model, path: str | os.PathLike, format: str, overwrite: bool = True
) -> Path:
    """Exports a model for inference with dynamic batch, height and width.

    Written beside ``path`` first and renamed when complete, so a failed export leaves no
    half-written file and an existing export stays until the new one is ready. What a killed
    export left beside ``path`` (``.<name>.<random>.tmp``) is removed first.

    Args:
        model: An SR model (float32).
        path: Output: a directory for ``saved_model``, a ``.tflite`` or ``.onnx`` file.
        format: ``saved_model``, ``tflite`` or ``onnx``.
        overwrite: Replace an existing export at ``path`` (``sr-keras export`` passes
            ``--overwrite``); a folder that is not an export is never replaced
            (:func:`check_export_path`).

    Returns:
        The path written.

    Raises:
        ValueError: If ``format`` is unknown or ``path`` has the wrong suffix.
        SRKerasError: If the path is taken, the exporter is not installed or the conversion
            fails.
    """
    path = check_export_path(path, format, overwrite)
    ensure_writable_folder(path.parent)
    remove_stale_temp_files(path)
    # Keras' ONNX exporter refuses a model that was never called.
    model(np.zeros((1, 8, 8, model.input_shape[-1]), np.float32), training=False)
    staging = Path(temp_beside(path, tempfile.mkdtemp))
    try:
        target = staging / path.name
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
        if path.is_dir():  # an empty folder or, with overwrite, an earlier SavedModel
            os.replace(path, staging / "previous")
        os.replace(target, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def load_exported(path: str | os.PathLike, format: str) -> ArrayFunction:
    """Loads an exported model with its own runtime.

    Args:
        path: What :func:`export_model` wrote.
        format: Its format.

    Returns:
        A function from a ``(N, h, w, C)`` float32 array to the NumPy output.

    Raises:
        ValueError: If ``format`` is unknown.
        SRKerasError: If the file is missing.
    """
    _check_format(format)
    path = Path(path)
    if not path.exists():
        raise SRKerasError(f"exported model '{path}' does not exist")
    if format == "saved_model":
        return _saved_model_function(path)
    if format == "tflite":
        return _tflite_function(path)
    return _onnx_function(path)


def _saved_model_function(path: Path) -> ArrayFunction:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return lambda batch: loaded.serve(tf.constant(batch, tf.float32)).numpy()


def _tflite_function(path: Path) -> ArrayFunction:
    try:  # LiteRT's own package, where installed
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


def _onnx_function(path: Path) -> ArrayFunction:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: np.asarray(batch, np.float32)})[0]


def parity(
    model: keras.Model,
    function: ArrayFunction,
    sizes: tuple[tuple[int, int], ...] = ((37, 29), (24, 48)),
    seed: int = 0,
) -> float:
    """The largest absolute difference between a Keras model and its export.

    Args:
        model: The Keras model.
        function: The exported model, from :func:`load_exported`.
        sizes: LR ``(height, width)`` of the random test images: two sizes check that the
            export accepts sizes it was not traced with.
        seed: Seed of the random images (uniform in [0, 1]).

    Returns:
        The maximum of ``|exported - keras|`` over all pixels of all test images.
    """
    rng = np.random.default_rng(seed)
    channels = model.input_shape[-1]
    worst = 0.0
    for height, width in sizes:
        image = rng.random((1, height, width, channels), dtype=np.float32)
        expected = np.asarray(model(image, training=False), np.float32)
        actual = np.asarray(function(image), np.float32)
        if actual.shape != expected.shape:
            raise SRKerasError(
                f"exported model gave shape {actual.shape} for input {image.shape}, "
                f"Keras gave {expected.shape}"
            )
        worst = max(worst, float(np.max(np.abs(actual - expected))))
    return worst
