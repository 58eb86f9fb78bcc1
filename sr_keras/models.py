"""The deck's four CNNs as Keras functional models, each written as its slide table.

Source: T. Phan, T. Pham, "Image Super-Resolution", AI For Everyone (2022), Bang 1 to Bang 5;
SRCNN after Dong et al., "Image Super-Resolution Using Deep Convolutional Networks" (TPAMI 2016);
SRResNet's residual block after Ledig et al., "Photo-Realistic Single Image Super-Resolution
Using a Generative Adversarial Network" (CVPR 2017).

Every model starts with the interpolation block X1 (bicubic upscaling by ``scale``) inside the
model, so it maps an LR image straight to its HR estimate, and then refines it at HR resolution.
Layer names are the slide's block names (X1, X2, ...), so ``model.summary()`` reads like the
slide table. ReLU follows every convolution but the last; kernels are 3x3 unless the table says.
Images are float32 in ``[0, 1]``.
"""

from __future__ import annotations

import dataclasses

import keras
import pandas as pd

from sr_keras.layers import (
    BicubicUpsample,
    CropToMatch,
    PadToMultiple,
    PixelShuffle,
    ResidualScale,
)

IMAGE_CHANNELS = "image_channels"  # the number of image channels (3 for RGB)
SUBPIXEL_CHANNELS = "subpixel_channels"  # image channels * scale**2, before a pixel shuffle
SCALES = (2, 3, 4)


@dataclasses.dataclass(frozen=True)
class Block:
    """One row of a slide table.

    Attributes:
        name: The slide's block name (``"X2"``, ``"encoder"``...), used as the layer name.
        operation: ``interpolation``, ``conv``, ``conv_transpose`` (stride 2), ``batch_norm``,
            ``max_pool`` (2x2), ``residual_block`` (Conv-BN-ReLU-Conv-BN plus skip), ``add``,
            ``pixel_shuffle`` (by the scale), ``edsr_block`` (Conv-ReLU-Conv, scaled by
            ``factor``, plus skip) or ``upsampler`` (EDSR's: conv and pixel shuffle, twice for
            x4).
        filters: Output channels of convolutions and residual blocks; ``IMAGE_CHANNELS`` for
            the last convolution, ``SUBPIXEL_CHANNELS`` before a pixel shuffle.
        kernel_size: Convolution kernel side.
        inputs: Names of the input blocks (``add`` takes two); default the previous block.
        activation: Activation after a convolution (``None`` for the last one).
        factor: Residual scaling of ``edsr_block``.
    """

    name: str
    operation: str
    filters: int | str | None = None
    kernel_size: int = 3
    inputs: tuple[str, ...] = ()
    activation: str | None = "relu"
    factor: float = 1.0


def _output(name: str, kernel_size: int = 3) -> Block:
    return Block(name, "conv", IMAGE_CHANNELS, kernel_size=kernel_size, activation=None)


#: Bang 1: SRCNN, 20,483 parameters.
SRCNN = (
    Block("X1", "interpolation"),
    Block("X2", "conv", 64, kernel_size=9),
    Block("X3", "batch_norm"),
    Block("X4", "conv", 32, kernel_size=1),
    Block("X5", "batch_norm"),
    _output("X6", kernel_size=5),
)

#: Bang 2: SRResNet, 449,731 parameters.
SRRESNET = (
    Block("X1", "interpolation"),
    Block("X2", "conv", 64),
    *(Block(f"X{index}", "residual_block", 64) for index in range(3, 9)),
    Block("X9", "add", inputs=("X2", "X8")),
    _output("X10"),
)

#: Bang 3: SRResNet(lite), 39,875 parameters (the slide's last row, misprinted "X3", is X10).
SRRESNET_LITE = (
    Block("X1", "interpolation"),
    Block("X2", "conv", 32),
    Block("X3", "conv", 32),
    Block("X4", "batch_norm"),
    Block("X5", "conv", 32),
    Block("X6", "batch_norm"),
    Block("X7", "add", inputs=("X6", "X2")),
    Block("X8", "add", inputs=("X7", "X2")),
    Block("X9", "conv", 64),
    _output("X10"),
)

