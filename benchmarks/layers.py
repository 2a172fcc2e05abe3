"""Single int8 layers shaped like those of the benchmark models, timed side by side as run.py times models.

A model's ratio against XNNPACK is a mix of its layers'; this table says which kind of layer is behind
(a 1x1 conv with few input channels, a strided depthwise, a first conv over RGB, a 16-channel 3x3
conv). Each layer is one CONV_2D or DEPTHWISE_CONV_2D with random weights, per-channel scales and RELU6,
written into a folder (a temporary one unless --keep), then timed by run.py.

    PYTHONPATH=. python benchmarks/layers.py [--budget SECONDS] [--keep FOLDER]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test models' builders

from benchmarks import run  # noqa: E402
from mac_layers import ACTIVATIONS, VALID, bias_inputs, int8_layer  # noqa: E402
from opmodels import Op, single_op_model  # noqa: E402

#: name: (op, input NHWC, output channels (conv) or None (depthwise), kernel, stride). Inputs carry the
#: padding the models' PAD ops add, so every layer is VALID.
LAYERS = {
    "mobilenet_v2 first conv 3x3/2, 3 -> 32 @ 112x112": ("CONV_2D", (1, 225, 225, 3), 32, 3, 2),
    "mobilenet_v2 1x1, 16 -> 96 @ 112x112": ("CONV_2D", (1, 112, 112, 16), 96, 1, 1),
    "mobilenet_v2 1x1, 24 -> 144 @ 56x56": ("CONV_2D", (1, 56, 56, 24), 144, 1, 1),
    "mobilenet_v2 1x1, 64 -> 384 @ 14x14": ("CONV_2D", (1, 14, 14, 64), 384, 1, 1),
    "mobilenet_v2 1x1, 160 -> 960 @ 7x7": ("CONV_2D", (1, 7, 7, 160), 960, 1, 1),
    "mobilenet_v2 depthwise 3x3, 32 @ 112x112": ("DEPTHWISE_CONV_2D", (1, 114, 114, 32), None, 3, 1),
    "mobilenet_v2 depthwise 3x3/2, 96 @ 56x56": ("DEPTHWISE_CONV_2D", (1, 113, 113, 96), None, 3, 2),
    "mobilenet_v2 depthwise 3x3, 144 @ 56x56": ("DEPTHWISE_CONV_2D", (1, 58, 58, 144), None, 3, 1),
    "mobilenet_v2 depthwise 3x3, 384 @ 14x14": ("DEPTHWISE_CONV_2D", (1, 16, 16, 384), None, 3, 1),
    "resnet 3x3, 16 -> 16 @ 32x32": ("CONV_2D", (1, 34, 34, 16), 16, 3, 1),
    "resnet 3x3, 64 -> 64 @ 8x8": ("CONV_2D", (1, 10, 10, 64), 64, 3, 1),
}


def layer_model(op: str, input_shape: tuple[int, ...], out_channels: int | None, kernel: int, stride: int,
                seed: int) -> bytes:
    """One VALID, RELU6 int8 CONV_2D (out_channels given) or DEPTHWISE_CONV_2D (multiplier 1)."""
    rng = np.random.default_rng(seed)
    n, h, w, c = input_shape
    out_h, out_w = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    options = dict(padding=VALID, stride_h=stride, stride_w=stride, dilation_h_factor=1, dilation_w_factor=1,
                   fused_activation_function=ACTIVATIONS["RELU6"])
    if out_channels is None:
        layer = int8_layer(rng, input_shape, (1, kernel, kernel, c), (n, out_h, out_w, c), 3, kernel * kernel,
                           True)
        operator = Op(op, "DepthwiseConv2DOptions", dict(options, depth_multiplier=1))
    else:
        layer = int8_layer(rng, input_shape, (out_channels, kernel, kernel, c), (n, out_h, out_w, out_channels),
                           0, kernel * kernel * c, True)
        operator = Op(op, "Conv2DOptions", options)
    return single_op_model(operator, bias_inputs(layer, "given"), [layer.output])


def write_layers(folder: Path) -> list[Path]:
    """The LAYERS as .tflite files in folder, in table order."""
    paths = []
    for seed, (name, spec) in enumerate(LAYERS.items()):
        path = folder / (name.replace(" ", "_").replace(",", "").replace("/", "s").replace("@", "at")
                         .replace("->", "to") + ".tflite")
        path.write_bytes(layer_model(*spec, seed=seed))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1.0, help="as run.py's")
    parser.add_argument("--keep", type=Path, help="write the layer models here and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        run.main(["--budget", str(args.budget), *map(str, write_layers(folder))])


if __name__ == "__main__":
    main()
