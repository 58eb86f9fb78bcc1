"""Running models and baselines: predictors (LR uint8 -> SR floats in 0..255), shipped weights,
tiled upscaling of files (:mod:`sr_keras.upscaling`: the untiled output in bounded memory)."""

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
from sr_keras.images import SRKerasError, plan_outputs
from sr_keras.interpolation import imresize, interpolate
from sr_keras.upscaling import (
    TILE_MEMORY,
    ArrayFunction,
    Upscaler,
    fit_tile,
    predict_tiled,
    upscale_image,
    write_outputs,
)
from sr_keras.utils import available_memory, ensure_writable_folder

#: Where the project's trained weights live: ``results/weights/<model>_x<scale>.keras``.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "results" / "weights"

#: LR uint8 ``HxWx3`` -> SR image as floats in ``0..255``.
Predictor = Callable[[np.ndarray], np.ndarray]

#: The interpolation baselines. ``bicubic`` is MATLAB's ``imresize`` kernel (a = -0.5), the one
#: behind every published "Bicubic" row; ``bicubic_opencv`` is the deck's/OpenCV's (a = -0.75).
BASELINES = ("nearest", "bilinear", "bicubic", "bicubic_opencv")


def baseline_predictor(method: str, scale: int) -> Predictor:
    """The predictor of an interpolation baseline (one of :data:`BASELINES`)."""
    if method == "bicubic":
        return lambda lr: imresize(lr, output_shape=(lr.shape[0] * scale, lr.shape[1] * scale))
    if method in BASELINES:  # nearest, bilinear and bicubic_opencv: OpenCV's kernels
        return lambda lr: interpolate(lr, scale, method.removesuffix("_opencv"))
    raise ValueError(f"method must be one of {BASELINES}, got {method!r}")


def default_weights_path(name: str, scale: int) -> Path:
    """The shipped weights of a model at a scale (which may not exist)."""
    return WEIGHTS_DIR / f"{name}_x{scale}.keras"


#: Suffix of the weights trained on realistic degradations (``--degradation realistic``):
#: ``edsr_baseline_gr_realistic`` is ``edsr_baseline_gr``'s architecture with other weights.
ROBUST_SUFFIX = "_realistic"


def architecture_of(name: str) -> tuple[str, bool]:
    """``srcnn_gr`` or ``srcnn_gr_realistic`` -> ``("srcnn", True)``: model, global residual."""
    name = name.removesuffix(ROBUST_SUFFIX)
    residual = name.endswith("_gr")
    architecture = name[: -len("_gr")] if residual else name
    if architecture not in models.MODELS:
        raise ValueError(
            f"model must be one of {models.available_models()} (optionally with the suffix "
            f"_gr for the global-residual variant, then {ROBUST_SUFFIX} for the weights "
            f"trained on realistic degradations), got {name!r}"
        )
    return architecture, residual


def shipped_models(scale: int, folder=None) -> list[str]:
    """The names (``srcnn``, ``srcnn_gr``...) with weights for ``scale`` in ``folder`` (default
    the shipped ones)."""
    suffix = f"_x{scale}.keras"
    folder = Path(folder or WEIGHTS_DIR)
    return sorted(path.name[: -len(suffix)] for path in folder.glob(f"*{suffix}"))


#: ``sr-keras upscale``'s default must upscale a 1-megapixel output within this many seconds.
DEFAULT_MAX_SECONDS_PER_MEGAPIXEL = 2.0
#: Every shipped model measured at its scale (``python benchmarks/zoo.py report``): columns
#: ``Scale``, ``Dataset``, ``Name``, ``Y-PSNR``, ``1 MP (s)``.
SHIPPED_TABLE = WEIGHTS_DIR.parent / "shipped.csv"


def default_model(scale: int, robust: bool = True) -> str:
    """The default model of ``upscale`` (``robust``: weights trained on realistic degradations if
    any is shipped) and ``evaluate``: the shipped model with the best Set5 Y-PSNR in
    :data:`SHIPPED_TABLE` among those under :data:`DEFAULT_MAX_SECONDS_PER_MEGAPIXEL` (else of
    all); ``srresnet`` if none is shipped."""
    shipped = shipped_models(scale)
    robust_ones = [name for name in shipped if name.endswith(ROBUST_SUFFIX)]
    others = [name for name in shipped if name not in robust_ones]
    shipped = (robust_ones or shipped) if robust else (others or shipped)
    if not shipped:
        return "srresnet"
    if SHIPPED_TABLE.is_file():
        import pandas as pd

        table = pd.read_csv(SHIPPED_TABLE).query("Scale == @scale and Dataset == 'Set5'")
        table = table[table["Name"].isin(shipped)]
        fast = table[table["1 MP (s)"] < DEFAULT_MAX_SECONDS_PER_MEGAPIXEL]
        table = fast if len(fast) else table
        if len(table):
            return str(table.loc[table["Y-PSNR"].idxmax(), "Name"])
    return shipped[-1]


def load_model(name: str, scale: int, weights=None, precision: str = "float32") -> keras.Model:
    """Loads a trained model from ``weights`` (``.keras`` or ``.weights.h5``; default the shipped
    ones), rebuilt under the ``precision`` policy whatever it was saved in. SRKerasError if the
    file is missing or does not fit the model; ValueError for an unknown ``name``."""
    architecture, residual = architecture_of(name)
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
    with precision_module.policy(precision):
        twin = models.build(architecture, scale, global_residual=residual)
    _check_architecture(model, twin, path, name)
    twin.set_weights(model.get_weights())
    return twin


