"""sr_keras: single-image super-resolution in Keras 3, from interpolation to CNNs.

``sr_keras.interpolate`` is importable without TensorFlow; the metrics and models load it on
first use (``sr_keras.psnr``, ``sr_keras.ssim``, ``sr_keras.build``).
"""

from sr_keras.interpolation import degrade, imresize, interpolate

__version__ = "0.1.0"

_LAZY = {
    "psnr": ("sr_keras.metrics", "psnr"),
    "ssim": ("sr_keras.metrics", "ssim"),
    "build": ("sr_keras.models", "build"),
    "available_models": ("sr_keras.models", "available_models"),
}

__all__ = ["__version__", "degrade", "imresize", "interpolate", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'sr_keras' has no attribute {name!r}")
