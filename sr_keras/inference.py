"""Running models on images: predictors for evaluation, tiled upscaling of users' files.

Tiling (:mod:`sr_keras.upscaling`) splits the LR image into ``tile x tile`` pieces, runs each with
``overlap`` extra LR pixels of context on every side and keeps only its centre, so the result
equals the untiled output (the overlap covers the models' receptive field) while memory stays
bounded.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sr_keras import models
from sr_keras import precision as precision_module
from sr_keras.evaluate import BASELINES, baseline_predictor
from sr_keras.images import SRKerasError, plan_outputs
from sr_keras.upscaling import (
    TILE_MEMORY,
    Upscaler,
    fit_tile,
    predict_tiled,
    upscale_image,
    write_outputs,
)
from sr_keras.utils import available_memory, ensure_writable_folder

#: Where the project's trained weights live: ``results/weights/<model>_x<scale>.keras``.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "results" / "weights"

ArrayFunction = Callable[[np.ndarray], np.ndarray]


def default_weights_path(name: str, scale: int) -> Path:
    """The shipped weights of a model and scale (may not exist)."""
    return WEIGHTS_DIR / f"{name}_x{scale}.keras"


def _architecture(name: str) -> tuple[str, bool]:
    """``srcnn_gr`` -> ``("srcnn", True)``: the registered model and the global-residual flag."""
    residual = name.endswith("_gr")
    architecture = name[: -len("_gr")] if residual else name
    if architecture not in models.MODELS:
        raise ValueError(
            f"model must be one of {models.available_models()} (optionally with the suffix "
            f"_gr for the global-residual variant), got {name!r}"
        )
    return architecture, residual


def shipped_models(scale: int) -> list[str]:
    """The model names (``srcnn``, ``srcnn_gr``...) with shipped weights for a scale."""
    suffix = f"_x{scale}.keras"
    return sorted(path.name[: -len(suffix)] for path in WEIGHTS_DIR.glob(f"*{suffix}"))


#: ``sr-keras upscale``'s default must upscale a 1-megapixel output within this many seconds.
DEFAULT_MAX_SECONDS_PER_MEGAPIXEL = 2.0


def default_model(scale: int) -> str:
    """The default model of ``sr-keras upscale``: the best shipped one that is fast enough.

    From ``results/comparison.csv``: the shipped model with the best Set5 Y-PSNR among those
    whose measured time for a 1-megapixel output (column ``1 MP (s)``) is under
    :data:`DEFAULT_MAX_SECONDS_PER_MEGAPIXEL`; if none is, the best shipped one.

    Args:
        scale: The scale.

    Returns:
        A model name; ``srresnet`` when nothing is shipped for this scale.
    """
    shipped = shipped_models(scale)
    if not shipped:
        return "srresnet"
    table_path = WEIGHTS_DIR.parent / "comparison.csv"
    if table_path.is_file():
        import pandas as pd

        table = pd.read_csv(table_path)
        table = table[(table["Dataset"] == "Set5") & table["Name"].isin(shipped)]
        if "1 MP (s)" in table:
            fast = table[table["1 MP (s)"] < DEFAULT_MAX_SECONDS_PER_MEGAPIXEL]
            table = fast if len(fast) else table
        if len(table):
            return str(table.loc[table["Y-PSNR"].idxmax(), "Name"])
    return shipped[-1]


def load_model(
    name: str,
    scale: int,
    weights: str | os.PathLike | None = None,
    precision: str = "float32",
) -> keras.Model:
    """Loads a trained model: ``weights`` if given, else the project's shipped weights.

    Args:
        name: A registered model, optionally with ``_gr`` (the global-residual variant).
        scale: The scale the weights must have.
        weights: A whole ``.keras`` model or a ``.weights.h5`` file for ``build(name)``;
            default ``results/weights/<name>_x<scale>.keras``.
        precision: ``float32``, ``bfloat16``, ``float16`` or ``auto`` (see
            :mod:`sr_keras.precision`): the model is rebuilt under that policy with the
            file's weights, whatever precision the file was saved in.

    Returns:
        The model.

    Raises:
        SRKerasError: If the file is missing or does not fit the model.
        ValueError: If ``name`` is not a registered model.
    """
    architecture, residual = _architecture(name)
    path = Path(weights) if weights else default_weights_path(name, scale)
    if not path.is_file():
        if weights:
            raise SRKerasError(f"weights file '{path}' does not exist")
        shipped = ", ".join(shipped_models(scale)) or "none"
        raise SRKerasError(
            f"no shipped weights for {name} x{scale} (looked for '{path}'; shipped for "
            f"x{scale}: {shipped}): train it with `sr-keras train --model {architecture} "
            f"--scale {scale} --out runs/{name}_x{scale}"
            f"{' --global-residual' if residual else ''}` and pass "
            f"--weights runs/{name}_x{scale}/best.keras"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns once per layer that does not fit
            if path.name.endswith(".weights.h5"):
                model = models.build(architecture, scale, global_residual=residual)
                model.load_weights(path)
            else:
                model = keras.models.load_model(path, compile=False)
    except (ValueError, OSError, TypeError, KeyError) as error:
        # Keras' message lists every tensor that does not fit: one line is enough.
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else "unreadable"
        raise SRKerasError(
            f"{path}: cannot load it as {name} x{scale}: its weights do not fit this model "
            f"({reason}); give the --model and --scale it was trained with"
        ) from error
    found = model_scale(model)
    if found != scale:
        raise SRKerasError(f"{path} is a x{found} model, not x{scale}")
    _check_architecture(model, path, name, scale)
    with precision_module.policy(precision):
        twin = models.build(architecture, scale, global_residual=residual)
    twin.set_weights(model.get_weights())
    return twin


def _weight_shapes(model: keras.Model) -> list[tuple]:
    """What identifies an architecture: its weight shapes, and the global residual's layer."""
    residual = any(layer.name == "global_residual" for layer in model.layers)
    return [residual, *(tuple(weight.shape) for weight in model.weights)]


