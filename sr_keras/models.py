"""The models as Keras functional models, each written as its paper's or slide's table.

The deck (T. Phan, T. Pham, "Image Super-Resolution", AI For Everyone 2022; its "Bang" are
tables, "Hinh" figures) gives four: each starts with the interpolation block X1 (bicubic by
``scale``) and refines at HR resolution; layer names are the slide's blocks, so
``model.summary()`` reads like the slide. ReLU follows every convolution but the last; kernels
are 3x3 unless the table says. The sub-pixel models (ESPCN, EDSR, RFDN) work at LR resolution.
Images are float32 in ``[0, 1]``.
"""

from __future__ import annotations

import dataclasses

import keras
import pandas as pd

from sr_keras.layers import (
    BicubicUpsample,
    CropToMatch,
    LeakyReLU,
    PadToMinimumSize,
    PadToMultiple,
    PixelShuffle,
    ResidualScale,
    ResizeToMatch,
)

IMAGE_CHANNELS = "image_channels"  # the number of image channels (3 for RGB)
SUBPIXEL_CHANNELS = "subpixel_channels"  # image channels * scale**2, before a pixel shuffle
SCALES = (2, 3, 4)
LEAKY_RELU = "lrelu"  # RFDN's activation: LeakyReLU with negative slope 0.05, its own layer
LEAKY_RELU_SLOPE = 0.05


@dataclasses.dataclass(frozen=True)
class Block:
    """One row of a table: the layer ``name``, an ``operation`` of :data:`OPERATIONS`, output
    ``filters``, the ``inputs`` of ``add``/``concat`` and ``edsr_block``'s scaling ``factor``."""

    name: str
    operation: str
    filters: int | str | None = None
    kernel_size: int = 3
    inputs: tuple[str, ...] = ()
    activation: str | None = "relu"
    factor: float = 1.0


def _output(name: str, kernel_size: int = 3) -> Block:
    return Block(name, "conv", IMAGE_CHANNELS, kernel_size=kernel_size, activation=None)


# fmt: off
#: Bang 1: SRCNN, 20,483 parameters.
SRCNN = (
    Block("X1", "interpolation"),
    Block("X2", "conv", 64, kernel_size=9), Block("X3", "batch_norm"),
    Block("X4", "conv", 32, kernel_size=1), Block("X5", "batch_norm"),
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
    Block("X3", "conv", 32), Block("X4", "batch_norm"),
    Block("X5", "conv", 32), Block("X6", "batch_norm"),
    Block("X7", "add", inputs=("X6", "X2")), Block("X8", "add", inputs=("X7", "X2")),
    Block("X9", "conv", 64),
    _output("X10"),
)

#: Bang 4 and 5: the SR autoencoder (encoder, then decoder), 1,848,067 parameters.
SR_AUTOENCODER = (
    Block("X1", "interpolation"),
    Block("X2", "conv", 64), Block("X3", "conv", 64), Block("X4", "max_pool"),
    Block("X5", "conv", 128), Block("X6", "conv", 128), Block("X7", "max_pool"),
    Block("encoder", "conv", 256),
    Block("X8", "conv_transpose", 256), Block("X9", "conv", 128), Block("X10", "conv", 128),
    Block("X11", "add", inputs=("X6", "X10")),
    Block("X12", "conv_transpose", 128), Block("X13", "conv", 64), Block("X14", "conv", 64),
    Block("X15", "add", inputs=("X3", "X14")),
    _output("decoder"),
)
# fmt: on

#: ESPCN (Shi et al., CVPR 2016): every convolution at LR resolution, tanh activations as in
#: the paper, then a pixel shuffle. 37,200 parameters at x4.
ESPCN = (
    Block("conv1", "conv", 64, kernel_size=5, activation="tanh"),
    Block("conv2", "conv", 32, activation="tanh"),
    Block("conv3", "conv", SUBPIXEL_CHANNELS, activation=None),
    Block("pixel_shuffle", "pixel_shuffle"),
)