#: Bang 4 and 5: the SR autoencoder (encoder, then decoder), 1,848,067 parameters.
SR_AUTOENCODER = (
    Block("X1", "interpolation"),
    Block("X2", "conv", 64),
    Block("X3", "conv", 64),
    Block("X4", "max_pool"),
    Block("X5", "conv", 128),
    Block("X6", "conv", 128),
    Block("X7", "max_pool"),
    Block("encoder", "conv", 256),
    Block("X8", "conv_transpose", 256),
    Block("X9", "conv", 128),
    Block("X10", "conv", 128),
    Block("X11", "add", inputs=("X6", "X10")),
    Block("X12", "conv_transpose", 128),
    Block("X13", "conv", 64),
    Block("X14", "conv", 64),
    Block("X15", "add", inputs=("X3", "X14")),
    _output("decoder"),
)


#: ESPCN (Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
#: Sub-Pixel Convolutional Neural Network", CVPR 2016): every convolution at LR resolution,
#: tanh activations as in the paper, then a pixel shuffle. 37,200 parameters at x4.
ESPCN = (
    Block("conv1", "conv", 64, kernel_size=5, activation="tanh"),
    Block("conv2", "conv", 32, activation="tanh"),
    Block("conv3", "conv", SUBPIXEL_CHANNELS, activation=None),
    Block("pixel_shuffle", "pixel_shuffle"),
)

