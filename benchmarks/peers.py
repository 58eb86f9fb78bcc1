"""Benchmark: our Keras models against the same networks in PyTorch and under onnxruntime.

For each model (default srcnn, srresnet, edsr_baseline, rfdn at x4) the script builds the Keras
model with random weights, writes the same network in PyTorch (from the same layer table; RFDN
as the official code, ``rfdn_torch.py``; weights copied, outputs checked equal), exports the
Keras model to ONNX, and times whole-image inference of one 512x512 output in all three, in one
process, on the same input. It reports output megapixels per second, ratios to Keras, and
Keras' arithmetic rate against this machine's measured float32 matmul peak. Writes the
table into ``results/benchmarks.md``.

PyTorch is a benchmark-only dependency (CPU build)::

    python -m pip install torch==2.13.0
    python benchmarks/peers.py [--models srcnn,srresnet,edsr_baseline,rfdn] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]

from models import matmul_peak_gflops, multiply_adds_per_output_pixel  # noqa: E402


def conv_parameters(layer, shuffle: int = 1):
    """A Keras ``Conv2D``'s kernel (HWIO) and bias as PyTorch's weight (OIHW) and bias tensors.

    Args:
        layer: The Keras convolution.
        shuffle: The pixel shuffle that follows it, if any: its output channels are reordered
            from Keras' order to PyTorch's.
    """
    import numpy as np
    import torch

    kernel, bias = (w.numpy() for w in layer.weights)
    if shuffle > 1:
        # Keras' pixel shuffle reads channel (dy*s + dx)*C + c; PyTorch's c*s*s + dy*s + dx.
        per_pixel = kernel.shape[-1] // shuffle**2
        order = [p * per_pixel + c for c in range(per_pixel) for p in range(shuffle**2)]
        kernel, bias = kernel[..., order], bias[order]
    weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    return weight, torch.from_numpy(np.ascontiguousarray(bias))


def rfdn_keras_name(torch_name: str) -> str:
    """The Keras layer (``sr_keras.models.RFDN``) of a convolution of the official RFDN."""
    fixed = {
        "fea_conv": "head",
        "c.0": "fuse",
        "LR_conv": "lr_conv",
        "upsampler.0": "upsampler_conv1",
    }
    if torch_name in fixed:
        return fixed[torch_name]
    # B1.c1_d -> rfdb1_c1_d, B1.esa.conv3_ -> rfdb1_esa_conv3_
    return "rfdb" + torch_name.removeprefix("B").replace(".", "_")


def official_rfdn(keras_model, scale: int):
    """Our Keras RFDN's weights in the official PyTorch layout (``rfdn_torch.RFDN``).

    Every convolution is matched by name; all of the Keras model's weighted layers must be used.

    Returns:
        A ``rfdn_torch.RFDN`` in eval mode mapping ``(N, 3, h, w)`` to ``(N, 3, s*h, s*w)``.
    """
    from rfdn_torch import RFDN
    from torch import nn

    network = RFDN(upscale=scale)
    copied = set()
    for torch_name, module in network.named_modules():
        if not isinstance(module, nn.Conv2d):
            continue
        keras_name = rfdn_keras_name(torch_name)
        shuffle = scale if torch_name == "upsampler.0" else 1
        weight, bias = conv_parameters(keras_model.get_layer(keras_name), shuffle)
        if weight.shape != module.weight.shape:
            raise ValueError(
                f"{torch_name} {tuple(module.weight.shape)}: {keras_name} {weight.shape}"
            )
        module.weight.data, module.bias.data = weight, bias
        copied.add(keras_name)
    weighted = {layer.name for layer in keras_model.layers if layer.weights}
    if weighted != copied:
        raise ValueError(f"Keras layers without a PyTorch twin: {sorted(weighted - copied)}")
    return network.eval()


def torch_model(keras_model, name: str, scale: int):
    """The same network as ``keras_model`` in PyTorch (NCHW), with its weights.

    RFDN is the official code's layout (``rfdn_torch.py``, weights matched by layer name); the
    others are built from the layer table of ``sr_keras.models``: every block the three
    benchmarked models use (interpolation, conv, batch_norm, residual_block, edsr_block, add,
    upsampler).

    Args:
        keras_model: The Keras model (its weights are copied).
        name: Its registered name.
        scale: Its scale.

    Returns:
        A ``torch.nn.Module`` in eval mode mapping ``(N, 3, h, w)`` to ``(N, 3, s*h, s*w)``.
    """
    import numpy as np
    import torch
    from torch import nn
    from torch.nn import functional

    from sr_keras.layers import bicubic_kernel
    from sr_keras.models import MODELS

    if name == "rfdn":
        return official_rfdn(keras_model, scale)
    table = MODELS[name].table

    def conv(layer, shuffle: int = 1) -> nn.Conv2d:
        weight, bias = conv_parameters(layer, shuffle)
        cout, cin, kh, kw = weight.shape
        module = nn.Conv2d(cin, cout, (kh, kw), padding="same")
        module.weight.data, module.bias.data = weight, bias
        return module

    def batch_norm(layer) -> nn.BatchNorm2d:
        gamma, beta, mean, variance = (w.numpy() for w in layer.weights)
        module = nn.BatchNorm2d(len(gamma), eps=layer.epsilon)
        for target, value in [
            (module.weight, gamma),
            (module.bias, beta),
            (module.running_mean, mean),
            (module.running_var, variance),
        ]:
            target.data = torch.from_numpy(value.copy())
        return module

    class Bicubic(nn.Module):
        """The same fixed convolution and pixel shuffle as ``BicubicUpsample``."""

        def __init__(self, channels: int):
            super().__init__()
            kernel = bicubic_kernel(scale).transpose(2, 0, 1)  # (s*s, 5, 5)
            weight = torch.from_numpy(kernel.astype(np.float32))[:, None]  # (s*s, 1, 5, 5)
            self.channels = channels
            self.register_buffer("weight", weight.repeat(channels, 1, 1, 1))
            self.register_buffer("norm_weight", weight)

        def forward(self, x):
            phases = functional.conv2d(x, self.weight, padding=2, groups=self.channels)
            norm = functional.conv2d(x[:1, :1] * 0 + 1, self.norm_weight, padding=2)
            return functional.pixel_shuffle(phases, scale) / functional.pixel_shuffle(norm, scale)

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleDict()
            for block in table:
                get = keras_model.get_layer
                if block.operation == "interpolation":
                    module = Bicubic(3)
                elif block.operation == "conv":
                    act = {"relu": nn.ReLU(), None: nn.Identity()}[block.activation]
                    module = nn.Sequential(conv(get(block.name)), act)
                elif block.operation == "batch_norm":
                    module = batch_norm(get(block.name))
                elif block.operation == "residual_block":
                    module = nn.Sequential(
                        conv(get(f"{block.name}_conv1")),
                        batch_norm(get(f"{block.name}_bn1")),
                        nn.ReLU(),
                        conv(get(f"{block.name}_conv2")),
                        batch_norm(get(f"{block.name}_bn2")),
                    )
                elif block.operation == "edsr_block":
                    module = nn.Sequential(
                        conv(get(f"{block.name}_conv1")),
                        nn.ReLU(),
                        conv(get(f"{block.name}_conv2")),
                    )
                elif block.operation == "upsampler":
                    steps = (2, 2) if scale == 4 else (scale,)
                    layers = []
                    for index, step in enumerate(steps, start=1):
                        layers += [conv(get(f"{block.name}_conv{index}"), step)]
                        layers += [nn.PixelShuffle(step)]
                    module = nn.Sequential(*layers)
                elif block.operation == "add":
                    module = nn.Identity()
                else:
                    raise ValueError(f"{name}: block {block.operation} is not written in PyTorch")
                self.blocks[block.name] = module

        def forward(self, x):
            outputs = {}
            for block in table:
                module = self.blocks[block.name]
                if block.operation == "add":
                    first, second = (outputs[n] for n in block.inputs)
                    x = first + second
                elif block.operation == "residual_block":
                    x = x + module(x)
                elif block.operation == "edsr_block":
                    x = x + module(x) * block.factor
                else:
                    x = module(x)
                outputs[block.name] = x
            return x

    return Network().eval()


def perturb_weights(model, seed: int = 2) -> None:
    """Gives a freshly built model non-trivial weights and batch-norm statistics (zero biases
    and unit statistics would hide a mistake in the copy), in place."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values = []
    for variable, value in zip(model.weights, model.get_weights(), strict=True):
        if "variance" in variable.path:
            values.append(value + np.abs(rng.normal(0, 0.5, value.shape)).astype(value.dtype))
        else:
            values.append(value + rng.normal(0, 0.02, value.shape).astype(value.dtype))
    model.set_weights(values)