def _check_architecture(model: keras.Model, path: Path, name: str, scale: int) -> None:
    """Refuses a model file that holds another architecture than ``name``.

    Raises:
        SRKerasError: Naming the file, what it holds and the ``--model`` to use.
    """
    architecture, residual = _architecture(name)
    expected = models.build(architecture, scale, global_residual=residual)
    if _weight_shapes(model) == _weight_shapes(expected):
        return
    held = re.sub(r"_\d+$", "", model.name)  # Keras numbers models with the same name
    if held == name:
        raise SRKerasError(
            f"{path} holds a {name} model that differs from the one this version builds; "
            "retrain it with this version"
        )
    try:
        _architecture(held)
    except ValueError:
        raise SRKerasError(
            f"{path} holds a model named {model.name!r}, not {name}: not one of this project's "
            f"models ({', '.join(models.available_models())})"
        ) from None
    raise SRKerasError(f"{path} holds the model {held}, not {name}; use --model {held}")


def model_scale(model: keras.Model) -> int:
    """The upscaling factor of an SR model, measured (EDSR's x4 is two x2 pixel shuffles)."""
    side = 12
    output = model(np.zeros((1, side, side, model.input_shape[-1]), np.float32), training=False)
    return int(output.shape[1]) // side


def model_function(model: keras.Model) -> ArrayFunction:
    """Wraps a model in a ``tf.function`` traced once for every image size.

    Args:
        model: An SR model.

    Returns:
        A function from a ``(1, h, w, C)`` float32 array in ``[0, 1]`` to the
        ``(1, s*h, s*w, C)`` NumPy output.
    """
    channels = model.input_shape[-1]

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32)])
    def run(batch):
        return tf.cast(model(batch, training=False), tf.float32)

    return lambda batch: run(tf.convert_to_tensor(batch, tf.float32)).numpy()


def self_ensemble(function: ArrayFunction) -> ArrayFunction:
    """Averages a batch function over the 8 flips and 90-degree rotations (EDSR's "+").

    Each transformed input is upscaled, transformed back and the eight results averaged:
    8 times the compute, usually +0.1 to +0.2 dB for trained CNNs.

    Args:
        function: Batch function as from :func:`model_function`.

    Returns:
        The ensembled batch function (same signature).
    """

    def ensembled(batch: np.ndarray) -> np.ndarray:
        total = None
        for flip in (False, True):
            flipped = batch[:, :, ::-1] if flip else batch
            for turns in range(4):
                turned = np.ascontiguousarray(np.rot90(flipped, turns, axes=(1, 2)))
                output = np.rot90(function(turned), -turns, axes=(1, 2))
                output = output[:, :, ::-1] if flip else output
                total = output.astype(np.float64) if total is None else total + output
        return (total / 8).astype(np.float32)

    return ensembled


