"""Benchmark: ``sr-keras upscale`` in bfloat16 against float32, end to end, in one run.

Upscales a batch of photos (the HR images of Set5 and Set14 as inputs, x4, the shipped
``edsr_baseline_gr`` by default) with ``--precision float32`` and ``--precision bfloat16``
through the command line, alternating the two ``--repeats`` times (fresh output folders), and
takes each one's best wall time; then evaluates the model on Set5 in both precisions with the
standard protocol. Writes the section "Precision" of ``results/benchmarks.md``.

Usage::

    python benchmarks/precision.py [--model edsr_baseline_gr] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "bfloat16")


def upscale_seconds(model: str, inputs: list[Path], precision: str) -> float:
    """Wall time of one ``sr-keras upscale`` process over ``inputs`` (start-up included)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "sr_keras", "upscale", *map(str, inputs), "-o", out]
        command += ["--model", model, "--precision", precision]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="edsr_baseline_gr")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.md")
    args = parser.parse_args(argv)

    from common import update_markdown_section

    from sr_keras.evaluate import evaluate
    from sr_keras.inference import predictor
    from sr_keras.utils import machine_description, shared_data_dir

    data = shared_data_dir()
    inputs = sorted((data / "Set5").glob("*.png")) + sorted((data / "Set14").glob("*.png"))
    pixels = sum(_pixels(path) for path in inputs)
    best = dict.fromkeys(PRECISIONS, float("inf"))
    for _ in range(args.repeats):
        for precision in PRECISIONS:
            best[precision] = min(best[precision], upscale_seconds(args.model, inputs, precision))
            print(f"{precision}: {best[precision]:.1f} s", flush=True)
    set5 = {}
    for precision in PRECISIONS:
        predict, _ = predictor(args.model, 4, precision=precision)
        set5[precision] = evaluate(predict, data / "Set5", 4, progress=False)["psnr_y"].iloc[-1]
    rows = [
        f"| {precision} | {best[precision]:.1f} | {pixels * 16 / 1e6 / best[precision]:.3f} | "
        f"{set5[precision]:.3f} |"
        for precision in PRECISIONS
    ]
    section = "\n".join(
        [
            f"`sr-keras upscale --model {args.model}` x4 over the {len(inputs)} HR images of Set5 "
            f"and Set14 as inputs ({pixels * 16 / 1e6:.1f} megapixels out), one process per run "
            f"(start-up, loading, tiling and PNG writing included), best of {args.repeats} "
            f"alternating runs; Set5 Y-PSNR by the standard protocol. Machine: "
            f"{machine_description()}. Command: `python benchmarks/precision.py`.",
            "",
            "| precision | wall (s) | output MP/s | Set5 Y-PSNR |",
            "| --- | ---: | ---: | ---: |",
            *rows,
            "",
            f"bfloat16 / float32: {best['float32'] / best['bfloat16']:.2f}x faster, "
            f"{set5['bfloat16'] - set5['float32']:+.3f} dB on Set5.",
        ]
    )
    update_markdown_section(args.out, "Precision", section)
    print(section)
    return 0


def _pixels(path: Path) -> int:
    from sr_keras.images import read_image

    height, width = read_image(path).shape[:2]
    return height * width


if __name__ == "__main__":
    sys.exit(main())
