"""Custom Keras layers of the models: registered, serialisable, no ``Lambda``; any image size at
run time, with ops TFLite and ONNX have as builtins (every model exports with a dynamic size).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from sr_keras.interpolation import MATLAB_CUBIC_A, cubic_kernel

_register = keras.saving.register_keras_serializable(package="sr_keras")


def _positive_int(value, name: str) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def bicubic_kernel(scale: int) -> np.ndarray:
    """The ``(5, 5, scale**2)`` weights of bicubic upscaling (``a = -0.5``): output phase
    ``py * scale + px`` weighs the 5x5 inputs around it by ``w[py, ky] * w[px, kx]``."""
    scale = _positive_int(scale, "scale")
    shift = (np.arange(scale) + 0.5) / scale - 0.5
    phases = cubic_kernel(shift[:, None] - np.arange(-2, 3)[None, :], MATLAB_CUBIC_A)
    return np.einsum("yi,xj->ijyx", phases, phases).reshape(5, 5, scale * scale)


def pixel_shuffle(inputs, scale: int):
    """``(N, H, W, C*s*s) -> (N, s*H, s*W, C)`` on ``keras.ops``, ``depth_to_space`` order."""
    shape = keras.ops.shape(inputs)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    out_channels = channels // (scale * scale)
    x = keras.ops.reshape(inputs, (batch, height, width, scale, scale, out_channels))
    x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return keras.ops.reshape(x, (batch, height * scale, width * scale, out_channels))


class _Upscale(keras.layers.Layer):
    """Height and width times ``scale`` (output shapes: Keras traces ``call``)."""

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = _positive_int(scale, "scale")

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@_register
class BicubicUpsample(_Upscale):
    """Bicubic upscaling by ``scale`` (the deck's block X1): ``tf.image.resize`` bicubic within
    float32 rounding, as a fixed convolution and a pixel shuffle (no resize op, no weights)."""

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("BicubicUpsample needs a known number of channels")
        kernel_2d = bicubic_kernel(self.scale)
        # Block-diagonal over channels: output channel (phase * C + c) reads input channel c.
        kernel = kernel_2d[:, :, None, :, None] * np.eye(channels)[:, None, :]
        self._kernel = kernel.reshape(5, 5, channels, -1).astype(np.float32)
        self._norm_kernel = kernel_2d[:, :, None, :].astype(np.float32)

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        phases = keras.ops.conv(x, self._kernel, padding="same")
        # Zero padding divided by the weight inside the image: TensorFlow's border rule.
        ones = keras.ops.ones_like(x[:1, :, :, :1])
        norm = keras.ops.conv(ones, self._norm_kernel, padding="same")
        resized = pixel_shuffle(phases, self.scale) / pixel_shuffle(norm, self.scale)
        return keras.ops.cast(resized, inputs.dtype)


@_register
class PixelShuffle(_Upscale):
    """Sub-pixel convolution's rearrangement by ``scale`` (Shi et al. 2016), a layer."""

    def call(self, inputs):
        return pixel_shuffle(inputs, self.scale)


class _MirrorPad(keras.layers.Layer):
    """Pads the bottom/right to ``_padded(size)``, mirrored (``numpy.pad``'s ``symmetric``) by
    a gather, a TFLite and ONNX builtin; its positive integer argument is named ``_key``."""

    _key = ""

    def __init__(self, value: int | None = None, **kwargs):
        value = kwargs.pop(self._key, value)
        super().__init__(**kwargs)
        setattr(self, self._key, _positive_int(value, self._key))

    def call(self, inputs):
        shape = tf.shape(inputs)
        for axis in (1, 2):
            size, padded = shape[axis], self._padded(shape[axis], tf.maximum)
            position = tf.range(padded) % (2 * size)
            indices = tf.where(position < size, position, 2 * size - 1 - position)
            inputs = tf.gather(inputs, indices, axis=axis)
        return inputs

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        sizes = (None if size is None else self._padded(size, max) for size in (height, width))
        return (batch, *sizes, channels)

    def get_config(self):
        return {**super().get_config(), self._key: getattr(self, self._key)}


@_register
class PadToMultiple(_MirrorPad):
    """Pads up to a multiple of ``multiple`` (4 for two 2x2 poolings): any input size."""

    _key = "multiple"

    def _padded(self, size, maximum):
        return (size + self.multiple - 1) // self.multiple * self.multiple  # ONNX-safe rounding


@_register
class PadToMinimumSize(_MirrorPad):
    """Pads up to at least ``minimum`` (RFDN's ESA on tiny inputs); larger inputs pass."""

    _key = "minimum"

    def _padded(self, size, maximum):
        return maximum(size, self.minimum)


class _ToSecond(keras.layers.Layer):
    """Gives its first input the height and width of its second."""

    def compute_output_shape(self, input_shapes):
        tensor_shape, reference_shape = input_shapes
        return (tensor_shape[0], reference_shape[1], reference_shape[2], tensor_shape[3])


@_register
class CropToMatch(_ToSecond):
    """Crops the first input's height and width to those of the second input (top-left kept)."""

    def call(self, inputs):
        tensor, reference = inputs
        shape = tf.shape(reference)
        return tensor[:, : shape[1], : shape[2], :]


@_register
class ResizeToMatch(_ToSecond):
    """Bilinear resizing of the first input to the second's size (PyTorch's
    ``align_corners=False``), computed in float32."""

    def call(self, inputs):
        tensor, reference = inputs
        size = tf.shape(reference)[1:3]
        resized = tf.image.resize(keras.ops.cast(tensor, "float32"), size, method="bilinear")
        return keras.ops.cast(resized, tensor.dtype)


@_register
class ResidualScale(keras.layers.Layer):
    """Multiplies by a constant ``factor`` (EDSR's residual scaling, e.g. 0.1), no weights."""

    def __init__(self, factor: float, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, inputs):
        return inputs * keras.ops.cast(self.factor, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@_register
class LeakyReLU(keras.layers.Layer):
    """``max(x, negative_slope * x)``. Not ``keras.layers.LeakyReLU``: in graph mode TF 2.21's
    oneDNN fusion of Conv2D + BiasAdd + Add + LeakyRelu drops the slope (uses 0.2)."""

    def __init__(self, negative_slope: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return keras.ops.maximum(inputs, inputs * self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
