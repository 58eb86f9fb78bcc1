"""Custom Keras layers of the models: registered, serialisable, no ``Lambda``.

They work on inputs whose height and width are unknown until run time (``model.predict`` on
images of any size, ``tf.function`` with ``None`` spatial dimensions). Keras 3.15's
``UpSampling2D(interpolation="bicubic")`` and ``keras.ops.image.resize`` fail there in graph
mode, so the resize calls ``tf.image.resize`` (this project runs on the TensorFlow backend).
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _scaled(size, factor):
    return None if size is None else size * factor


def _positive_int(value, name: str) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="sr_keras")
class BicubicUpsample(keras.layers.Layer):
    """Bicubic upscaling by an integer factor (the deck's block X1, "Interpolation").

    ``tf.image.resize(method="bicubic")``: Keys' kernel with ``a = -0.5`` and half-pixel
    centres, as MATLAB's ``imresize`` when enlarging (only the border handling differs).

    Args:
        scale: Integer upscaling factor.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = _positive_int(scale, "scale")

    def call(self, inputs):
        shape = tf.shape(inputs)
        size = tf.stack([shape[1] * self.scale, shape[2] * self.scale])
        resized = tf.image.resize(inputs, size, method="bicubic")
        return tf.cast(resized, inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _scaled(height, self.scale), _scaled(width, self.scale), channels)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="sr_keras")
class PadToMultiple(keras.layers.Layer):
    """Pads height and width at the bottom/right up to a multiple of ``multiple`` (reflection).

    Lets a model with poolings take any input size; :class:`CropToMatch` removes the padding.

    Args:
        multiple: The size multiple, e.g. 4 for two 2x2 poolings.
    """

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = _positive_int(multiple, "multiple")

    def call(self, inputs):
        shape = tf.shape(inputs)
        pad_height = (-shape[1]) % self.multiple
        pad_width = (-shape[2]) % self.multiple
        # Reflection needs the pad to be smaller than the side; symmetric allows equal.
        paddings = [[0, 0], [0, pad_height], [0, pad_width], [0, 0]]
        return tf.pad(inputs, paddings, mode="SYMMETRIC")

    def compute_output_shape(self, input_shape):
        def padded(size):
            return None if size is None else -(-size // self.multiple) * self.multiple

        batch, height, width, channels = input_shape
        return (batch, padded(height), padded(width), channels)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


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
        s = self.scale
        shape = keras.ops.shape(inputs)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        out_channels = channels // (s * s)
        x = keras.ops.reshape(inputs, (batch, height, width, s, s, out_channels))
        x = keras.ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return keras.ops.reshape(x, (batch, height * s, width * s, out_channels))

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
