"""The ``sr-keras`` command line (also ``python -m sr_keras``): errors in the input (missing
folders, unreadable images, bad arguments) print one line and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import os
import re
import sys
from pathlib import Path

from sr_keras import __version__, utils
from sr_keras.config import CHOICES, TrainConfig
from sr_keras.precision import PRECISIONS, resolve

# TensorFlow's C++ start-up lines (oneDNN, CUDA probing, a "CUDA error" without a GPU) are
# noise for users: hide its C++ logging below FATAL, and its gRPC logging, before it loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

#: Largest factor of ``sr-keras interpolate`` (x16 of a 1000x1000 photo is 768 MB already).
MAX_INTERPOLATION_SCALE = 16


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow without its C++ start-up lines (shown if the import fails)."""
    with utils.quiet_native_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def _integer(allowed, message: str):
    def parse(text: str) -> int:
        value = int(text)
        if not allowed(value):
            raise argparse.ArgumentTypeError(message.format(value))
        return value

    return parse


_non_negative = _integer(lambda value: value >= 0, "must be 0 or more, got {}")
_scale = _integer(lambda value: value in (2, 3, 4), "scale must be 2, 3 or 4, got {}")
_interpolation_scale = _integer(
    lambda value: 2 <= value <= MAX_INTERPOLATION_SCALE,
    f"scale must be an integer from 2 to {MAX_INTERPOLATION_SCALE}, got {{}}",
)


def _scales(text: str) -> list[int]:
    scales = [_scale(part) for part in text.split(",") if part.strip()]
    if not scales:
        raise argparse.ArgumentTypeError("give at least one scale, e.g. 2,3,4")
    return scales


def _names(values: list[str]) -> list[str]:
    return [name for value in values for name in value.split(",") if name]


def _cache(text: str) -> bool | str:
    return {"ram": True, "none": False}.get(text, text)


def _registry() -> list[str]:
    """The registered models' names (imports TensorFlow)."""
    _import_tensorflow_quietly()
    from sr_keras.models import available_models

    return available_models()


def _model_help(baselines: bool = True) -> str:
    from sr_keras.inference import BASELINES

    text = f"a model ({', '.join(_registry())}; suffix _gr: the global-residual variant, then "
    text += "_realistic: its weights trained on realistic degradations)"
    return text + (f" or a baseline ({', '.join(BASELINES)})" if baselines else "")


def _precision(parser: argparse.ArgumentParser, default: str | None = "auto") -> None:
    # fmt: off
    parser.add_argument("--precision", choices=PRECISIONS, default=default, help="auto "
        "(default): bfloat16 compute where the CPU (avx512_bf16, amx_bf16) or GPU (compute "
        "capability 8.0+) runs it natively, else float32" + ("" if default else "; the plain "
        "study evaluates the shipped models in float32, as the published table"))
    # fmt: on


def _options(args, *dropped: str) -> dict:
    """The parsed arguments as keyword arguments, without the command and ``dropped``."""
    return {k: v for k, v in vars(args).items() if k not in ("command", "run", *dropped)}


def _add_study(parser: argparse.ArgumentParser) -> None:
    add, modes = parser.add_argument, parser.add_mutually_exclusive_group()
    mode = dict(action="store_const", dest="mode", default=os.environ.get("SR_KERAS_MODE"))
    # fmt: off
    modes.add_argument("--full", const="full", **mode, help="the real study: train each model "
        "with its recipe on --train-data, evaluate on Set5/Set14, write results/ (also "
        "SR_KERAS_MODE=full)")
    modes.add_argument("--quick-train", const="quick", **mode, help="a smoke run: train each "
        "model a few steps on the sample (its numbers say nothing about the models)")
    add("--data", action="append", help="baseline sources: 'sample' (default; with --full also "
        "Set5 and Set14 when present), a DIV2K root or a folder of HR images; repeatable")
    add("--train-data", help="training source of --full: a DIV2K root or a folder of HR images "
        "(default: SR_KERAS_DATA or ../shared/data/BSDS500)")
    add("--models", type=lambda text: _names([text]), help="comma-separated architectures, each "
        "as itself and with the global residual (default: all shipped, or all with a recipe)")
    add("--baselines-only", action="store_true", help="skip the models")
    add("--self-ensemble", action="store_true", help="add each model's gain from the 8-way "
        "self-ensemble (8x the evaluation time)")
    add("--scales", type=_scales, default=[2, 3, 4], help="baseline scales (default 2,3,4)")
    add("--out", type=Path, help="results folder (default: runs/study, runs/quick/results with "
        "--quick-train, results with --full)")
    add("--split", default="valid", choices=["train", "valid"])
    # fmt: on
    _precision(parser, default=None)


