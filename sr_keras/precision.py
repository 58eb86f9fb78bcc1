"""Numerical precision: float32, or bfloat16 compute where the hardware runs it natively.

``bfloat16`` is Keras' ``mixed_bfloat16`` policy: weights stay float32, convolutions compute
in bfloat16, and the models keep their last convolution, bicubic block and output in float32
(see :mod:`sr_keras.models`). ``float16`` is ``mixed_float16``, for older GPUs.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def _cpu_has_bfloat16() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def native_bfloat16() -> bool:
    """Whether the device computes bfloat16 natively: every GPU of compute capability 8.0 or
    more; without GPUs, the CPU flag ``avx512_bf16`` or ``amx_bf16`` (Linux)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
        return all(detail.get("compute_capability", (0, 0)) >= (8, 0) for detail in details)
    return _cpu_has_bfloat16()


def resolve(precision: str) -> str:
    """``auto`` -> ``bfloat16`` where it is native, else ``float32``; others unchanged;
    ValueError if ``precision`` is not one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


@contextlib.contextmanager
def policy(precision: str):
    """Sets Keras' global dtype policy for ``precision`` while the block runs; yields the
    resolved precision (``float32``, ``bfloat16`` or ``float16``)."""
    import keras

    resolved = resolve(precision)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(_POLICIES[resolved])
    try:
        yield resolved
    finally:
        keras.mixed_precision.set_global_policy(previous)
