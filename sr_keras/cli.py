"""The ``sr-keras`` command line (also ``python -m sr_keras``).

Subcommands: ``study`` (the main job), ``evaluate``, ``train``, ``upscale``, ``summary``,
``interpolate``, ``download``.
Errors caused by the input (missing folders, unreadable images, bad arguments) print one clear
message and exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# TensorFlow's C++ start-up lines (oneDNN, CUDA probing, a "CUDA error" without a GPU) are
# noise for users: hide its C++ logging below FATAL, and its gRPC logging, before it loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

#: Largest factor of ``sr-keras interpolate`` (x16 of a 1000x1000 photo is 768 MB already).
MAX_INTERPOLATION_SCALE = 16


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow without its start-up lines: some of its C++ libraries log before their
    logging is set up, where ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them (shown if it fails)."""
    if "tensorflow" in sys.modules:
        return
    from sr_keras.utils import quiet_native_stderr

    with quiet_native_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _interpolation_scale(text: str) -> int:
    value = int(text)
    if not 2 <= value <= MAX_INTERPOLATION_SCALE:
        raise argparse.ArgumentTypeError(
            f"scale must be an integer from 2 to {MAX_INTERPOLATION_SCALE}, got {value}"
        )
    return value


def _scale(text: str) -> int:
    value = int(text)
    if value not in (2, 3, 4):
        raise argparse.ArgumentTypeError(f"scale must be 2, 3 or 4, got {value}")
    return value


def _scales(text: str) -> list[int]:
    scales = [_scale(part) for part in text.split(",") if part.strip()]
    if not scales:
        raise argparse.ArgumentTypeError("give at least one scale, e.g. 2,3,4")
    return scales