#: EDSR baseline (Lim et al., "Enhanced Deep Residual Networks for Single Image
#: Super-Resolution", CVPRW 2017): no batch norm, 16 residual blocks of 64 filters with residual
#: scaling 0.1, a long skip, and a pixel-shuffle upsampler. 1,517,571 parameters at x4.
EDSR_BASELINE = (
    Block("head", "conv", 64, activation=None),
    *(Block(f"block{index}", "edsr_block", 64, factor=0.1) for index in range(1, 17)),
    Block("body", "conv", 64, activation=None),
    Block("skip", "add", inputs=("head", "body")),
    Block("upsampler", "upsampler", 64),
    _output("tail"),
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered architecture: its table, the slide's parameter count and a description."""

    table: tuple[Block, ...]
    parameters: int
    description: str


MODELS: dict[str, ModelSpec] = {
    "srcnn": ModelSpec(SRCNN, 20_483, "SRCNN (deck Bang 1; Dong et al. 2016)"),
    "srresnet": ModelSpec(SRRESNET, 449_731, "SRResNet, 6 residual blocks (deck Bang 2)"),
    "srresnet_lite": ModelSpec(SRRESNET_LITE, 39_875, "SRResNet(lite) (deck Bang 3)"),
    "sr_autoencoder": ModelSpec(SR_AUTOENCODER, 1_848_067, "SR autoencoder (deck Bang 4-5)"),
    "espcn": ModelSpec(ESPCN, 37_200, "ESPCN, sub-pixel convolution (Shi et al. 2016)"),
    "edsr_baseline": ModelSpec(
        EDSR_BASELINE, 1_517_571, "EDSR baseline, 16 blocks of 64 (Lim et al. 2017)"
    ),
}

#: The deck's models: they interpolate first and run every convolution at HR resolution.
DECK_MODELS = ("srcnn", "srresnet", "srresnet_lite", "sr_autoencoder")


def available_models() -> list[str]:
    """The names that :func:`build` accepts."""
    return list(MODELS)


def _residual_block(x, block: Block):
    skip = x
    x = keras.layers.Conv2D(block.filters, 3, padding="same", name=f"{block.name}_conv1")(x)
    x = keras.layers.BatchNormalization(name=f"{block.name}_bn1")(x)
    x = keras.layers.Activation("relu", name=f"{block.name}_relu")(x)
    x = keras.layers.Conv2D(block.filters, 3, padding="same", name=f"{block.name}_conv2")(x)
    x = keras.layers.BatchNormalization(name=f"{block.name}_bn2")(x)
    return keras.layers.Add(name=block.name)([skip, x])


def _edsr_block(x, block: Block):
    skip = x
    x = keras.layers.Conv2D(block.filters, 3, padding="same", name=f"{block.name}_conv1")(x)
    x = keras.layers.Activation("relu", name=f"{block.name}_relu")(x)
    x = keras.layers.Conv2D(block.filters, 3, padding="same", name=f"{block.name}_conv2")(x)
    x = ResidualScale(block.factor, name=f"{block.name}_scale")(x)
    return keras.layers.Add(name=block.name)([skip, x])


def _upsampler(x, block: Block, scale: int):
    steps = (2, 2) if scale == 4 else (scale,)
    for index, step in enumerate(steps, start=1):
        x = keras.layers.Conv2D(
            block.filters * step * step, 3, padding="same", name=f"{block.name}_conv{index}"
        )(x)
        name = block.name if index == len(steps) else f"{block.name}_shuffle{index}"
        x = PixelShuffle(step, name=name)(x)
    return x


def _apply_block(
    block: Block, x, outputs: dict, scale: int, channels: int, is_last: bool, zero_init: bool
):
    filters = {IMAGE_CHANNELS: channels, SUBPIXEL_CHANNELS: channels * scale * scale}.get(
        block.filters, block.filters
    )
    options = {}
    if is_last:
        # The output layers (like the bicubic block) compute in float32 even under a
        # mixed-precision policy.
        options["dtype"] = "float32"
    if is_last and zero_init:
        # With a global residual the model starts as exact bicubic interpolation.
        options["kernel_initializer"] = "zeros"
    if block.operation == "interpolation":
        return BicubicUpsample(scale, name=block.name, dtype="float32")(x)
    if block.operation == "conv":
        return keras.layers.Conv2D(
            filters,
            block.kernel_size,
            padding="same",
            activation=block.activation,
            name=block.name,
            **options,
        )(x)
    if block.operation == "conv_transpose":
        return keras.layers.Conv2DTranspose(
            filters,
            block.kernel_size,
            strides=2,
            padding="same",
            activation=block.activation,
            name=block.name,
        )(x)
    if block.operation == "batch_norm":
        return keras.layers.BatchNormalization(name=block.name)(x)
    if block.operation == "max_pool":
        return keras.layers.MaxPooling2D(2, name=block.name)(x)
    if block.operation == "residual_block":
        return _residual_block(x, block)
    if block.operation == "edsr_block":
        return _edsr_block(x, block)
    if block.operation == "upsampler":
        return _upsampler(x, block, scale)
    if block.operation == "pixel_shuffle":
        return PixelShuffle(scale, name=block.name, dtype=options.get("dtype"))(x)
    if block.operation == "add":
        return keras.layers.Add(name=block.name)([outputs[name] for name in block.inputs])
    raise ValueError(f"unknown operation {block.operation!r} in block {block.name}")


def build_from_table(
    table: tuple[Block, ...],
    scale: int = 4,
    channels: int = 3,
    global_residual: bool = False,
    name: str | None = None,
) -> keras.Model:
    """Builds a functional model from a slide table.

    Args:
        table: The blocks, the first being ``interpolation``.
        scale: Upscaling factor of the interpolation block.
        channels: Image channels (3 for RGB).
        global_residual: Add the interpolated input X1 to the output (the network learns the
            residual; zero extra parameters). The last convolution then starts at zero, so the
            untrained model is exactly its bicubic block.
        name: The model's name.

    Returns:
        A ``keras.Model`` from ``(None, H, W, channels)`` to ``(None, scale*H, scale*W,
        channels)`` for any ``H`` and ``W``.
    """
    inputs = keras.Input((None, None, channels), name="lr")
    pools = sum(block.operation == "max_pool" for block in table)
    outputs: dict = {}
    x = inputs
    for index, block in enumerate(table):
        is_last = index == len(table) - 1
        x = _apply_block(block, x, outputs, scale, channels, is_last, global_residual)
        outputs[block.name] = x
        if block.operation == "interpolation" and pools:
            x = PadToMultiple(2**pools, name=f"{block.name}_pad")(x)
    if table[0].operation == "interpolation":
        interpolated = outputs[table[0].name]
    elif global_residual:
        interpolated = BicubicUpsample(scale, name="bicubic", dtype="float32")(inputs)
    if pools:
        x = CropToMatch(name="crop", dtype="float32")([x, interpolated])
    if global_residual:
        x = keras.layers.Add(name="global_residual", dtype="float32")([x, interpolated])
    return keras.Model(inputs, x, name=name)


def build(
    name: str, scale: int = 4, channels: int = 3, global_residual: bool = False
) -> keras.Model:
    """Builds one of the registered models (see :func:`available_models`).

    Args:
        name: ``srcnn``, ``srresnet``, ``srresnet_lite``, ``sr_autoencoder`` (the deck's),
            ``espcn`` or ``edsr_baseline`` (sub-pixel models working at LR resolution).
        scale: 2, 3 or 4.
        channels: Image channels (3 for RGB; the slide counts assume 3).
        global_residual: Add the bicubic-interpolated input to the output (not in the deck;
            zero extra parameters, usually faster training; EDSR's "bicubic skip").

    Returns:
        The uncompiled ``keras.Model``, named ``name`` (``name + "_gr"`` with the global
        residual).

    Raises:
        ValueError: If ``name`` or ``scale`` is not supported.
    """
    if name not in MODELS:
        raise ValueError(f"name must be one of {available_models()}, got {name!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    model_name = f"{name}_gr" if global_residual else name
    return build_from_table(MODELS[name].table, scale, channels, global_residual, model_name)


def _operation_label(block: Block) -> str:
    labels = {
        "interpolation": "Interpolation (bicubic)",
        "conv": f"Conv2D {block.kernel_size}x{block.kernel_size}",
        "conv_transpose": f"Conv2DTranspose {block.kernel_size}x{block.kernel_size}, stride 2",
        "batch_norm": "Batch Normalization",
        "max_pool": "MaxPooling2D 2x2",
        "residual_block": "residual_block",
        "add": f"Add[{', '.join(block.inputs)}]",
        "pixel_shuffle": "PixelShuffle",
        "edsr_block": f"residual block (Conv-ReLU-Conv) x {block.factor}",
        "upsampler": "Conv2D 3x3 + PixelShuffle (twice for x4)",
    }
    return labels[block.operation]


def layer_table(model_name: str, scale: int = 4, channels: int = 3) -> pd.DataFrame:
    """The slide table of a model, with each block's output size and parameter count.

    Sizes are written as the slide writes them: ``A x B`` is the HR size (the LR size times the
    scale), ``(A/2) x (B/2)`` after a pooling, ``(A/4) x (B/4)`` at LR resolution for x4.

    Args:
        model_name: A registered model name.
        scale: The scale.
        channels: Image channels.

    Returns:
        A DataFrame with columns ``Block, Input, Operation, Channels, Parameters`` and a last
        row ``Total``.
    """
    model = build(model_name, scale, channels)
    table = MODELS[model_name].table
    rows = []
    divisor = 1 if table[0].operation == "interpolation" else scale
    channels_in = channels
    for block in table:
        layers = [
            layer
            for layer in model.layers
            if layer.name == block.name or layer.name.startswith(f"{block.name}_")
        ]
        parameters = sum(layer.count_params() for layer in layers)
        output_channels = model.get_layer(block.name).output.shape[-1]
        size = "AxB" if divisor == 1 else f"(A/{divisor})x(B/{divisor})"
        rows.append(
            {
                "Block": block.name,
                "Input": "(Input)"
                if block.operation == "interpolation"
                else f"{size}x{channels_in}",
                "Operation": _operation_label(block),
                "Channels": output_channels,
                "Parameters": parameters,
            }
        )
        if block.operation == "max_pool":
            divisor *= 2
        elif block.operation == "conv_transpose":
            divisor //= 2
        elif block.operation in ("pixel_shuffle", "upsampler"):
            divisor = 1
        channels_in = output_channels
    total = model.count_params()
    rows.append(
        {"Block": "Total", "Input": "", "Operation": "", "Channels": "", "Parameters": total}
    )
    return pd.DataFrame(rows)