def _weight_shapes(model: keras.Model) -> list[tuple]:
    residual = any(layer.name == "global_residual" for layer in model.layers)
    return [residual, *(tuple(weight.shape) for weight in model.weights)]


def _check_architecture(model: keras.Model, expected: keras.Model, path: Path, name: str) -> None:
    """Refuses a file holding another architecture, naming it and the ``--model`` to use."""
    if _weight_shapes(model) == _weight_shapes(expected):
        return
    held = re.sub(r"_\d+$", "", model.name)  # Keras numbers models with the same name
    if held == name:
        raise SRKerasError(
            f"{path} holds a {name} model that differs from the one this version builds; "
            "retrain it with this version"
        )
    try:
        architecture_of(held)
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


def traced_model(model: keras.Model):
    """The model as a ``tf.function`` of ``(1, h, w, C)`` float32 tensors, traced once for all
    sizes, with a float32 output."""
    channels = model.input_shape[-1]

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32)])
    def run(batch):
        return tf.cast(model(batch, training=False), tf.float32)

    return run


def model_function(model: keras.Model) -> ArrayFunction:
    """The model as an :data:`ArrayFunction` (NumPy in and out; :func:`traced_model`)."""
    run = traced_model(model)
    return lambda batch: run(tf.convert_to_tensor(batch, tf.float32)).numpy()


def self_ensemble(function: ArrayFunction) -> ArrayFunction:
    """Averages a batch function over the 8 flips and quarter turns (EDSR's "+"); 8x the compute."""

    def ensembled(batch: np.ndarray) -> np.ndarray:
        total = None
        for flip in ((), (2,)):  # no flip, then left-right
            for turns in range(4):
                turned = np.ascontiguousarray(np.rot90(np.flip(batch, flip), turns, axes=(1, 2)))
                output = np.flip(np.rot90(function(turned), -turns, axes=(1, 2)), flip)
                total = output.astype(np.float64) if total is None else total + output
        return (total / 8).astype(np.float32)

    return ensembled


def model_predictor(model, scale: int, tile=0, overlap=32, ensemble=False, multiple=4) -> Predictor:
    """A model's :data:`Predictor` in ``tile`` x ``tile`` LR pieces (0: whole images)."""
    function = self_ensemble(model_function(model)) if ensemble else model_function(model)
    return lambda lr: predict_tiled(function, lr, scale, tile, overlap, multiple) * 255.0


def predictor(
    name: str, scale: int, weights=None, tile=0, overlap=32, ensemble=False, precision="auto"
) -> tuple[Predictor, int]:
    """``(predictor, parameters)`` of a baseline (0 parameters) or a trained model."""
    if name in BASELINES:
        return baseline_predictor(name, scale), 0
    model = load_model(name, scale, weights, precision)
    predict = model_predictor(model, scale, tile, overlap, ensemble, tile_multiple(name))
    return predict, model.count_params()


def activation_bytes(model: keras.Model, side: int = 12) -> float:
    """Estimated bytes per LR pixel: 4x the largest activation (a convolution's input and output,
    a skip connection, the backend's scratch space)."""
    probe = keras.Model(model.input, [layer.output for layer in model.layers[1:]])
    outputs = probe(np.zeros((1, side, side, model.input_shape[-1]), np.float32), training=False)
    largest = max(int(np.prod(output.shape[1:])) for output in outputs)
    return 4 * largest * 4 / side**2


def tile_multiple(name: str) -> int:
    """LR tile origins are kept on multiples of this (4, or the model's ``tile_multiple``)."""
    if name in BASELINES:
        return 4
    return models.MODELS[architecture_of(name)[0]].tile_multiple


def upscaling_function(
    name: str, scale: int, weights=None, ensemble=False, precision="auto"
) -> tuple[ArrayFunction, float]:
    """``(batch function on [0, 1] floats, working bytes per LR pixel)`` of a model or baseline."""
    if name in BASELINES:
        baseline = baseline_predictor(name, scale)

        def function(batch):
            return (baseline(batch[0] * 255.0) / 255.0)[None].astype(np.float32)

        working = 3 * 8 * 4 * scale**2
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
    """Upscales image files and folders into ``out_dir`` as ``<stem>_x<scale>.png``: outputs
    planned, the folder test-written, then the model loaded and each file written. ``tile`` (0:
    whole images) shrinks where one would need more than :data:`TILE_MEMORY` or a quarter of the
    free memory. Returns ``(written paths, notices of skipped files, error messages)``."""
    multiple = tile_multiple(name)  # a wrong name fails even when every output exists
    plan = plan_outputs(inputs, out_dir, scale, overwrite)
    if not plan.jobs:
        return [], plan.notices, plan.errors
    ensure_writable_folder(out_dir)
    function, working = upscaling_function(name, scale, weights, ensemble, precision)

    def run(image, tile_progress):
        if image.dtype not in (np.uint8, np.uint16):
            raise SRKerasError(f"{image.dtype} images are not supported")
        return upscale_image(function, image, scale, tile, overlap, tile_progress, multiple)

    budget = min(TILE_MEMORY, available_memory() / 4)
    tile = fit_tile(tile, overlap, working, budget, multiple)
    upscaler = Upscaler(run, scale, tile, overlap, working, multiple, (tf.errors.OpError,))
    return write_outputs(plan, upscaler, f"upscale x{scale} {name}", progress)
