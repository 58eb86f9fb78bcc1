"""Benchmark: cost and speed of each model on this machine, in float32 and in bfloat16.

For each model: parameters, multiply-adds per output (HR) pixel, training step time (batch 16,
HR 96 px), inference megapixels per second at a 512x512 output, and the fraction of this machine's
measured peak (a large matmul, in each precision) that inference reaches. bfloat16 is Keras'
``mixed_bfloat16`` policy (``--precision bfloat16``). Also the peak memory of tiled upscaling to a
2040x1356 output. Writes the table into ``results/benchmarks.md``.

Usage::

    python benchmarks/models.py [--models srcnn,espcn,edsr_baseline,rfdn]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]

from common import training_step_seconds, update_markdown_section  # noqa: E402


def multiply_adds_per_output_pixel(model_name: str, scale: int, lr_size: int = 32) -> float:
    """Multiply-adds of every convolution, per HR output pixel (from the layers' real shapes)."""
    import keras

    from sr_keras.models import build

    model = build(model_name, scale)
    fixed = keras.models.clone_model(model, input_tensors=keras.Input((lr_size, lr_size, 3)))
    total = 0
    for layer in fixed.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            height, width = layer.input.shape[1:3]
        elif isinstance(layer, keras.layers.Conv2D):
            height, width = layer.output.shape[1:3]
        else:
            continue
        kernel = layer.kernel.shape  # (kh, kw, in, out) for both kinds
        total += height * width * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    return total / (lr_size * scale) ** 2


def matmul_peak_gflops(size: int = 4096, repeats: int = 5) -> dict[str, float]:
    """The machine's peaks: best GFLOP/s of a large matmul in TensorFlow (float32 and bfloat16)
    and in NumPy (its BLAS, float32), so the fractions below are against the best it shows."""
    import numpy as np
    import tensorflow as tf

    def best_rate(multiply) -> float:
        multiply()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            multiply()
            best = min(best, time.perf_counter() - start)
        return 2 * size**3 / best / 1e9

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    a_tensor, b_tensor = tf.constant(a), tf.constant(b)
    a_half, b_half = tf.cast(a_tensor, tf.bfloat16), tf.cast(b_tensor, tf.bfloat16)
    return {
        "tensorflow": best_rate(lambda: tf.linalg.matmul(a_tensor, b_tensor).numpy()),
        "numpy": best_rate(lambda: a @ b),
        "bfloat16": best_rate(lambda: tf.linalg.matmul(a_half, b_half).numpy()),
    }


def inference_megapixels_per_second(model_name: str, scale: int, output_side: int, seconds):
    """Output megapixels per second of whole-image inference at ``output_side`` squared, under
    the current Keras dtype policy."""
    import numpy as np

    from sr_keras.inference import model_function
    from sr_keras.models import build

    function = model_function(build(model_name, scale))
    lr = np.random.default_rng(0).random((1, output_side // scale, output_side // scale, 3))
    lr = lr.astype(np.float32)
    function(lr)
    runs, start = 0, time.perf_counter()
    while runs < 2 or time.perf_counter() - start < seconds:
        function(lr)
        runs += 1
    return runs * output_side**2 / (time.perf_counter() - start) / 1e6


def tiled_upscale_peak_mb(model_name: str = "srresnet") -> tuple[float, float]:
    """Peak RSS (MB) and seconds of tiled x4 upscaling to 2040x1356, in a fresh process."""
    script = (
        "import time, numpy as np\n"
        "from sr_keras import inference, models, upscaling\n"
        f"f = inference.model_function(models.build({model_name!r}, 4))\n"
        "image = np.random.default_rng(0).random((339, 510, 3), dtype=np.float32)\n"
        "start = time.perf_counter()\n"
        "upscaling.predict_tiled(f, image, 4, tile=256, overlap=32)\n"
        "print(time.perf_counter() - start)\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, before) / 1024, float(result.stdout.strip().splitlines()[-1])


def measure(name: str, scale: int, seconds: float, precision_name: str) -> tuple[float, float]:
    """(train step seconds, inference MP/s) of a model in one precision."""
    from sr_keras import precision

    with precision.policy(precision_name):
        step = training_step_seconds(name, scale, 96, 16, seconds)
        megapixels = inference_megapixels_per_second(name, scale, 512, seconds)
    return step, megapixels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        default="srcnn,srresnet_lite,srresnet,sr_autoencoder,espcn,edsr_baseline,rfdn",
    )
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="timing budget per measure")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.md")
    args = parser.parse_args(argv)

    from sr_keras.models import build
    from sr_keras.utils import machine_description

    peaks = matmul_peak_gflops()
    peak = max(peaks["tensorflow"], peaks["numpy"])
    rows = []
    for name in args.models.split(","):
        print(f"{name} ...", flush=True)
        macs = multiply_adds_per_output_pixel(name, args.scale)
        step, megapixels = measure(name, args.scale, args.seconds, "float32")
        step_bf16, megapixels_bf16 = measure(name, args.scale, args.seconds, "bfloat16")
        achieved, achieved_bf16 = (2 * macs * rate / 1e3 for rate in (megapixels, megapixels_bf16))
        rows.append(
            f"| {name} | {build(name, args.scale).count_params():,} | {macs:,.0f} | "
            f"{step:.2f} | {step_bf16:.2f} | {step / step_bf16:.2f}x | {megapixels:.3f} | "
            f"{megapixels_bf16:.3f} | {megapixels_bf16 / megapixels:.2f}x | "
            f"{achieved / peak:.0%} | {achieved_bf16 / peaks['bfloat16']:.0%} |"
        )
    peak_mb, tiled_seconds = tiled_upscale_peak_mb()
    section = "\n".join(
        [
            f"x{args.scale}. Machine: {machine_description()}. "
            "Command: `python benchmarks/models.py`. Measured peaks, 4096^3 matmul: float32 "
            f"TensorFlow {peaks['tensorflow']:.1f} GFLOP/s, NumPy {peaks['numpy']:.1f} GFLOP/s "
            f"(f32 'of peak' is against the larger, {peak:.1f}); bfloat16 TensorFlow "
            f"{peaks['bfloat16']:.1f} GFLOP/s (bf16 'of peak'). bf16 is Keras' mixed_bfloat16 "
            "policy (`--precision bfloat16`). Inference runs whole 512x512 outputs through a "
            "`tf.function` traced for any size; training steps are batch 16, HR 96.",
            "",
            "| model | parameters | multiply-adds / output pixel | train step f32 (s) | "
            "train step bf16 (s) | train speed-up | MP/s f32 (512x512 out) | MP/s bf16 | "
            "inference speed-up | of peak f32 | of peak bf16 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Tiled upscaling (`--tile 256 --overlap 32`) of a 510x339 LR image to 2040x1356 "
            f"with `srresnet` (float32): peak memory {peak_mb:,.0f} MB, {tiled_seconds:.0f} s.",
        ]
    )
    update_markdown_section(args.out, "Models", section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
