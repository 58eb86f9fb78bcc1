"""Custom Keras layers of the models: registered, serialisable, no ``Lambda``.

They work on inputs whose height and width are unknown until run time (``model.predict`` on
images of any size, ``tf.function`` with ``None`` spatial dimensions), and they are written
with ops that TFLite and ONNX have as builtins (convolution, reshape, transpose, gather,
bilinear resize), so every model exports with a dynamic image size (:mod:`sr_keras.export`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _scaled(size, factor):
    return None if size is None else size * factor


def _positive_int(value, name: str) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (Keys 1981), ``a = -0.5`` as MATLAB and TensorFlow."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def bicubic_phase_weights(scale: int) -> np.ndarray:
    """The 1-D bicubic weights of integer upscaling, one row per output phase.

    Output pixel ``o = scale * i + p`` samples the input at ``i + (p + 0.5) / scale - 0.5``
    (half-pixel centres), so phase ``p`` weighs inputs ``i - 2 .. i + 2`` with fixed weights.

    Args:
        scale: Integer upscaling factor.

    Returns:
        Array ``(scale, 5)``: the weights of inputs at offsets ``-2 .. 2`` for each phase.
    """
    scale = _positive_int(scale, "scale")
    shift = (np.arange(scale) + 0.5) / scale - 0.5
    return keys_cubic(shift[:, None] - np.arange(-2, 3)[None, :])


def bicubic_kernel(scale: int) -> np.ndarray:
    """The 2-D bicubic weights of integer upscaling: ``(5, 5, scale * scale)``, where
    ``kernel[ky, kx, py * scale + px] = w[py, ky] * w[px, kx]`` (the pixel-shuffle order)."""
    phases = bicubic_phase_weights(scale)
    return np.einsum("yi,xj->ijyx", phases, phases).reshape(5, 5, scale * scale)


def pixel_shuffle(inputs, scale: int):
    """``(N, H, W, C*s*s) -> (N, s*H, s*W, C)`` on ``keras.ops``, ``depth_to_space`` order."""
    shape = keras.ops.shape(inputs)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    out_channels = channels // (scale * scale)
    x = keras.ops.reshape(inputs, (batch, height, width, scale, scale, out_channels))
    x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return keras.ops.reshape(x, (batch, height * scale, width * scale, out_channels))


@keras.saving.register_keras_serializable(package="sr_keras")
class BicubicUpsample(keras.layers.Layer):
    """Bicubic upscaling by an integer factor (the deck's block X1, "Interpolation").

    The same result as ``tf.image.resize(method="bicubic")`` (Keys' kernel, ``a = -0.5``,
    half-pixel centres; at the borders, taps outside the image get no weight and the rest are
    renormalised), within float32 rounding. It is written as one fixed 5x5 convolution per
    output phase followed by a pixel shuffle, on ``keras.ops`` only, so an exported model
    needs no resize op: TFLite's builtin ops and ONNX run it as they run the rest of the model.
    The weights are constants, not trainable parameters (the slide counts stay as printed).

    Args:
        scale: Integer upscaling factor.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = _positive_int(scale, "scale")
        self._kernel_2d = bicubic_kernel(self.scale)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("BicubicUpsample needs a known number of channels")
        # Block-diagonal over channels: output channel (phase * C + c) reads input channel c.
        kernel = np.zeros((5, 5, channels, self.scale**2 * channels), dtype=np.float32)
        for channel in range(channels):
            kernel[:, :, channel, channel::channels] = self._kernel_2d
        self._kernel = kernel
        self._norm_kernel = self._kernel_2d[:, :, None, :].astype(np.float32)

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        phases = keras.ops.conv(x, self._kernel, padding="same")
        # Zero padding plus division by the weight that fell inside the image: TensorFlow's
        # border rule (taps outside get no weight, the rest renormalised).
        ones = keras.ops.ones_like(x[:1, :, :, :1])
        norm = keras.ops.conv(ones, self._norm_kernel, padding="same")
        resized = pixel_shuffle(phases, self.scale) / pixel_shuffle(norm, self.scale)
        return keras.ops.cast(resized, inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _scaled(height, self.scale), _scaled(width, self.scale), channels)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _symmetric_indices(size, padded):
    """Indices ``0 .. size-1`` followed by mirrored ones (``size-1, size-2, ...``, then
    forwards again), ``padded`` in all: ``tf.pad``'s ``SYMMETRIC`` mode, for any pad size, as a
    gather (a builtin op of TFLite and ONNX, unlike symmetric pads)."""
    position = tf.range(padded) % (2 * size)
    return tf.where(position < size, position, 2 * size - 1 - position)


def _pad_symmetric(inputs, height, width):
    """Pads ``inputs`` at the bottom/right to ``height x width`` (at least its own size)."""
    shape = tf.shape(inputs)
    rows = _symmetric_indices(shape[1], height)
    columns = _symmetric_indices(shape[2], width)
    return tf.gather(tf.gather(inputs, rows, axis=1), columns, axis=2)


@keras.saving.register_keras_serializable(package="sr_keras")
class PadToMultiple(keras.layers.Layer):
    """Pads height and width at the bottom/right up to a multiple of ``multiple``, mirroring
    the image (``numpy.pad``'s ``symmetric`` mode: the edge pixel repeats).

    Lets a model with poolings take any input size; :class:`CropToMatch` removes the padding.

    Args:
        multiple: The size multiple, e.g. 4 for two 2x2 poolings.
    """

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = _positive_int(multiple, "multiple")

    def call(self, inputs):
        shape = tf.shape(inputs)
        multiple = self.multiple  # rounded up with no negative operands: ONNX-safe
        height = (shape[1] + multiple - 1) // multiple * multiple
        width = (shape[2] + multiple - 1) // multiple * multiple
        return _pad_symmetric(inputs, height, width)

    def compute_output_shape(self, input_shape):
        def padded(size):
            return None if size is None else -(-size // self.multiple) * self.multiple

        batch, height, width, channels = input_shape
        return (batch, padded(height), padded(width), channels)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="sr_keras")
class PadToMinimumSize(keras.layers.Layer):
    """Pads height and width at the bottom/right up to at least ``minimum``, mirroring the image
    as :class:`PadToMultiple` does; larger inputs pass unchanged.

    Lets a branch with valid convolutions and poolings (RFDN's ESA) take tiny inputs;
    :class:`CropToMatch` removes the padding.

    Args:
        minimum: The smallest height and width of the output.
    """

    def __init__(self, minimum: int, **kwargs):
        super().__init__(**kwargs)
        self.minimum = _positive_int(minimum, "minimum")

    def call(self, inputs):
        shape = tf.shape(inputs)
        return _pad_symmetric(
            inputs, tf.maximum(shape[1], self.minimum), tf.maximum(shape[2], self.minimum)
        )

    def compute_output_shape(self, input_shape):
        def padded(size):
            return None if size is None else max(size, self.minimum)

        batch, height, width, channels = input_shape
        return (batch, padded(height), padded(width), channels)

    def get_config(self):
        return {**super().get_config(), "minimum": self.minimum}


@keras.saving.register_keras_serializable(package="sr_keras")
class CropToMatch(keras.layers.Layer):
    """Crops the first input's height and width to those of the second input (top-left kept)."""

    def call(self, inputs):
        tensor, reference = inputs
        shape = tf.shape(reference)
        return tensor[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        tensor_shape, reference_shape = input_shapes
        return (tensor_shape[0], reference_shape[1], reference_shape[2], tensor_shape[3])


@keras.saving.register_keras_serializable(package="sr_keras")
class ResizeToMatch(keras.layers.Layer):
    """Bilinear resizing of the first input to the height and width of the second input.

    Half-pixel centres, no antialiasing: PyTorch's ``F.interpolate(mode="bilinear",
    align_corners=False)`` and ``tf.image.resize(method="bilinear")``. One resize op with a
    size computed at run time, a builtin of TFLite (``RESIZE_BILINEAR``) and ONNX (``Resize``).
    Computes in float32 and returns the input's dtype.
    """

    def call(self, inputs):
        tensor, reference = inputs
        size = tf.shape(reference)[1:3]
        resized = tf.image.resize(keras.ops.cast(tensor, "float32"), size, method="bilinear")
        return keras.ops.cast(resized, tensor.dtype)

    def compute_output_shape(self, input_shapes):
        tensor_shape, reference_shape = input_shapes
        return (tensor_shape[0], reference_shape[1], reference_shape[2], tensor_shape[3])


@keras.saving.register_keras_serializable(package="sr_keras")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al., CVPR 2016), built on ``keras.ops``.

    ``(N, H, W, C*s*s) -> (N, s*H, s*W, C)``, the same channel order as
    ``tf.nn.depth_to_space``: channel ``(dy*s + dx)*C + c`` goes to pixel ``(dy, dx)``.

    Args:
        scale: The upscaling factor ``s``.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = _positive_int(scale, "scale")

    def call(self, inputs):
        return pixel_shuffle(inputs, self.scale)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        out_channels = None if channels is None else channels // (self.scale**2)
        return (batch, _scaled(height, self.scale), _scaled(width, self.scale), out_channels)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="sr_keras")
class ResidualScale(keras.layers.Layer):
    """Multiplies by a constant (EDSR's residual scaling, Lim et al. 2017), no weights.

    Args:
        factor: The constant, e.g. 0.1.
    """

    def __init__(self, factor: float, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, inputs):
        return inputs * keras.ops.cast(self.factor, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="sr_keras")
class LeakyReLU(keras.layers.Layer):
    """``max(x, negative_slope * x)``: a LeakyReLU for slopes below 1.

    Not ``keras.layers.LeakyReLU``: in graph mode, TensorFlow's oneDNN rewrite fuses
    Conv2D + BiasAdd + Add + LeakyRelu and drops the slope (computes 0.2; TF 2.21), so a model
    trained by ``fit`` and run eagerly computed two different functions.

    Args:
        negative_slope: The slope for negative inputs, in ``[0, 1)``.
    """

    def __init__(self, negative_slope: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return keras.ops.maximum(inputs, inputs * self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