#: EDSR baseline (Lim et al., CVPRW 2017): no batch norm, 16 residual blocks of 64 filters with
#: residual scaling 0.1, a long skip, and a pixel-shuffle upsampler. 1,517,571 parameters at x4.
EDSR_BASELINE = (
    Block("head", "conv", 64, activation=None),
    *(Block(f"block{index}", "edsr_block", 64, factor=0.1) for index in range(1, 17)),
    Block("body", "conv", 64, activation=None),
    Block("skip", "add", inputs=("head", "body")),
    Block("upsampler", "upsampler", 64),
    _output("tail"),
)

#: RFDN (Liu et al., ECCV Workshops 2020; AIM 2020 efficient SR winner), as the official code
#: (github.com/njulj/RFDN): 50 features, 4 RFDB blocks, a 1x1 fusion, a long skip, a one-step
#: pixel-shuffle upsampler; 433,448 parameters at x4 (the AIM report's 0.433M). Not IMDN: its
#: channel attention pools the whole image, so tiled results would depend on the tiling.
RFDN = (
    Block("head", "conv", 50, activation=None),
    *(Block(f"rfdb{index}", "rfdb", 50) for index in range(1, 5)),
    Block("concat", "concat", inputs=("rfdb1", "rfdb2", "rfdb3", "rfdb4")),
    Block("fuse", "conv", 50, kernel_size=1, activation=LEAKY_RELU),
    Block("lr_conv", "conv", 50, activation=None),
    Block("skip", "add", inputs=("head", "lr_conv")),
    Block("upsampler", "pixel_shuffle_block", IMAGE_CHANNELS, activation=None),
)