def predictor(
    name: str,
    scale: int,
    weights: str | os.PathLike | None = None,
    tile: int = 0,
    overlap: int = 32,
    ensemble: bool = False,
    precision: str = "auto",
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The evaluation function of a baseline or a trained model.

    Args:
        name: An interpolation baseline or a registered model.
        scale: The scale.
        weights: Weights of a model; default the shipped ones.
        tile: LR tile side for models (0: whole images).
        overlap: LR context per tile side.
        ensemble: Average over the 8 flips/rotations (:func:`self_ensemble`).
        precision: The model's compute precision (:func:`load_model`).

    Returns:
        ``(predict, parameters)``: ``predict`` maps an LR uint8 ``HxWx3`` array to the SR
        image as floats in ``0..255``; ``parameters`` is 0 for baselines.

    Raises:
        SRKerasError: If the model's weights cannot be found or loaded.
    """
    if name in BASELINES:
        return baseline_predictor(name, scale), 0
    model = load_model(name, scale, weights, precision)
    function = model_function(model)
    if ensemble:
        function = self_ensemble(function)
    multiple = tile_multiple(name)

    def predict(lr: np.ndarray) -> np.ndarray:
        return predict_tiled(function, lr, scale, tile, overlap, multiple) * 255.0

    return predict, model.count_params()


#: Working bytes per LR pixel of an interpolation baseline, per unit of ``scale**2``.
_BASELINE_BYTES = 3 * 8 * 4


def activation_bytes(model: keras.Model, side: int = 12) -> float:
    """Estimated working memory of a model per LR input pixel, in bytes.

    Measured on a small input: four times the largest activation (a convolution's input and
    output, a skip connection and the backend's scratch space).
    """
    probe = keras.Model(model.input, [layer.output for layer in model.layers[1:]])
    channels = model.input_shape[-1]
    outputs = probe(np.zeros((1, side, side, channels), np.float32), training=False)
    largest = max(int(np.prod(output.shape[1:])) for output in outputs)
    return 4 * largest * 4 / side**2


def tile_multiple(name: str) -> int:
    """LR tile origins are kept on multiples of this for a model or baseline (4, or the
    model's ``tile_multiple``)."""
    if name in BASELINES:
        return 4
    return models.MODELS[_architecture(name)[0]].tile_multiple


def upscaling_function(
    name: str,
    scale: int,
    weights: str | os.PathLike | None = None,
    ensemble: bool = False,
    precision: str = "auto",
) -> tuple[ArrayFunction, float]:
    """The batch function of a model or baseline for :func:`upscale_image`.

    Returns:
        ``(function, bytes per LR pixel)``: the function on ``[0, 1]`` floats, and its
        estimated working memory.

    Raises:
        SRKerasError: If the model's weights cannot be found or loaded.
    """
    if name in BASELINES:
        baseline = baseline_predictor(name, scale)

        def function(batch):
            return (baseline(batch[0] * 255.0) / 255.0)[None].astype(np.float32)

        working = _BASELINE_BYTES * scale**2
    else:
        model = load_model(name, scale, weights, precision)
        function, working = model_function(model), activation_bytes(model)
    if ensemble:
        function = self_ensemble(function)
        working += 2 * 8 * 3 * scale**2  # the float64 sum of the 8 outputs
    return function, working


def upscale_files(
    inputs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    name: str,
    scale: int = 4,
    weights: str | os.PathLike | None = None,
    tile: int = 256,
    overlap: int = 32,
    progress: bool = True,
    ensemble: bool = False,
    overwrite: bool = False,
    precision: str = "auto",
) -> tuple[list[Path], list[str], list[str]]:
    """Upscales image files into ``out_dir`` as ``<stem>_x<scale>.png``.

    The outputs are named and checked first (:func:`sr_keras.images.plan_outputs`: existing
    ones are skipped unless ``overwrite``, earlier outputs are never read as inputs), then the
    output folder is test-written, then the model loaded. A file that cannot be read, would not
    fit in memory or cannot be written is reported and the others are still written. Each
    output is written to a temp file and renamed; temp files left by a killed run for these
    outputs are removed.

    Args:
        inputs: Files and folders.
        out_dir: The output folder.
        name: A registered model or an interpolation baseline.
        scale: The scale.
        weights: Weights file; default the project's trained weights.
        tile: LR tile side (0: whole images); smaller where one tile of the model would need
            more than :data:`sr_keras.upscaling.TILE_MEMORY` (or a quarter of the free memory).
        overlap: LR context per tile side.
        progress: Show progress bars over files and over the tiles of each image.
        ensemble: Average over the 8 flips/rotations (8 times slower).
        overwrite: Replace existing outputs.
        precision: The model's compute precision (:func:`load_model`; default ``auto``).

    Returns:
        ``(written paths, notices of skipped files, error messages)``.

    Raises:
        SRKerasError: If the output folder cannot be written or the model cannot be loaded.
    """
    if name not in BASELINES:
        _architecture(name)  # a wrong name fails even when every output exists
    plan = plan_outputs(inputs, out_dir, scale, overwrite)
    if not plan.jobs:
        return [], plan.notices, plan.errors
    ensure_writable_folder(out_dir)
    function, working = upscaling_function(name, scale, weights, ensemble, precision)
    multiple = tile_multiple(name)

    def run(image, tile_progress):
        if image.dtype not in (np.uint8, np.uint16):
            raise SRKerasError(f"{image.dtype} images are not supported")
        return upscale_image(function, image, scale, tile, overlap, tile_progress, multiple)

    budget = min(TILE_MEMORY, available_memory() / 4)
    tile = fit_tile(tile, overlap, working, budget, multiple)
    upscaler = Upscaler(run, scale, tile, overlap, working, errors=(tf.errors.OpError,))
    written, errors = write_outputs(plan.jobs, upscaler, f"upscale x{scale} {name}", progress)
    return written, plan.notices, plan.errors + errors