def _run_study(args) -> int:
    """the study on the sample photos: baselines, the shipped models, figures (--full: train)

    Interpolation baselines and the shipped models on the sample photos (standard protocol),
    the side-by-side figure and one photo upscaled by the default model, into runs/study."""
    from sr_keras import study

    study.run(**_options(args, "mode"), mode=args.mode or "shipped")
    return 0


def _add_evaluate(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    # fmt: off
    add("--model", action="append", help=_model_help() + "; repeat or comma-separate for a "
        "comparison table (default: the best shipped model at --scale under 2 s per megapixel)")
    add("--weights", action="append", default=[], help="weights (.keras) of each model, in the "
        "order of --model (baselines take none; default: the shipped ones)")
    add("--dataset", required=True, help="folder of HR images, a DIV2K root, or 'sample'")
    add("--scale", type=_scale, default=4)
    add("--split", default="valid", choices=["train", "valid"])
    add("--crop-border", type=_non_negative, help="pixels shaved per side (default: scale)")
    add("--csv", type=Path, help="write the table as CSV")
    add("--markdown", action="store_true", help="print Markdown tables")
    add("--report", type=Path, help="write the deck-style comparison table (Name | Parameters | "
        "Loss (MSE) | PSNR | Time, plus Y-PSNR and Y-SSIM) to REPORT.csv and REPORT.md")
    add("--tile", type=_non_negative, default=0, help="LR tile side for models (0: whole image)")
    add("--self-ensemble", action="store_true", help="average each model over the 8 "
        "flips/rotations (EDSR's '+'; 8x slower)")
    add("--overwrite", action="store_true", help="replace existing --csv/--report files")
    add("--degradation", default="bicubic", metavar="NAME", help="how LR images are made from "
        "HR: bicubic (default: the protocol, MATLAB, antialiased), cv2_cubic, cv2_linear, "
        "cv2_area, cv2_nearest (OpenCV resize), jpeg75, noise5 (the protocol's LR as JPEG at "
        "quality 75, or with Gaussian noise of sigma 5)")
    # fmt: on
    _precision(parser)


def _run_evaluate(args) -> int:
    """measure methods on a dataset with the standard protocol

    Per-image and mean Y-PSNR, Y-SSIM, RGB PSNR, MSE and time per image."""
    from sr_keras.evaluate import evaluate_named
    from sr_keras.inference import default_model

    names = _names(args.model or [default_model(args.scale, robust=False)])
    evaluate_named(names, **_options(args, "model"))
    return 0


def _field_helps(cls) -> dict[str, str]:
    """Attribute name -> its text in a Google-style class docstring."""
    helps, name = {}, None
    for line in inspect.cleandoc(cls.__doc__).split("Attributes:")[1].splitlines():
        if match := re.match(r" {4}(\w+): (.*)", line):
            name, helps[match[1]] = match[1], match[2]
        elif name and line.strip():
            helps[name] += " " + line.strip()
    return {name: text.replace("%", "%%") for name, text in helps.items()}


def _add_train(parser: argparse.ArgumentParser) -> None:
    """One flag per field of :class:`sr_keras.config.TrainConfig` (help from its docstring)."""
    helps = _field_helps(TrainConfig)
    overrides = {
        "model": dict(required=True, choices=_registry()),
        "out": dict(required=True),
        "scale": dict(type=_scale),
        "cache": dict(type=_cache, default="ram"),
    }
    for field in dataclasses.fields(TrainConfig):
        options = dict(default=field.default, help=helps[field.name].replace("``", ""))
        if field.type == "bool":
            options["action"] = "store_true"
        else:
            kind = int if "int" in field.type else float if "float" in field.type else str
            options.update(type=kind, choices=CHOICES.get(field.name))
        options.update(overrides.get(field.name, {}))
        if options.get("default") not in (None, False) and not options.get("required"):
            options["help"] += " (default: %(default)s)"
        parser.add_argument(f"--{field.name.replace('_', '-')}", **options)
    verbose = dict(type=int, default=1 if sys.stdout.isatty() else 2)
    parser.add_argument("--verbose", **verbose, help="1: progress bar, 2: a line per epoch")


def _run_train(args) -> int:
    """train a model (resumes a killed run when re-run with the same arguments)

    Keras' fit: Adam with a schedule, validation Y-PSNR each epoch, best/last weights, CSV log."""
    from sr_keras.train import train

    _, log = train(TrainConfig(**_options(args, "verbose")), verbose=args.verbose)
    best = log["val_psnr"].max()
    print(f"done: best validation Y-PSNR {best:.2f} dB; weights in {args.out}/best.keras")
    return 0


def _add_summary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=_registry())
    parser.add_argument("--scale", type=_scale, default=4)
    parser.add_argument("--keras", action="store_true", help="print Keras' model.summary()")