#: The smallest input of ESA's strided branch: its 3x3 stride-2 valid convolution gives
#: (15 - 3) // 2 + 1 = 7 pixels, what the 7x7 max pool needs. Smaller inputs are padded.
ESA_MINIMUM_SIZE = 15


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered architecture: ``table``, published ``parameters`` at x4, ``description``,
    ``tile_multiple`` of LR tile origins (4: two 2x2 poolings; 6: RFDN's strides 2 then 3)."""

    table: tuple[Block, ...]
    parameters: int
    description: str
    tile_multiple: int = 4


MODELS: dict[str, ModelSpec] = {
    "srcnn": ModelSpec(SRCNN, 20_483, "SRCNN (deck Bang 1; Dong et al. 2016)"),
    "srresnet": ModelSpec(SRRESNET, 449_731, "SRResNet, 6 residual blocks (deck Bang 2)"),
    "srresnet_lite": ModelSpec(SRRESNET_LITE, 39_875, "SRResNet(lite) (deck Bang 3)"),
    "sr_autoencoder": ModelSpec(SR_AUTOENCODER, 1_848_067, "SR autoencoder (deck Bang 4-5)"),
    "espcn": ModelSpec(ESPCN, 37_200, "ESPCN, sub-pixel convolution (Shi et al. 2016)"),
    "edsr_baseline": ModelSpec(
        EDSR_BASELINE, 1_517_571, "EDSR baseline, 16 blocks of 64 (Lim et al. 2017)"
    ),
    "rfdn": ModelSpec(
        RFDN, 433_448, "RFDN, 4 distillation blocks of 50 (Liu et al. 2020)", tile_multiple=6
    ),
}

#: The deck's models: they interpolate first and run every convolution at HR resolution.
DECK_MODELS = ("srcnn", "srresnet", "srresnet_lite", "sr_autoencoder")

#: Each operation of a table and its label in :func:`layer_table`.
OPERATIONS = {
    "interpolation": "Interpolation (bicubic)",
    "conv": "Conv2D {k}x{k}",
    "conv_transpose": "Conv2DTranspose {k}x{k}, stride 2",
    "batch_norm": "Batch Normalization",
    "max_pool": "MaxPooling2D 2x2",
    "residual_block": "residual_block",  # SRResNet's Conv-BN-ReLU-Conv-BN plus skip
    "add": "Add[{inputs}]",
    "pixel_shuffle": "PixelShuffle",  # by the scale
    "edsr_block": "residual block (Conv-ReLU-Conv) x {factor}",  # plus skip
    "upsampler": "Conv2D 3x3 + PixelShuffle (twice for x4)",  # EDSR's
    "concat": "Concatenate[{inputs}]",
    "rfdb": "RFDB (3 distillation steps, c4, c5, ESA)",  # with its ESA attention
    "pixel_shuffle_block": "Conv2D 3x3 + PixelShuffle",  # RFDN's: one shuffle by the scale
}


def available_models() -> list[str]:
    return list(MODELS)


def _conv(x, filters: int, kernel_size: int, name: str, activation: str | None = None, **options):
    leaky = activation == LEAKY_RELU
    options = {"activation": None if leaky else activation, **options}
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", name=name, **options)(x)
    return LeakyReLU(LEAKY_RELU_SLOPE, name=f"{name}_lrelu")(x) if leaky else x


def _residual_block(x, block: Block):  # SRResNet's Conv-BN-ReLU-Conv-BN, or EDSR's scaled
    name, batch_norm = block.name, block.operation == "residual_block"
    y = _conv(x, block.filters, 3, f"{name}_conv1")
    if batch_norm:
        y = keras.layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = keras.layers.Activation("relu", name=f"{name}_relu")(y)
    y = _conv(y, block.filters, 3, f"{name}_conv2")
    if batch_norm:
        y = keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    else:
        y = ResidualScale(block.factor, name=f"{name}_scale")(y)
    return keras.layers.Add(name=name)([x, y])


def _upsampler(x, block: Block, filters: int, steps: tuple[int, ...], options: dict):
    for index, step in enumerate(steps, start=1):
        x = _conv(x, filters * step * step, 3, f"{block.name}_conv{index}", **options)
        name = block.name if index == len(steps) else f"{block.name}_shuffle{index}"
        x = PixelShuffle(step, name=name, dtype=options.get("dtype"))(x)
    return x


def _rfdb_block(x, block: Block):  # three distillation steps, c4, c5, ESA
    name, filters = block.name, block.filters
    distilled = []
    for step in (1, 2, 3):
        distilled.append(_conv(x, filters // 2, 1, f"{name}_c{step}_d", LEAKY_RELU))
        refined = _conv(x, filters, 3, f"{name}_c{step}_r")
        x = keras.layers.Add(name=f"{name}_r{step}")([refined, x])
        x = LeakyReLU(LEAKY_RELU_SLOPE, name=f"{name}_r{step}_lrelu")(x)
    distilled.append(_conv(x, filters // 2, 3, f"{name}_c4", LEAKY_RELU))
    x = keras.layers.Concatenate(name=f"{name}_concat")(distilled)
    return _esa_block(_conv(x, filters, 1, f"{name}_c5"), name)


def _esa_block(x, name: str):
    """RFDN's spatial attention: ``x`` times a sigmoid mask from a strided branch, padded to
    :data:`ESA_MINIMUM_SIZE` (any input size; the official model from 15 pixels on)."""
    filters, reduced, prefix = x.shape[-1], x.shape[-1] // 4, f"{name}_esa"
    c1_ = _conv(x, reduced, 1, f"{prefix}_conv1")
    branch = PadToMinimumSize(ESA_MINIMUM_SIZE, name=f"{prefix}_pad")(c1_)
    c1 = keras.layers.Conv2D(reduced, 3, strides=2, name=f"{prefix}_conv2")(branch)
    v_max = keras.layers.MaxPooling2D(7, strides=3, name=f"{prefix}_max_pool")(c1)
    v_range = _conv(v_max, reduced, 3, f"{prefix}_conv_max", "relu")
    c3 = _conv(v_range, reduced, 3, f"{prefix}_conv3", "relu")
    c3 = _conv(c3, reduced, 3, f"{prefix}_conv3_")
    c3 = ResizeToMatch(name=f"{prefix}_upsample")([c3, branch])
    c3 = CropToMatch(name=f"{prefix}_crop")([c3, x])
    c4 = keras.layers.Add(name=f"{prefix}_add")([c3, _conv(c1_, reduced, 1, f"{prefix}_conv_f")])
    mask = _conv(c4, filters, 1, f"{prefix}_conv4", "sigmoid")
    return keras.layers.Multiply(name=name)([x, mask])


def _apply_block(block: Block, x, outputs: dict, scale: int, filters, options: dict):
    operation, name = block.operation, block.name
    if operation == "interpolation":
        return BicubicUpsample(scale, name=name, dtype="float32")(x)
    if operation == "conv":
        return _conv(x, filters, block.kernel_size, name, block.activation, **options)
    if operation == "conv_transpose":
        return keras.layers.Conv2DTranspose(
            filters, block.kernel_size, strides=2, padding="same", activation=block.activation,
            name=name,
        )(x)  # fmt: skip
    if operation == "batch_norm":
        return keras.layers.BatchNormalization(name=name)(x)
    if operation == "max_pool":
        return keras.layers.MaxPooling2D(2, name=name)(x)
    if operation in ("residual_block", "edsr_block"):
        return _residual_block(x, block)
    if operation in ("upsampler", "pixel_shuffle_block"):
        steps = (2, 2) if scale == 4 and operation == "upsampler" else (scale,)
        return _upsampler(x, block, filters, steps, options)
    if operation == "rfdb":
        return _rfdb_block(x, block)
    if operation == "pixel_shuffle":
        return PixelShuffle(scale, name=name, dtype=options.get("dtype"))(x)
    if operation in ("add", "concat"):
        layer = keras.layers.Add if operation == "add" else keras.layers.Concatenate
        return layer(name=name)([outputs[input_name] for input_name in block.inputs])
    raise ValueError(f"unknown operation {operation!r} in block {name}")


def build(name: str, scale: int = 4, channels=3, global_residual: bool = False) -> keras.Model:
    """The uncompiled model ``name`` (a key of :data:`MODELS`) at ``scale`` 2, 3 or 4, from
    ``(None, H, W, channels)`` to ``(None, scale*H, scale*W, channels)``. ``global_residual``
    adds the bicubic input to the output (named ``name + "_gr"``, no parameters; the last
    convolution starts at zero, so the model starts as bicubic)."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {available_models()}, got {name!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    table = MODELS[name].table
    inputs = keras.Input((None, None, channels), name="lr")
    pools = sum(block.operation == "max_pool" for block in table)
    sizes = {IMAGE_CHANNELS: channels, SUBPIXEL_CHANNELS: channels * scale * scale}
    outputs: dict = {}
    x = inputs
    for index, block in enumerate(table):
        options = {}
        if index == len(table) - 1:  # the output layer computes in float32 in mixed precision
            options["dtype"] = "float32"
            if global_residual:  # the model starts as exact bicubic interpolation
                options["kernel_initializer"] = "zeros"
        filters = sizes.get(block.filters, block.filters)
        x = outputs[block.name] = _apply_block(block, x, outputs, scale, filters, options)
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
    return keras.Model(inputs, x, name=f"{name}_gr" if global_residual else name)


def _operation_label(block: Block) -> str:
    label = OPERATIONS[block.operation].format(
        k=block.kernel_size, inputs=", ".join(block.inputs), factor=block.factor
    )
    return label + (" + LeakyReLU 0.05" if block.activation == LEAKY_RELU else "")


def layer_table(model_name: str, scale: int = 4, channels: int = 3) -> pd.DataFrame:
    """The slide table of a model: ``Block, Input, Operation, Channels, Parameters``, then
    ``Total``; sizes as the slide writes them (``AxB`` at HR, ``(A/4)x(B/4)`` at LR for x4)."""
    model = build(model_name, scale, channels)
    table = MODELS[model_name].table
    rows = []
    divisor = 1 if table[0].operation == "interpolation" else scale
    channels_in = channels
    for block in table:
        layers = [layer for layer in model.layers if f"{layer.name}_".startswith(f"{block.name}_")]
        output_channels = model.get_layer(block.name).output.shape[-1]
        size = "AxB" if divisor == 1 else f"(A/{divisor})x(B/{divisor})"
        source = "(Input)" if block.operation == "interpolation" else f"{size}x{channels_in}"
        parameters = sum(layer.count_params() for layer in layers)
        rows.append([block.name, source, _operation_label(block), output_channels, parameters])
        if block.operation == "max_pool":
            divisor *= 2
        elif block.operation == "conv_transpose":
            divisor //= 2
        elif block.operation in ("pixel_shuffle", "upsampler", "pixel_shuffle_block"):
            divisor = 1
        channels_in = output_channels
    rows.append(["Total", "", "", "", model.count_params()])
    return pd.DataFrame(rows, columns=["Block", "Input", "Operation", "Channels", "Parameters"])
