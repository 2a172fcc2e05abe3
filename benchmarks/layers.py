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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test models' builders

from benchmarks import run  # noqa: E402
from mac_layers import VALID  # noqa: E402
from opmodels import single_op_model  # noqa: E402
from test_op_conv import conv_case  # noqa: E402
from test_op_depthwise_conv import depthwise_case  # noqa: E402

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
    "resnet first conv 3x3, 3 -> 16 @ 32x32": ("CONV_2D", (1, 34, 34, 3), 16, 3, 1),
    "resnet 3x3, 16 -> 16 @ 32x32": ("CONV_2D", (1, 34, 34, 16), 16, 3, 1),
    "resnet 3x3/2, 16 -> 32 @ 16x16": ("CONV_2D", (1, 33, 33, 16), 32, 3, 2),
    "resnet 1x1/2, 16 -> 32 @ 16x16": ("CONV_2D", (1, 31, 31, 16), 32, 1, 2),
    "resnet 3x3, 64 -> 64 @ 8x8": ("CONV_2D", (1, 10, 10, 64), 64, 3, 1),
}


def layer_model(op: str, input_shape: tuple[int, ...], out_channels: int | None, kernel: int, stride: int,
                seed: int) -> bytes:
    """One VALID, RELU6 int8 CONV_2D or DEPTHWISE_CONV_2D (multiplier 1; out_channels None), built as the op
    tests build theirs."""
    shape = dict(input_shape=input_shape, kernel=(kernel, kernel), strides=(stride, stride), padding=VALID,
                 activation="RELU6")
    case = (depthwise_case(op, seed, **shape) if op == "DEPTHWISE_CONV_2D"
            else conv_case(op, seed, out_channels=out_channels, **shape))
    return single_op_model(case.op, case.inputs, case.outputs)


def write_layers(folder: Path, only: str = "") -> list[Path]:
    """The LAYERS whose names contain `only` as .tflite files in folder, in table order."""
    paths = []
    for seed, (name, spec) in enumerate(LAYERS.items()):
        if only not in name:
            continue
        path = folder / (name.replace(" ", "_").replace(",", "").replace("/", "s").replace("@", "at")
                         .replace("->", "to") + ".tflite")
        path.write_bytes(layer_model(*spec, seed=seed))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1.0, help="as run.py's")
    parser.add_argument("--keep", type=Path, help="write the layer models here and keep them")
    parser.add_argument("--only", default="", help="only the layers whose names contain this text")
    parser.add_argument("--cpu", type=int, help="as run.py's")
    parser.add_argument("--unpinned", action="store_true", help="as run.py's")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        pinned = ["--cpu", str(args.cpu)] if args.cpu is not None else []
        pinned += ["--unpinned"] if args.unpinned else []
        run.main(["--budget", str(args.budget), *pinned, *map(str, write_layers(folder, args.only))])


if __name__ == "__main__":
    main()