def _names(values: list[str]) -> list[str]:
    return [name for value in values for name in value.split(",") if name]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all subcommands."""
    from sr_keras import __version__

    parser = argparse.ArgumentParser(
        prog="sr-keras",
        description="Single-image super-resolution in Keras: baselines, models, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"sr-keras {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    study = commands.add_parser(
        "study",
        help="run the study end to end (main job): baselines, the four models, comparison",
        description="Evaluate the interpolation baselines at each scale, train the deck's four "
        "models (deck version and global-residual variant), evaluate them with the standard "
        "protocol and write tables and figures. Quick mode (default) trains a few steps on the "
        "embedded sample (results under runs/quick/results); --full runs the real study "
        "(results into --out).",
    )
    study.add_argument(
        "--full",
        action="store_const",
        const="full",
        dest="mode",
        help="the real study (also SR_KERAS_MODE=full); default: quick",
    )
    study.add_argument("--mode", choices=["quick", "full"], default=None, help=argparse.SUPPRESS)
    study.add_argument(
        "--data",
        action="append",
        default=None,
        help="baseline sources: 'sample', a DIV2K root or a folder of HR images; repeat for "
        "several (default: sample, plus Set5 and Set14 in full mode when present)",
    )
    study.add_argument(
        "--train-data",
        default=None,
        help="training source of the full mode: a DIV2K root or a folder of HR images "
        "(default: SR_KERAS_DATA or ../shared/data/BSDS500)",
    )
    study.add_argument(
        "--models",
        default="srcnn,srresnet_lite,srresnet,sr_autoencoder,espcn,edsr_baseline",
        help="comma-separated models to train, each as itself and with the global residual "
        "(default: the deck's four and the two sub-pixel models)",
    )
    study.add_argument("--baselines-only", action="store_true", help="skip the models")
    study.add_argument(
        "--self-ensemble",
        action="store_true",
        help="add each model's gain from the 8-way self-ensemble to the comparison "
        "(8x the evaluation time)",
    )
    study.add_argument("--scales", type=_scales, default=[2, 3, 4], help="e.g. 2,3,4 (default)")
    study.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    study.add_argument("--split", default="valid", choices=["train", "valid"])
    _add_precision_argument(study)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure methods on a dataset with the standard protocol",
        description="Per-image and mean Y-PSNR, Y-SSIM, RGB PSNR, MSE and time per image.",
    )
    evaluate.add_argument(
        "--model",
        action="append",
        required=True,
        help="a model (srcnn, srresnet, srresnet_lite, sr_autoencoder, espcn, edsr_baseline, rfdn; "
        "suffix _gr for the global-residual variant) or a baseline "
        "(nearest, bilinear, bicubic = MATLAB a=-0.5, bicubic_opencv = a=-0.75); repeat or "
        "comma-separate for a comparison table",
    )
    evaluate.add_argument(
        "--weights",
        action="append",
        default=[],
        help="weights (.keras) of each model, in the order of --model (baselines take none); "
        "default: the project's trained weights in results/weights",
    )
    evaluate.add_argument(
        "--dataset", required=True, help="folder of HR images, a DIV2K root, or 'sample'"
    )
    evaluate.add_argument("--scale", type=_scale, default=4)
    evaluate.add_argument("--split", default="valid", choices=["train", "valid"])
    evaluate.add_argument(
        "--crop-border",
        type=_non_negative,
        default=None,
        help="pixels shaved per side (default: scale)",
    )
    evaluate.add_argument("--csv", type=Path, default=None, help="write the table as CSV")
    evaluate.add_argument("--markdown", action="store_true", help="print Markdown tables")
    evaluate.add_argument(
        "--report",
        type=Path,
        default=None,
        help="write the deck-style comparison table (Name | Parameters | Loss (MSE) | PSNR | "
        "Time, plus Y-PSNR and Y-SSIM) to REPORT.csv and REPORT.md",
    )
    evaluate.add_argument(
        "--tile",
        type=_non_negative,
        default=0,
        help="LR tile side for model inference (0: whole image)",
    )
    evaluate.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average each model over the 8 flips/rotations (EDSR's '+'; 8x slower)",
    )
    evaluate.add_argument(
        "--overwrite", action="store_true", help="replace existing --csv/--report files"
    )
    evaluate.add_argument(
        "--degradation",
        default="bicubic",
        metavar="NAME",
        help="how LR images are made from HR: bicubic (default: the protocol, MATLAB, "
        "antialiased), cv2_cubic, cv2_linear, cv2_area, cv2_nearest (OpenCV resize), jpeg75, "
        "noise5 (the protocol's LR as JPEG at quality 75, or with Gaussian noise of sigma 5)",
    )
    _add_precision_argument(evaluate)

    train = commands.add_parser(
        "train",
        help="train a model (resumes a killed run when re-run with the same arguments)",
        description="Train with model.fit: Adam with a schedule, validation Y-PSNR on whole "
        "images each epoch, best/last checkpoints, CSV log, BackupAndRestore.",
    )
    _add_train_arguments(train)

    summary = commands.add_parser(
        "summary",
        help="print a model's layer table as on the slide, with the total parameter count",
    )
    summary.add_argument("--model", required=True)
    summary.add_argument("--scale", type=_scale, default=4)
    summary.add_argument("--keras", action="store_true", help="print Keras' model.summary()")

    upscale = commands.add_parser(
        "upscale",
        help="upscale your own images with a trained model",
        description="Upscale files or folders; large images run in tiles with bounded memory. "
        "Grayscale stays grayscale, RGBA keeps its alpha, 16-bit stays 16-bit.",
    )
    upscale.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    upscale.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    upscale.add_argument(
        "--model",
        default=None,
        help="a model (srcnn, srresnet, srresnet_lite, sr_autoencoder, espcn, edsr_baseline, rfdn; "
        "suffix _gr for the global-residual variant) or a baseline; default: the shipped model "
        "with the best Set5 Y-PSNR",
    )
    upscale.add_argument("--scale", type=_scale, default=4)
    upscale.add_argument("--weights", type=Path, default=None)
    upscale.add_argument(
        "--tile",
        type=_non_negative,
        default=256,
        help="largest LR tile side in pixels, smaller where one tile of the model would need "
        "more than 768 MB (0: no tiling)",
    )
    upscale.add_argument(
        "--overlap", type=_non_negative, default=32, help="LR context per tile side"
    )
    upscale.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average over the 8 flips/rotations (8x slower, usually a little sharper)",
    )
    upscale.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs (default: skip them, so that a rerun resumes)",
    )
    _add_precision_argument(upscale)

    export = commands.add_parser(
        "export",
        help="export a trained model to SavedModel, TFLite or ONNX (dynamic image size)",
        description="Export a model for serving and check it: the exported file is run with "
        "its own runtime on random images of two sizes and compared with Keras (limit: max "
        "abs difference 1e-4 on [0, 1] images).",
    )
    export.add_argument(
        "--model",
        required=True,
        help="a model (srcnn, ..., edsr_baseline, rfdn; suffix _gr: the global-residual variant)",
    )
    export.add_argument("--scale", type=_scale, default=4)
    export.add_argument(
        "--weights", type=Path, default=None, help="default: the shipped weights of the model"
    )
    export.add_argument("--format", required=True, choices=["saved_model", "tflite", "onnx"])
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="a directory (saved_model), a .tflite or .onnx file",
    )
    export.add_argument(
        "--no-check", action="store_true", help="skip the parity check against Keras"
    )
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing export at -o (never a folder that holds anything else)",
    )

    interpolate = commands.add_parser(
        "interpolate",
        help="upscale image files with nearest, bilinear or bicubic interpolation",
        description="Upscale images by an integer factor. Bicubic is OpenCV's kernel "
        "(a = -0.75), as in the deck. Channels and bit depth are kept.",
    )
    interpolate.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    interpolate.add_argument(
        "-o", "--output", type=Path, required=True, help="output file (one input) or folder"
    )
    interpolate.add_argument(
        "--method", default="bicubic", choices=["nearest", "bilinear", "bicubic"]
    )
    interpolate.add_argument(
        "--scale", type=_interpolation_scale, default=4, help="2 to 16 (default 4)"
    )
    interpolate.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs (default: refuse an output file, skip existing outputs "
        "in an output folder so that a rerun resumes)",
    )

    download = commands.add_parser(
        "download",
        help="download a dataset (DIV2K) in its official layout",
        description="Download, verify and extract DIV2K; resumes broken downloads and skips "
        "what is already there.",
    )
    download.add_argument("dataset", choices=["div2k"])
    from sr_keras import download as download_module

    download_module.add_arguments(download)
    return parser


def _add_precision_argument(parser: argparse.ArgumentParser) -> None:
    from sr_keras.precision import PRECISIONS

    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): bfloat16 compute where the CPU (avx512_bf16, amx_bf16) or GPU "
        "(compute capability 8.0+) runs it natively, else float32",
    )


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    from sr_keras.config import DEGRADATIONS, LOSSES, SCHEDULES, TrainConfig

    defaults = TrainConfig()
    parser.add_argument("--model", required=True)
    parser.add_argument("--scale", type=_scale, default=defaults.scale)
    parser.add_argument(
        "--data",
        default=defaults.data,
        help="'sample' (default), a DIV2K root or a folder of HR images",
    )
    parser.add_argument(
        "--val-data",
        default=None,
        help="validation source (default: the valid split of --data, or the same folder)",
    )
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=defaults.steps_per_epoch)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--patch-size", type=int, default=defaults.patch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule)
    parser.add_argument("--loss", choices=list(LOSSES), default=defaults.loss)
    parser.add_argument(
        "--degradation",
        choices=DEGRADATIONS,
        default=defaults.degradation,
        help="training LR: bicubic (default: the protocol's) or realistic (random blur, "
        "kernels, noise, JPEG); validation always uses the protocol's",
    )
    parser.add_argument(
        "--global-residual",
        action="store_true",
        help="add the bicubic input to the output (not in the deck; zero extra parameters)",
    )
    _add_precision_argument(parser)
    parser.add_argument(
        "--ema",
        type=float,
        default=None,
        help="validate and save a moving average of the weights with this momentum (e.g. 0.999)",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        help="start from a .keras file's weights (layers whose names and shapes match)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--cache", default="ram", help="'ram' (default), 'none' or a cache file path"
    )
    parser.add_argument("--val-center-crop", type=int, default=None)
    parser.add_argument("--tensorboard", action="store_true")
    parser.add_argument("--verbose", type=int, default=None, help="1: progress bar, 2: a line")


def _run_train(args) -> int:
    from sr_keras.train import TrainConfig, train

    cache = {"ram": True, "none": False}.get(args.cache, args.cache)
    config = TrainConfig(
        model=args.model,
        scale=args.scale,
        data=args.data,
        val_data=args.val_data,
        out=args.out,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        patch_size=args.patch_size,
        learning_rate=args.learning_rate,
        schedule=args.schedule,
        loss=args.loss,
        degradation=args.degradation,
        global_residual=args.global_residual,
        precision=args.precision,
        ema=args.ema,
        init_from=args.init_from,
        seed=args.seed,
        cache=cache,
        val_center_crop=args.val_center_crop,
        tensorboard=args.tensorboard,
    )
    verbose = args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2)
    _, log = train(config, verbose=verbose)
    best = log["val_psnr"].max()
    print(f"done: best validation Y-PSNR {best:.2f} dB; weights in {args.out}/best.keras")
    return 0


def _run_summary(args) -> int:
    from sr_keras import models

    if args.keras:
        models.build(args.model, args.scale).summary()
        return 0
    table = models.layer_table(args.model, args.scale)
    print(f"{args.model} (x{args.scale}): {models.MODELS[args.model].description}")
    print(table.to_string(index=False))
    return 0


def _run_upscale(args) -> int:
    from sr_keras.inference import default_model, upscale_files
    from sr_keras.precision import resolve

    model = args.model or default_model(args.scale)
    print(f"model: {model} (x{args.scale}, {resolve(args.precision)})")
    written, notices, errors = upscale_files(
        args.inputs,
        args.output,
        model,
        args.scale,
        weights=args.weights,
        tile=args.tile,
        overlap=args.overlap,
        ensemble=args.self_ensemble,
        overwrite=args.overwrite,
        precision=args.precision,
    )
    return _report_batch(written, notices, errors)


def _report_batch(written: list, notices: list[str], errors: list[str]) -> int:
    """Prints what a batch command did; 1 if some files failed."""
    for message in notices:
        print(message)
    for path in written:
        print(f"wrote {path}")
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} of {len(written) + len(errors)} files failed", file=sys.stderr)
    return 1 if errors else 0


def _run_export(args) -> int:
    from sr_keras import export
    from sr_keras.inference import load_model
    from sr_keras.utils import ensure_writable_folder

    export.check_export_path(args.output, args.format, args.overwrite)  # before any work
    ensure_writable_folder(args.output.parent)
    model = load_model(args.model, args.scale, args.weights)
    path = export.export_model(model, args.output, args.format, overwrite=args.overwrite)
    print(f"wrote {path} ({args.format}, {args.model} x{args.scale}, any image size)")
    if args.no_check:
        return 0
    difference = export.parity(model, export.load_exported(path, args.format))
    verdict = "ok" if difference <= export.PARITY_TOLERANCE else "FAILED"
    print(
        f"parity with Keras: max abs difference {difference:.2e} "
        f"(limit {export.PARITY_TOLERANCE:.0e}): {verdict}"
    )
    return 0 if verdict == "ok" else 1


def _run_study(args) -> int:
    from sr_keras.evaluate import format_table
    from sr_keras.study import run_study

    settings = None
    if not args.baselines_only or not args.data:
        from sr_keras.experiment import study_settings

        settings = study_settings(args.mode, data=args.train_data, precision=args.precision)
        if not settings.quick:
            settings.results_dir = args.out
    sources = args.data or list(dict.fromkeys(["sample", *settings.benchmarks]))
    table = run_study(sources, args.scales, args.out, split=args.split)
    print(format_table(table))
    print(f"\nwrote {args.out}/baselines_<dataset>.md and .csv, figures in {args.out}/figures")
    if args.baselines_only:
        return 0
    from sr_keras import experiment

    names = _names([args.models])
    verbose = 1 if sys.stdout.isatty() else 2
    for name in names:
        for residual in (False, True):
            print(
                f"\ntraining {experiment.run_name(name, settings.scale, residual)} "
                f"({settings.mode} mode, data: {settings.data})"
            )
            experiment.train_model(settings, name, residual, verbose=verbose)
    trained = experiment.all_trained(settings)
    comparison = experiment.evaluate_models(settings, trained, self_ensemble=args.self_ensemble)
    experiment.write_table(
        settings,
        comparison,
        "comparison",
        f"# Comparison of the deck's models (x{settings.scale}, standard protocol)\n\n"
        f"Produced by `sr-keras study{' --full' if not settings.quick else ''}`; training data: "
        f"{settings.data}.",
    )
    experiment.save(settings, experiment.outputs_figure(settings, trained), "comparison.png")
    print(comparison.to_string(index=False))
    print(f"\nwrote {settings.results_dir}/comparison.md and figures in {settings.figures_dir}")
    return 0


def _run_evaluate(args) -> int:
    import pandas as pd

    from sr_keras.evaluate import BASELINES, comparison_table, evaluate, format_table, write_csv
    from sr_keras.inference import predictor
    from sr_keras.utils import (
        atomic_write_text,
        check_output,
        ensure_writable_folder,
        remove_stale_temp_files,
    )

    models = _names(args.model)
    trained = [name for name in models if name not in BASELINES]
    if len(args.weights) > len(trained):
        raise ValueError(
            f"--weights was given {len(args.weights)} times for {len(trained)} trained models"
        )
    outputs = [args.csv] if args.csv else []
    if args.report:
        outputs += [args.report.with_suffix(".csv"), args.report.with_suffix(".md")]
    for output in outputs:  # before any work: refused if it exists, folder test-written
        check_output(output, args.overwrite)
        ensure_writable_folder(output.parent)
        remove_stale_temp_files(output)
    # Pair weights with the trained models in order; a model named twice gets labels from its
    # weights files so both rows stay in the table.
    weights = list(args.weights) + [None] * (len(trained) - len(args.weights))
    runs, trained_index = [], 0
    for model in models:
        path = None
        if model not in BASELINES:
            path, trained_index = weights[trained_index], trained_index + 1
        label = model
        if models.count(model) > 1:
            label = f"{model} ({Path(path).stem if path else len(runs) + 1})"
        runs.append((label, model, path))
    tables, parameters = {}, {}
    where = f"x{args.scale}, {args.dataset}, LR {args.degradation}"
    for label, model, path in runs:
        predict, parameters[label] = predictor(
            model,
            args.scale,
            path,
            tile=args.tile,
            ensemble=args.self_ensemble,
            precision=args.precision,
        )
        table = evaluate(
            predict,
            args.dataset,
            args.scale,
            split=args.split,
            crop_border=args.crop_border,
            description=label,
            degradation=args.degradation,
        )
        tables[label] = table
        print(f"\n{label}, {where}, {parameters[label]:,} parameters")
        print(format_table(table, markdown=args.markdown))
    summary = comparison_table(tables, parameters)
    if len(models) > 1:
        print(f"\ncomparison (means), {where}")
        print(summary.to_markdown(index=False) if args.markdown else summary.to_string(index=False))
    if args.csv:
        if len(models) == 1:
            combined = next(iter(tables.values()))
        else:
            combined = pd.concat(
                [table.assign(model=name) for name, table in tables.items()], ignore_index=True
            )
            combined = combined[["model", *next(iter(tables.values())).columns]]
        write_csv(combined, args.csv)
        print(f"\nwrote {args.csv}")
    if args.report:
        write_csv(summary, args.report.with_suffix(".csv"))
        atomic_write_text(args.report.with_suffix(".md"), summary.to_markdown(index=False) + "\n")
        print(f"wrote {args.report.with_suffix('.csv')} and {args.report.with_suffix('.md')}")
    return 0


def _run_interpolate(args) -> int:
    from sr_keras.images import OutputPlan, plan_outputs
    from sr_keras.upscaling import interpolation_upscaler, write_outputs
    from sr_keras.utils import check_output, ensure_writable_folder

    single = len(args.inputs) == 1 and args.output.suffix != "" and not args.inputs[0].is_dir()
    if single:  # one output file: refused if it exists (or is the input)
        check_output(args.output, args.overwrite, inputs=args.inputs)
        plan = OutputPlan(jobs=[(args.inputs[0], args.output)])
    else:  # an output folder: existing outputs skipped, so that a rerun resumes
        plan = plan_outputs(args.inputs, args.output, args.scale, args.overwrite)
    written, errors = [], []
    if plan.jobs:
        ensure_writable_folder(args.output.parent if single else args.output)
        upscaler = interpolation_upscaler(args.scale, args.method)
        description = f"interpolate x{args.scale} {args.method}"
        written, errors = write_outputs(plan.jobs, upscaler, description, progress=not single)
    return _report_batch(written, plan.notices, plan.errors + errors)


def _run_download(args) -> int:
    from sr_keras import download

    return download.run_from_args(args)


COMMANDS = {
    "study": _run_study,
    "evaluate": _run_evaluate,
    "interpolate": _run_interpolate,
    "download": _run_download,
    "train": _run_train,
    "summary": _run_summary,
    "upscale": _run_upscale,
    "export": _run_export,
}


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 some files failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # TensorFlow's Python warnings (e.g. "triggered tf.function retracing" when several models
    # are traced in one run) are noise for command-line users.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if args.command not in ("interpolate", "download"):
        _import_tensorflow_quietly()
    from sr_keras.images import SRKerasError

    try:
        return COMMANDS[args.command](args)
    except (SRKerasError, ValueError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"sr-keras {args.command}: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"sr-keras {args.command}: error: out of memory", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