def _run_summary(args) -> int:
    """print a model's layer table as on the slide, with the total parameter count"""
    from sr_keras import models

    if args.keras:
        models.build(args.model, args.scale).summary()
    else:
        print(f"{args.model} (x{args.scale}): {models.MODELS[args.model].description}")
        print(models.layer_table(args.model, args.scale).to_string(index=False))
    return 0


def _add_upscale(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    # fmt: off
    add("inputs", nargs="+", type=Path, help="image files or folders")
    add("-o", "--output", type=Path, required=True, help="output folder")
    add("--model", help=_model_help() + "; default: the best shipped model at --scale under 2 s "
        "per megapixel, trained on realistic degradations where one is shipped")
    add("--scale", type=_scale, default=4)
    add("--weights", type=Path)
    add("--tile", type=_non_negative, default=256, help="largest LR tile side in pixels, "
        "smaller where one tile of the model would need more than 768 MB (0: no tiling)")
    add("--overlap", type=_non_negative, default=32, help="LR context per tile side")
    add("--self-ensemble", action="store_true", dest="ensemble", help="average over the 8 "
        "flips/rotations (8x slower, usually a little sharper)")
    add("--overwrite", action="store_true", help="replace existing outputs (default: skip them, "
        "so that a rerun resumes)")
    # fmt: on
    _precision(parser)


def _run_upscale(args) -> int:
    """upscale your own images with a trained model

    Large images run in tiles (bounded memory); gray, RGBA and 16-bit images keep their kind."""
    from sr_keras.inference import default_model, upscale_files

    model = args.model or default_model(args.scale)
    print(f"model: {model} (x{args.scale}, {resolve(args.precision)})")
    options = _options(args, "inputs", "output", "model", "scale")
    return _report_batch(*upscale_files(args.inputs, args.output, model, args.scale, **options))


def _report_batch(written: list, notices: list[str], errors: list[str]) -> int:
    """Prints what a batch command did; 1 if some files failed."""
    for line in [*notices, *(f"wrote {path}" for path in written)]:
        print(line)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} of {len(written) + len(errors)} files failed", file=sys.stderr)
    return 1 if errors else 0


