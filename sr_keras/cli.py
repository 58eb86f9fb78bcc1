"""The ``sr-keras`` command line (also ``python -m sr_keras``).

Subcommands: ``study`` (the main job), ``evaluate``, ``interpolate``, ``download``.
Errors caused by the input (missing folders, unreadable images, bad arguments) print one clear
message and exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _scale(text: str) -> int:
    value = int(text)
    if value not in (2, 3, 4):
        raise argparse.ArgumentTypeError(f"scale must be 2, 3 or 4, got {value}")
    return value


def _scales(text: str) -> list[int]:
    return [_scale(part) for part in text.split(",") if part]


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
        help="run the study end to end (main job): tables and figures into results/",
        description="Evaluate the interpolation baselines at each scale on one or more sources "
        "and write tables (CSV, Markdown) and figures.",
    )
    study.add_argument(
        "--data",
        action="append",
        default=None,
        help="source: 'sample' (default; photos shipped with scikit-image), a DIV2K root or a "
        "folder of HR images; repeat for several",
    )
    study.add_argument("--scales", type=_scales, default=[2, 3, 4], help="e.g. 2,3,4 (default)")
    study.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    study.add_argument("--split", default="valid", choices=["train", "valid"])

    evaluate = commands.add_parser(
        "evaluate",
        help="measure methods on a dataset with the standard protocol",
        description="Per-image and mean Y-PSNR, Y-SSIM, RGB PSNR, MSE and time per image.",
    )
    evaluate.add_argument(
        "--model",
        action="append",
        required=True,
        help="nearest, bilinear, bicubic (MATLAB a=-0.5) or bicubic_opencv (a=-0.75); "
        "repeat or comma-separate for a comparison table",
    )
    evaluate.add_argument(
        "--dataset", required=True, help="folder of HR images, a DIV2K root, or 'sample'"
    )
    evaluate.add_argument("--scale", type=_scale, default=4)
    evaluate.add_argument("--split", default="valid", choices=["train", "valid"])
    evaluate.add_argument(
        "--crop-border", type=int, default=None, help="pixels shaved per side (default: scale)"
    )
    evaluate.add_argument("--csv", type=Path, default=None, help="write the table as CSV")
    evaluate.add_argument("--markdown", action="store_true", help="print Markdown tables")

    interpolate = commands.add_parser(
        "interpolate",
        help="upscale image files with nearest, bilinear or bicubic interpolation",
        description="Upscale images by an integer factor. Bicubic is OpenCV's kernel "
        "(a = -0.75), as in the deck. Channels and bit depth are kept.",
    )
    interpolate.add_argument("inputs", nargs="+", type=Path, help="image files")
    interpolate.add_argument(
        "-o", "--output", type=Path, required=True, help="output file (one input) or folder"
    )
    interpolate.add_argument(
        "--method", default="bicubic", choices=["nearest", "bilinear", "bicubic"]
    )
    interpolate.add_argument("--scale", type=int, default=4)

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


def _run_study(args) -> int:
    from sr_keras.evaluate import format_table
    from sr_keras.study import run_study

    table = run_study(args.data or ["sample"], args.scales, args.out, split=args.split)
    print(format_table(table))
    print(
        f"\nwrote {args.out / 'baselines.md'}, {args.out / 'baselines.csv'} and figures in "
        f"{args.out / 'figures'}"
    )
    return 0


def _run_evaluate(args) -> int:
    import pandas as pd

    from sr_keras.evaluate import BASELINES, baseline_predictor, evaluate, format_table, write_csv

    models = _names(args.model)
    for model in models:
        if model not in BASELINES:
            raise ValueError(f"--model must be one of {', '.join(BASELINES)}, got {model!r}")
    tables = {}
    for model in models:
        table = evaluate(
            baseline_predictor(model, args.scale),
            args.dataset,
            args.scale,
            split=args.split,
            crop_border=args.crop_border,
            description=model,
        )
        tables[model] = table
        print(f"\n{model}, x{args.scale}, {args.dataset}")
        print(format_table(table, markdown=args.markdown))
    if len(models) > 1:
        summary = pd.DataFrame(
            [
                {"model": name, **table.iloc[-1].drop("image").to_dict()}
                for name, table in tables.items()
            ]
        )
        print(f"\ncomparison (means), x{args.scale}, {args.dataset}")
        print(format_table(summary, markdown=args.markdown))
    if args.csv:
        if len(models) == 1:
            combined = tables[models[0]]
        else:
            combined = pd.concat(
                [table.assign(model=name) for name, table in tables.items()], ignore_index=True
            )
            combined = combined[["model", *tables[models[0]].columns]]
        write_csv(combined, args.csv)
        print(f"\nwrote {args.csv}")
    return 0


def _run_interpolate(args) -> int:
    import numpy as np

    from sr_keras.images import SRKerasError, decode_raw, to_rgb_uint8, write_image
    from sr_keras.interpolation import interpolate

    single = len(args.inputs) == 1 and args.output.suffix != ""
    failures = []
    for path in args.inputs:
        try:
            image = decode_raw(path)
            if image.dtype not in (np.uint8, np.uint16):
                image = to_rgb_uint8(image, keep_alpha=True)
            upscaled = interpolate(image, args.scale, args.method)
            limit = np.iinfo(image.dtype).max
            result = np.clip(np.round(upscaled), 0, limit).astype(image.dtype)
            target = args.output if single else args.output / f"{path.stem}_x{args.scale}.png"
            write_image(target, result)
            print(f"{path} -> {target} ({result.shape[1]}x{result.shape[0]}, {args.method})")
        except SRKerasError as error:
            failures.append(str(error))
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    return 1 if failures else 0


def _run_download(args) -> int:
    from sr_keras import download

    return download.run_from_args(args)


COMMANDS = {
    "study": _run_study,
    "evaluate": _run_evaluate,
    "interpolate": _run_interpolate,
    "download": _run_download,
}


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 some files failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from sr_keras.images import SRKerasError

    try:
        return COMMANDS[args.command](args)
    except (SRKerasError, ValueError, FileNotFoundError) as error:
        print(f"sr-keras {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