def time_function(function, seconds: float) -> float:
    """Mean seconds of a call, after one warm-up call, over at least 3 calls and ``seconds``."""
    function()
    runs, start = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - start < seconds:
        function()
        runs += 1
    return (time.perf_counter() - start) / runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="srcnn,srresnet,edsr_baseline,rfdn")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="output side in pixels")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing budget per runtime")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.md")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: python -m pip install torch==2.13.0", file=sys.stderr)
        return 2
    import keras
    import numpy as np
    import onnxruntime
    from common import update_markdown_section

    from sr_keras import export, models
    from sr_keras.inference import model_function
    from sr_keras.utils import machine_description

    torch.set_num_threads(os.cpu_count() or 1)
    peak = max(matmul_peak_gflops().values())
    lr_side = args.size // args.scale
    image = np.random.default_rng(0).random((1, lr_side, lr_side, 3), dtype=np.float32)
    rows = []
    for name in args.models.split(","):
        print(f"{name} ...", flush=True)
        keras.utils.set_random_seed(1)
        model = models.build(name, args.scale)
        perturb_weights(model)
        keras_function = model_function(model)
        network = torch_model(model, name, args.scale)
        torch_input = torch.from_numpy(image.transpose(0, 3, 1, 2).copy())

        def run_torch(network=network, torch_input=torch_input):
            with torch.inference_mode():
                return network(torch_input).numpy().transpose(0, 2, 3, 1)

        with tempfile.TemporaryDirectory() as folder:
            path = export.export_model(model, Path(folder) / f"{name}.onnx", "onnx")
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name

        def run_onnx(session=session, input_name=input_name):
            return session.run(None, {input_name: image})[0]

        reference = keras_function(image)
        torch_error = float(np.max(np.abs(run_torch() - reference)))
        onnx_error = float(np.max(np.abs(run_onnx() - reference)))
        if max(torch_error, onnx_error) > 1e-3:
            raise AssertionError(f"{name}: outputs differ (torch {torch_error}, onnx {onnx_error})")
        seconds = {
            "keras": time_function(lambda f=keras_function: f(image), args.seconds),
            "pytorch": time_function(run_torch, args.seconds),
            "onnxruntime": time_function(run_onnx, args.seconds),
        }
        megapixels = {key: args.size**2 / value / 1e6 for key, value in seconds.items()}
        macs = multiply_adds_per_output_pixel(name, args.scale)
        gflops = 2 * macs * megapixels["keras"] * 1e6 / 1e9
        rows.append(
            f"| {name} | {megapixels['keras']:.3f} | {megapixels['pytorch']:.3f} | "
            f"{megapixels['onnxruntime']:.3f} | {megapixels['keras'] / megapixels['pytorch']:.2f}"
            f" | {megapixels['keras'] / megapixels['onnxruntime']:.2f} | {gflops:.1f} | "
            f"{gflops / peak:.0%} | {max(torch_error, onnx_error):.0e} |"
        )
        print(rows[-1], flush=True)
    section = "\n".join(
        [
            f"x{args.scale}, one {args.size}x{args.size} output per call, same input and weights "
            f"in all three runtimes. Machine: {machine_description()}. Command: "
            f"`python benchmarks/peers.py`. Versions: TensorFlow "
            f"{__import__('tensorflow').__version__}, Keras {keras.__version__}, PyTorch "
            f"{torch.__version__} ({torch.get_num_threads()} threads), onnxruntime "
            f"{onnxruntime.__version__}. 'Keras / X' above 1 means Keras is faster. 'of peak': "
            f"Keras' multiply-adds per second against the machine's measured float32 matmul "
            f"peak ({peak:.1f} GFLOP/s, the best of TensorFlow and NumPy). Max diff: largest "
            "absolute difference of the PyTorch and ONNX outputs from Keras'.",
            "",
            "| model | Keras MP/s | PyTorch MP/s | onnxruntime MP/s | Keras / PyTorch | "
            "Keras / onnxruntime | Keras GFLOP/s | of peak | max diff |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    update_markdown_section(args.out, "Against PyTorch and onnxruntime", section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