def _add_export(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    # fmt: off
    add("--model", required=True, help=_model_help(baselines=False))
    add("--scale", type=_scale, default=4)
    add("--weights", type=Path, help="default: the shipped weights of the model")
    add("--format", required=True, choices=["saved_model", "tflite", "onnx"])
    add("-o", "--output", type=Path, required=True, help="a directory (saved_model), a .tflite "
        "or .onnx file")
    add("--no-check", action="store_true", help="skip the parity check against Keras")
    add("--overwrite", action="store_true", help="replace an existing export at -o (never a "
        "folder that holds anything else)")
    # fmt: on


def _run_export(args) -> int:
    """export a trained model to SavedModel, TFLite or ONNX (dynamic image size)

    The export is run with its own runtime on random images of two sizes and compared with
    Keras (limit: max abs difference 1e-4 on [0, 1] images)."""
    from sr_keras import export
    from sr_keras.inference import load_model

    export.check_export_path(args.output, args.format, args.overwrite)  # before any work
    utils.ensure_writable_folder(args.output.parent)
    model = load_model(args.model, args.scale, args.weights)
    path = export.export_model(model, args.output, args.format, overwrite=args.overwrite)
    print(f"wrote {path} ({args.format}, {args.model} x{args.scale}, any image size)")
    if args.no_check:
        return 0
    difference = export.parity(model, export.load_exported(path, args.format))
    verdict = "ok" if difference <= export.PARITY_TOLERANCE else "FAILED"
    limit = f"limit {export.PARITY_TOLERANCE:.0e}"
    print(f"parity with Keras: max abs difference {difference:.2e} ({limit}): {verdict}")
    return 0 if verdict == "ok" else 1


def _add_interpolate(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    # fmt: off
    add("inputs", nargs="+", type=Path, help="image files or folders")
    add("-o", "--output", type=Path, required=True, help="output file (one input) or folder")
    add("--method", default="bicubic", choices=["nearest", "bilinear", "bicubic"])
    add("--scale", type=_interpolation_scale, default=4, help="2 to 16 (default 4)")
    add("--overwrite", action="store_true", help="replace existing outputs (default: refuse an "
        "output file, skip existing outputs in an output folder so that a rerun resumes)")
    # fmt: on


def _run_interpolate(args) -> int:
    """upscale image files with nearest, bilinear or bicubic interpolation

    Bicubic is OpenCV's kernel (a = -0.75), as in the deck; channels and bit depth are kept."""
    from sr_keras.upscaling import interpolate_files

    return _report_batch(*interpolate_files(**_options(args)))


def _add_download(parser: argparse.ArgumentParser) -> None:
    from sr_keras import download

    parser.add_argument("dataset", choices=["div2k"])
    download.add_arguments(parser)


def _run_download(args) -> int:
    """download a dataset (DIV2K) in its official layout

    Download, verify, extract; an interrupted download restarts, what is there is skipped."""
    from sr_keras import download

    return download.run_from_args(args)


#: Each command: (add its arguments, run it); the run's docstring is its help and description.
COMMANDS = {
    "study": (_add_study, _run_study),
    "evaluate": (_add_evaluate, _run_evaluate),
    "train": (_add_train, _run_train),
    "summary": (_add_summary, _run_summary),
    "upscale": (_add_upscale, _run_upscale),
    "export": (_add_export, _run_export),
    "interpolate": (_add_interpolate, _run_interpolate),
    "download": (_add_download, _run_download),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of all subcommands; given a ``command``, only that one gets its arguments
    (several import TensorFlow for the registry's model names; ``""``: none)."""
    parser = argparse.ArgumentParser(
        prog="sr-keras",
        description="Single-image super-resolution in Keras: baselines, models, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"sr-keras {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_arguments, run) in COMMANDS.items():
        summary, _, description = inspect.cleandoc(run.__doc__).partition("\n\n")
        subparser = commands.add_parser(name, help=summary, description=description or summary)
        if command in (None, name):
            add_arguments(subparser)
        subparser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 some files failed, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((word for word in argv if not word.startswith("-")), "")
    if command in COMMANDS and command not in ("interpolate", "download"):
        _import_tensorflow_quietly()  # before the parser, which lists the registry's models
    # TensorFlow's Python warnings (e.g. tf.function retracing of several models) are noise.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    args = build_parser(command if command in COMMANDS else "").parse_args(argv)
    try:
        return args.run(args)
    except (utils.SRKerasError, ValueError, OSError, MemoryError) as error:
        text = "out of memory" if isinstance(error, MemoryError) else str(error).strip()
        message = text.splitlines()[0] if text else repr(error)
        print(f"sr-keras {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # TensorFlow's runtime errors (out of memory...) without a trace
        if not type(error).__module__.startswith("tensorflow"):
            raise
        message = getattr(error, "message", str(error)).strip().splitlines()[0]
        print(f"sr-keras {args.command}: TensorFlow error: {message}", file=sys.stderr)
        if args.command == "upscale":
            print("try a smaller --tile", file=sys.stderr)
        return 2
