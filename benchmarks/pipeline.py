"""Benchmark: does the training stream keep up with training?

Measures, on this machine:

1. patches per second delivered by ``sr_keras.data.training_dataset`` (x4, HR 96 px, batch 16)
   from the BSDS500 images, after the cache is warm, with the protocol's LR (``bicubic``) and
   with each HR patch degraded on the fly (``realistic``: blur, kernels, noise, JPEG);
2. patches per second SRCNN (float32) and EDSR-baseline (bfloat16, the robust model's
   recipe) consume in training (``train_on_batch`` on the same batch shape, data in memory);

and writes them, and their ratios (goal: >= 10x), into ``results/benchmarks.md``.

Usage::

    python benchmarks/pipeline.py [--data ../shared/data/BSDS500] [--seconds 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "BSDS500"


from common import training_step_seconds, update_markdown_section  # noqa: E402


def pipeline_rate(
    data, scale, patch_size, batch_size, seconds, degradation="bicubic"
) -> tuple[float, float]:
    """Patches per second of the training stream once its cache is warm; and warm-up time."""
    from sr_keras.data import find_pairs, training_dataset

    dataset = training_dataset(data, scale, patch_size, batch_size, seed=0, degradation=degradation)
    iterator = iter(dataset)
    images = len(find_pairs(data, "train", scale))
    start = time.perf_counter()
    for _ in range(-(-images // batch_size) + 1):  # one pass fills the cache
        next(iterator)
    warmup = time.perf_counter() - start
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += batch_size
    return count / (time.perf_counter() - start), warmup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.md")
    args = parser.parse_args(argv)
    if not Path(args.data).exists():
        print(f"benchmark data '{args.data}' not found: pass --data", file=sys.stderr)
        return 2

    from sr_keras.precision import policy
    from sr_keras.utils import machine_description

    shape = (args.data, args.scale, args.patch_size, args.batch_size, args.seconds)
    delivered, warmup = pipeline_rate(*shape)
    realistic, _ = pipeline_rate(*shape, degradation="realistic")
    step = training_step_seconds(
        "srcnn", args.scale, args.patch_size, args.batch_size, args.seconds
    )
    consumed = args.batch_size / step
    with policy("bfloat16"):
        edsr_step = training_step_seconds(
            "edsr_baseline", args.scale, args.patch_size, args.batch_size, args.seconds
        )
    edsr = args.batch_size / edsr_step
    ratio, realistic_ratio = delivered / consumed, realistic / consumed
    edsr_ratio = realistic / edsr
    verdict = "met" if min(ratio, realistic_ratio, edsr_ratio) >= 10 else "NOT met"
    section = "\n".join(
        [
            f"Data: `{os.path.relpath(args.data, ROOT)}`, x{args.scale}, HR patch "
            f"{args.patch_size} px, batch {args.batch_size}. Machine: {machine_description()}.",
            "Command: `python benchmarks/pipeline.py`.",
            "",
            "| measure | patches / s |",
            "| --- | ---: |",
            f"| training stream (`training_dataset`, cache warm) | {delivered:,.0f} |",
            f"| same, `--degradation realistic` (LR made on the fly) | {realistic:,.0f} |",
            f"| SRCNN training consumes (`train_on_batch`, data in memory) | {consumed:,.1f} |",
            f"| EDSR-baseline bfloat16 training consumes (same) | {edsr:,.1f} |",
            f"| ratios (goal >= 10x: {verdict}): stream / SRCNN, realistic / SRCNN, realistic / "
            f"EDSR | {ratio:,.0f}x, {realistic_ratio:,.0f}x, {edsr_ratio:,.0f}x |",
            "",
            f"Filling the cache (reading and degrading every image once) took {warmup:.1f} s.",
        ]
    )
    update_markdown_section(args.out, "Data pipeline", section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
