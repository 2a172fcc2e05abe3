"""Regenerate the reference TinyML models shipped in ``reference_models/``.

The corpus has three parts:

* the four MLPerf Tiny reference architectures (DS-CNN keyword spotting,
  MobileNetV1-0.25 visual wake words, ResNet-8 image classification and the
  fully connected anomaly-detection autoencoder), briefly trained on seeded
  synthetic data;
* the sine-regression "hello world" model;
* ``single_op/``: tiny one-operator models that pin down each builtin and its
  options (padding, strides, dilation, depth multiplier, fused activation,
  per-channel or per-tensor weights, broadcasting, float32 variants and the
  QUANTIZE / DEQUANTIZE pair), from one Keras layer each; and, for ops Keras
  has no layer for, from a TensorFlow function each: elementwise math,
  CUMSUM, REVERSE_V2, LOG_SOFTMAX, BATCH_MATMUL, REDUCE_ALL,
  DYNAMIC_UPDATE_SLICE, control flow (IF, WHILE and their subgraphs) and
  resource variables (CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE).

Every model is converted with full-integer post-training quantization (int8
weights and activations, int8 input and output) unless its entry says
otherwise.  After conversion each file is checked (intended ops and options,
every subgraph's ops, input/output types), run in TFLite Micro, measured for
TFLM arena head and tail, and described in ``manifest.json``.

Usage::

    python reference_models/make_models.py [--out reference_models] [--only NAME ...]

NAME is a model name as listed in the manifest without ``.tflite`` (for example
``kws_ds_cnn_int8`` or ``conv2d_same_s1_relu``) or a shell-style pattern such
as ``'add_*'``.  Requires the project's ``models`` extra (tensorflow-cpu and
tflite-micro) plus the ``tflite`` schema package.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fnmatch
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

# TensorFlow reads these at import time; the C++ INFO/WARNING lines would bury
# the script's own progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import tflite
from tensorflow.lite.tools import flatbuffer_utils
from tflite_micro.python.tflite_micro import runtime as tflm

keras = tf.keras
L = keras.layers

ARENA_SIZE = 64 << 20
HERE = Path(__file__).resolve().parent

BUILTIN_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
TENSOR_TYPES = {v: k.lower() for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}
ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}

# Converter output tracks the float weights, so the float training itself must
# be reproducible; op determinism costs nothing noticeable at these sizes.
tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Conversion:
    """How one Keras model becomes one .tflite file."""

    suffix: str = ""
    quantize: bool = True
    per_channel: bool = True
    input_type: tf.DType = tf.int8
    output_type: tf.DType = tf.int8
    # TFLite's 16x8 mode: int16 activations, int8 weights.
    int16_activations: bool = False


INT8 = Conversion()
PER_TENSOR = Conversion(per_channel=False)
FLOAT_IO = Conversion(input_type=tf.float32, output_type=tf.float32)
FLOAT_IN = Conversion(input_type=tf.float32)
FLOAT_OUT = Conversion(output_type=tf.float32)
FLOAT = Conversion(quantize=False, input_type=tf.float32, output_type=tf.float32)
INT16 = Conversion(input_type=tf.int16, output_type=tf.int16, int16_activations=True)
# Whole networks come in several variants, told apart by file-name suffix.
NET_INT8 = dataclasses.replace(INT8, suffix="_int8")
NET_FLOAT32 = dataclasses.replace(FLOAT, suffix="_float32")


def convert(model: keras.Model, representative: Sequence[list[np.ndarray]], conversion: Conversion) -> bytes:
    """Convert ``model`` to a TFLite flatbuffer as described by ``conversion``.

    ``representative`` is the calibration set: one list of input arrays
    (one per model input, batch included) per calibration step.
    """
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # Keyed by input name: the converter orders a graph's inputs by
    # descending name, not as the Keras model lists them.
    names = [tensor.name for tensor in model.inputs]
    return _finish(converter, conversion, lambda: (dict(zip(names, sample, strict=True)) for sample in representative))


def _finish(converter: tf.lite.TFLiteConverter, conversion: Conversion, representative: Callable) -> bytes:
    """Apply ``conversion`` (calibrating on ``representative()``) and convert."""
    if conversion.quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            if conversion.int16_activations else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = conversion.input_type
        converter.inference_output_type = conversion.output_type
        if not conversion.per_channel:
            converter._experimental_disable_per_channel = True
    return converter.convert()


@contextlib.contextmanager
def quiet():
    """Silence fds 1 and 2 while TensorFlow trains or converts.

    Keras export, the MLIR passes and the calibrator print pages of progress
    from both Python and C++; only an fd-level redirect catches the C++ part.
    Exceptions still propagate, with the converter's message in them.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def reset_keras(seed: int) -> None:
    """Start a model from a clean slate: fresh layer-name counters and RNGs.

    Layer names end up as tensor names in the flatbuffer, so without the reset
    a model's bytes would depend on which models were built before it.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def seed_of(name: str) -> int:
    """A stable per-model seed, so ``--only`` reproduces a full run's bytes."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


# --------------------------------------------------------------------------
# MLPerf Tiny architectures and hello world
# --------------------------------------------------------------------------

def _he_l2(weights: str = "kernel") -> dict:
    """Initializer and regularizer of the MLPerf Tiny references, for a layer's ``weights`` argument prefix."""
    return {f"{weights}_initializer": "he_normal", f"{weights}_regularizer": keras.regularizers.l2(1e-4)}


def _bn_relu(x):
    return L.Activation("relu")(L.BatchNormalization()(x))


def _separable_block(x, filters: int, strides: int = 1):
    """Depthwise 3x3 then pointwise conv, each followed by BN+ReLU (MobileNetV1 / DS-CNN)."""
    x = _bn_relu(L.DepthwiseConv2D(3, strides=strides, padding="same", **_he_l2("depthwise"))(x))
    return _bn_relu(L.Conv2D(filters, 1, padding="same", **_he_l2())(x))


def _classifier_head(x, classes: int):
    """Average-pool the whole feature map, flatten, dense softmax."""
    x = L.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
    return L.Dense(classes, activation="softmax", kernel_initializer="he_normal")(L.Flatten()(x))


def ds_cnn() -> keras.Model:
    """MLPerf Tiny keyword spotting: DS-CNN on 49x10 MFCCs, 12 classes."""
    inputs = keras.Input((49, 10, 1), batch_size=1)
    x = _bn_relu(L.Conv2D(64, (10, 4), strides=2, padding="same", **_he_l2())(inputs))
    x = L.Dropout(0.2)(x)
    for _ in range(4):
        x = _separable_block(x, 64)
    x = L.Dropout(0.4)(x)
    return keras.Model(inputs, _classifier_head(x, 12), name="ds_cnn")


def mobilenet_v1_025() -> keras.Model:
    """MLPerf Tiny visual wake words: MobileNetV1 alpha 0.25 on 96x96 RGB, 2 classes."""
    inputs = keras.Input((96, 96, 3), batch_size=1)
    x = _bn_relu(L.Conv2D(8, 3, strides=2, padding="same", **_he_l2())(inputs))
    # (pointwise filters, depthwise stride) of MobileNetV1's 13 separable blocks at alpha 0.25.
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
    for filters, strides in blocks:
        x = _separable_block(x, filters, strides)
    return keras.Model(inputs, _classifier_head(x, 2), name="mobilenet_v1_025")


def resnet8() -> keras.Model:
    """MLPerf Tiny image classification: ResNet-8 (16/32/64 filters) on 32x32 RGB, 10 classes."""
    inputs = keras.Input((32, 32, 3), batch_size=1)
    x = _bn_relu(L.Conv2D(16, 3, padding="same", **_he_l2())(inputs))
    for filters, strides in [(16, 1), (32, 2), (64, 2)]:
        y = _bn_relu(L.Conv2D(filters, 3, strides=strides, padding="same", **_he_l2())(x))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same", **_he_l2())(y))
        if strides != 1:
            # Projection shortcut: the identity no longer matches in shape.
            x = L.Conv2D(filters, 1, strides=strides, padding="same", **_he_l2())(x)
        x = L.Activation("relu")(L.Add()([x, y]))
    return keras.Model(inputs, _classifier_head(x, 10), name="resnet8")


def fc_autoencoder() -> keras.Model:
    """MLPerf Tiny anomaly detection: dense autoencoder over 5 frames x 128 log-mels."""
    inputs = keras.Input((640,), batch_size=1)
    x = inputs
    for units in [128] * 4 + [8] + [128] * 4:
        x = _bn_relu(L.Dense(units)(x))
    return keras.Model(inputs, L.Dense(640)(x), name="fc_autoencoder")


def sine_model() -> keras.Model:
    """TFLM hello world: y = sin(x) for x in [0, 2*pi] with two 16-unit hidden layers."""
    inputs = keras.Input((1,), batch_size=1)
    x = L.Dense(16, activation="relu")(inputs)
    x = L.Dense(16, activation="relu")(x)
    return keras.Model(inputs, L.Dense(1)(x), name="sine")


def _smooth_images(rng: np.random.Generator, n: int, size: int, channels: int) -> np.ndarray:
    """Images in [0, 1] with spatial structure: upsampled coarse noise plus fine noise.

    Pure white noise would give every conv the same flat statistics; coarse
    blobs make activations vary across space and across samples like photos do.
    """
    coarse = rng.uniform(0.0, 1.0, (n, size // 8, size // 8, channels))
    coarse = coarse.repeat(8, axis=1).repeat(8, axis=2)
    return np.clip(coarse + rng.normal(0.0, 0.08, coarse.shape), 0.0, 1.0).astype(np.float32)


def _mfcc_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """49x10 MFCC-like maps: per-coefficient scales falling with index, smooth in time."""
    scale = np.linspace(20.0, 2.0, 10)
    x = np.cumsum(rng.normal(0.0, 1.0, (n, 49, 10)), axis=1) / 3.0 * scale
    return x[..., None].astype(np.float32)


def _log_mel_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """5 frames x 128 log-mel energies in dB, flattened to 640.

    Each clip gets its own level, spectral tilt and band pattern.  With less
    spread than this, uniformly random int8 inputs fall outside what the
    8-unit bottleneck saw and its ReLUs all go dark, making the output constant.
    """
    level = rng.uniform(-60.0, -15.0, (n, 1, 1))
    tilt = rng.normal(0.0, 10.0, (n, 1, 1)) * np.linspace(-1.0, 1.0, 128)
    bands = rng.normal(0.0, 6.0, (n, 1, 128))
    frames = level + tilt + bands + rng.normal(0.0, 3.0, (n, 5, 128))
    return frames.reshape(n, 640).astype(np.float32)


def _labels_from(x: np.ndarray, classes: int, rng: np.random.Generator) -> np.ndarray:
    """Labels that are a fixed function of the input, so a short fit learns something."""
    flat = x.reshape(len(x), -1)
    projection = rng.normal(0.0, 1.0, (flat.shape[1], classes))
    return np.argmax((flat - flat.mean(axis=0)) @ projection, axis=1)


def _calibrate_batch_norm(model: keras.Model, x: np.ndarray) -> None:
    """Set BN moving statistics to the statistics of ``x`` in one forward pass.

    A one-epoch fit moves the moving averages only part of the way from their
    (0, 1) initial values, which leaves inference-mode activations badly
    scaled and the softmax saturated.  Momentum 0 makes one training-mode pass
    store exact batch statistics, layer after layer.
    """
    bns = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    for layer in bns:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(bns, momenta, strict=True):
        layer.momentum = momentum


def _train(model: keras.Model, x: np.ndarray, y: np.ndarray, loss: str, epochs: int, batch: int) -> None:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0)


@dataclasses.dataclass(frozen=True)
class Network:
    """A whole-network reference model and the variants it is converted to."""

    name: str
    description: str
    build: Callable[[], keras.Model]
    data: Callable[[np.random.Generator, int], np.ndarray]
    task: str  # "classify", "reconstruct" or "sine": which targets to train on
    train_samples: int
    epochs: int
    conversions: tuple[Conversion, ...] = (NET_INT8,)


def _sine_data(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.0, 2.0 * np.pi, (n, 1)).astype(np.float32)


NETWORKS = [
    Network("kws_ds_cnn", "MLPerf Tiny keyword spotting DS-CNN, 49x10x1 MFCC input, 12 classes",
            ds_cnn, _mfcc_like, "classify", 1024, 2, (NET_INT8, NET_FLOAT32)),
    Network("vww_mobilenet_v1_025", "MLPerf Tiny visual wake words MobileNetV1 alpha 0.25, 96x96x3, 2 classes",
            mobilenet_v1_025, lambda rng, n: _smooth_images(rng, n, 96, 3), "classify", 512, 1),
    Network("ic_resnet8", "MLPerf Tiny image classification ResNet-8, 32x32x3, 10 classes",
            resnet8, lambda rng, n: _smooth_images(rng, n, 32, 3), "classify", 1024, 1, (NET_INT8, NET_FLOAT32)),
    Network("ad_fc_autoencoder", "MLPerf Tiny anomaly detection dense autoencoder, 640 inputs",
            fc_autoencoder, _log_mel_like, "reconstruct", 2048, 2),
    Network("hello_world_sine", "TFLM hello world: sine regression, 1 input, 1 output",
            sine_model, _sine_data, "sine", 2048, 60, (NET_INT8, NET_FLOAT32)),
]


def build_network(net: Network) -> tuple[keras.Model, list[list[np.ndarray]]]:
    """Build, briefly train and BN-calibrate ``net``; return it with its calibration set."""
    reset_keras(seed_of(net.name))
    rng = np.random.default_rng(seed_of(net.name))
    model = net.build()
    x = net.data(rng, net.train_samples)
    if net.task == "classify":
        classes = model.output_shape[-1]
        _train(model, x, _labels_from(x, classes, rng), "sparse_categorical_crossentropy", net.epochs, 32)
    elif net.task == "reconstruct":
        _train(model, x, x, "mse", net.epochs, 32)
    else:
        _train(model, x, np.sin(x) + rng.normal(0.0, 0.05, x.shape).astype(np.float32), "mse", net.epochs, 32)
    if any(isinstance(layer, L.BatchNormalization) for layer in model.layers):
        _calibrate_batch_norm(model, x[:256])
    representative = [[sample[None]] for sample in net.data(rng, 64)]
    return model, representative


# --------------------------------------------------------------------------
# Single-op models
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class OpSpec:
    """One single-op model: its inputs, the Keras layer(s) and what the file must contain.

    ``options`` are checked against the builtin options of the first ``op`` in
    the converted graph, using the schema's accessor names (enum values by
    name).  ``ops`` is the full expected operator list when it is more than
    ``op`` alone.
    """

    name: str
    inputs: tuple[tuple[int, ...], ...]
    layer: Callable[[], Callable]
    op: str
    options: dict = dataclasses.field(default_factory=dict)
    conversion: Conversion = INT8
    ops: tuple[str, ...] = ()

    @property
    def expected_ops(self) -> tuple[str, ...]:
        return self.ops or (self.op,)

    @property
    def input_dtypes(self) -> tuple[str, ...]:
        return ("float32",) * len(self.inputs)


def _then_act(layer: Callable[[], Callable], activation: str) -> Callable[[], Callable]:
    """Follow a layer with a separate activation layer the converter should fuse."""
    return lambda: (lambda x: L.Activation(activation)(layer()(x)))


def _opts(padding: str | None = None, stride: int | None = None, act: str = "NONE", dilation: int | None = None,
          multiplier: int | None = None, pool: tuple[int, int] | None = None) -> dict:
    """Expected builtin options in the schema's accessor names."""
    options = {"FusedActivationFunction": act}
    if padding:
        options["Padding"] = padding
    if stride:
        options.update(StrideH=stride, StrideW=stride)
    if dilation:
        options.update(DilationHFactor=dilation, DilationWFactor=dilation)
    if multiplier:
        options["DepthMultiplier"] = multiplier
    if pool:
        options.update(FilterHeight=pool[0], FilterWidth=pool[1])
    return options


IMG = ((1, 7, 9, 3),)  # odd height, width and channel count exercise every edge path

SINGLE_OPS = [
    # CONV_2D
    OpSpec("conv2d_same_s1_relu", IMG, lambda: L.Conv2D(5, 3, padding="same", activation="relu"),
           "CONV_2D", _opts("SAME", 1, "RELU", 1)),
    OpSpec("conv2d_valid_s2", ((1, 9, 7, 3),), lambda: L.Conv2D(8, (3, 2), strides=2, padding="valid"),
           "CONV_2D", _opts("VALID", 2, "NONE", 1)),
    OpSpec("conv2d_same_s2_relu6_per_tensor", IMG,
           lambda: L.Conv2D(4, 3, strides=2, padding="same", activation="relu6"),
           "CONV_2D", _opts("SAME", 2, "RELU6", 1), PER_TENSOR),
    OpSpec("conv2d_dilation2_same", IMG, lambda: L.Conv2D(6, 3, dilation_rate=2, padding="same"),
           "CONV_2D", _opts("SAME", 1, "NONE", 2)),
    OpSpec("conv2d_dilation2_valid_relu_per_tensor", IMG,
           lambda: L.Conv2D(4, 2, dilation_rate=2, padding="valid", activation="relu"),
           "CONV_2D", _opts("VALID", 1, "RELU", 2), PER_TENSOR),
    OpSpec("conv2d_1x1_nobias", IMG, lambda: L.Conv2D(7, 1, use_bias=False), "CONV_2D", _opts("VALID", 1)),
    # DEPTHWISE_CONV_2D
    OpSpec("dwconv_same_s1_relu", IMG, lambda: L.DepthwiseConv2D(3, padding="same", activation="relu"),
           "DEPTHWISE_CONV_2D", _opts("SAME", 1, "RELU", 1, 1)),
    OpSpec("dwconv_valid_s2_m2", IMG, lambda: L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid"),
           "DEPTHWISE_CONV_2D", _opts("VALID", 2, "NONE", 1, 2)),
    OpSpec("dwconv_same_s2_relu6_per_tensor", IMG,
           lambda: L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6"),
           "DEPTHWISE_CONV_2D", _opts("SAME", 2, "RELU6", 1, 1), PER_TENSOR),
    OpSpec("dwconv_dilation2_same", IMG, lambda: L.DepthwiseConv2D(3, dilation_rate=2, padding="same"),
           "DEPTHWISE_CONV_2D", _opts("SAME", 1, "NONE", 2, 1)),
    OpSpec("dwconv_same_m2_relu_per_tensor", IMG,
           lambda: L.DepthwiseConv2D((2, 3), depth_multiplier=2, padding="same", activation="relu"),
           "DEPTHWISE_CONV_2D", _opts("SAME", 1, "RELU", 1, 2), PER_TENSOR),
    # FULLY_CONNECTED
    OpSpec("fc_relu", ((1, 37),), lambda: L.Dense(11, activation="relu"), "FULLY_CONNECTED", _opts(act="RELU")),
    OpSpec("fc_nobias", ((1, 20),), lambda: L.Dense(10, use_bias=False), "FULLY_CONNECTED", _opts()),
    OpSpec("fc_batch3_relu6", ((3, 16),), lambda: L.Dense(9, activation="relu6"), "FULLY_CONNECTED",
           _opts(act="RELU6")),
    OpSpec("fc_batch2_per_tensor", ((2, 13),), lambda: L.Dense(5), "FULLY_CONNECTED", _opts(), PER_TENSOR),
    # AVERAGE_POOL_2D / MAX_POOL_2D
    OpSpec("avgpool_valid_2x2_s2", IMG, lambda: L.AveragePooling2D(2, 2, padding="valid"),
           "AVERAGE_POOL_2D", _opts("VALID", 2, pool=(2, 2))),
    OpSpec("avgpool_same_3x3_s2", IMG, lambda: L.AveragePooling2D(3, 2, padding="same"),
           "AVERAGE_POOL_2D", _opts("SAME", 2, pool=(3, 3))),
    OpSpec("avgpool_same_3x3_s1_relu6", IMG, _then_act(lambda: L.AveragePooling2D(3, 1, padding="same"), "relu6"),
           "AVERAGE_POOL_2D", _opts("SAME", 1, "RELU6", pool=(3, 3))),
    OpSpec("maxpool_valid_2x2_s2", IMG, lambda: L.MaxPooling2D(2, 2, padding="valid"),
           "MAX_POOL_2D", _opts("VALID", 2, pool=(2, 2))),
    OpSpec("maxpool_same_3x3_s2", IMG, lambda: L.MaxPooling2D(3, 2, padding="same"),
           "MAX_POOL_2D", _opts("SAME", 2, pool=(3, 3))),
    OpSpec("maxpool_same_2x3_s1_relu", IMG, _then_act(lambda: L.MaxPooling2D((2, 3), 1, padding="same"), "relu"),
           "MAX_POOL_2D", _opts("SAME", 1, "RELU", pool=(2, 3))),
    # RESHAPE
    OpSpec("reshape_4d_to_2d", ((1, 4, 6, 3),), lambda: L.Flatten(), "RESHAPE"),
    OpSpec("reshape_2d_to_3d", ((1, 24),), lambda: L.Reshape((4, 6)), "RESHAPE"),
    # SOFTMAX
    OpSpec("softmax_vector", ((1, 10),), lambda: L.Softmax(), "SOFTMAX"),
    OpSpec("softmax_3d_last_axis", ((1, 5, 7),), lambda: L.Softmax(axis=-1), "SOFTMAX"),
    # ADD
    OpSpec("add_same_shape", ((1, 4, 4, 8), (1, 4, 4, 8)), L.Add, "ADD", _opts()),
    OpSpec("add_broadcast_w", ((1, 4, 4, 8), (1, 4, 1, 8)), L.Add, "ADD", _opts()),
    OpSpec("add_broadcast_c_relu", ((1, 3, 5, 6), (1, 3, 5, 1)), _then_act(L.Add, "relu"), "ADD", _opts(act="RELU")),
    OpSpec("add_relu", ((1, 5, 3, 3), (1, 5, 3, 3)), _then_act(L.Add, "relu"), "ADD", _opts(act="RELU")),
    # The converter rewrites a [1,1,1,C] operand as RESHAPE to [C] plus a rank-mismatched ADD.
    OpSpec("add_broadcast_vector", ((1, 4, 4, 8), (1, 1, 1, 8)), L.Add, "ADD", _opts(), ops=("RESHAPE", "ADD")),
    # QUANTIZE / DEQUANTIZE around int8 ops
    OpSpec("quantize_conv2d_dequantize", IMG, lambda: L.Conv2D(4, 3, padding="same"), "CONV_2D",
           _opts("SAME", 1), FLOAT_IO, ("QUANTIZE", "CONV_2D", "DEQUANTIZE")),
    OpSpec("quantize_fc", ((1, 12),), lambda: L.Dense(6), "QUANTIZE", conversion=FLOAT_IN,
           ops=("QUANTIZE", "FULLY_CONNECTED")),
    OpSpec("softmax_dequantize", ((1, 10),), lambda: L.Softmax(), "DEQUANTIZE", conversion=FLOAT_OUT,
           ops=("SOFTMAX", "DEQUANTIZE")),
    # float32
    OpSpec("conv2d_same_s2_relu_float32", IMG, lambda: L.Conv2D(5, 3, strides=2, padding="same", activation="relu"),
           "CONV_2D", _opts("SAME", 2, "RELU", 1), FLOAT),
    OpSpec("dwconv_valid_m2_float32", IMG, lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid"),
           "DEPTHWISE_CONV_2D", _opts("VALID", 1, "NONE", 1, 2), FLOAT),
    OpSpec("fc_relu_float32", ((1, 37),), lambda: L.Dense(11, activation="relu"), "FULLY_CONNECTED",
           _opts(act="RELU"), FLOAT),
    OpSpec("avgpool_same_3x3_s2_float32", IMG, lambda: L.AveragePooling2D(3, 2, padding="same"),
           "AVERAGE_POOL_2D", _opts("SAME", 2, pool=(3, 3)), FLOAT),
    OpSpec("maxpool_valid_2x2_s2_float32", IMG, lambda: L.MaxPooling2D(2, 2, padding="valid"),
           "MAX_POOL_2D", _opts("VALID", 2, pool=(2, 2)), FLOAT),
    OpSpec("softmax_3d_last_axis_float32", ((1, 5, 7),), lambda: L.Softmax(axis=-1), "SOFTMAX", conversion=FLOAT),
    OpSpec("add_broadcast_relu_float32", ((1, 4, 4, 8), (1, 4, 1, 8)), _then_act(L.Add, "relu"), "ADD",
           _opts(act="RELU"), FLOAT),
]


def build_single_op(spec: OpSpec) -> tuple[keras.Model, list[list[np.ndarray]]]:
    """Build ``spec``'s one-layer Keras model with random biases and its calibration set.

    Input ``i`` is calibrated on an asymmetric range that grows with ``i``, so
    zero points are non-zero and two-input ops see different scales.
    """
    reset_keras(seed_of(spec.name))
    rng = np.random.default_rng(seed_of(spec.name))
    inputs = [keras.Input(shape[1:], batch_size=shape[0], name=f"input_{i}") for i, shape in enumerate(spec.inputs)]
    layer = spec.layer()
    outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    model = keras.Model(inputs, outputs, name=spec.name)
    for weight in model.weights:
        # Keras zero-initializes biases, which would leave the bias path untested.
        if weight.path.endswith("bias"):
            weight.assign(rng.normal(0.0, 0.3, weight.shape).astype(np.float32))
    representative = [
        [rng.uniform(-1.0, 2.0 + i, shape).astype(np.float32) for i, shape in enumerate(spec.inputs)]
        for _ in range(32)
    ]
    return model, representative


# --------------------------------------------------------------------------
# Single-op models written as TensorFlow functions
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FunctionSpec:
    """One single-op model for an op Keras has no layer for: a TensorFlow function of its inputs.

    ``build`` gets the model's seeded generator and returns the function, or a
    ``tf.Module`` whose ``__call__`` is the function when the model holds
    variables (converted with resource variables enabled).  ``ops`` is the main
    graph's exact operator list, ``subgraph_ops`` those of the other subgraphs
    (control-flow branches and bodies, variable initialisation).
    """

    name: str
    inputs: tuple[tuple[int, ...], ...]
    build: Callable[[np.random.Generator], Callable]
    ops: tuple[str, ...]
    conversion: Conversion = FLOAT
    dtypes: tuple[str, ...] = ()  # per input; float32 where empty
    subgraph_ops: tuple[tuple[str, ...], ...] = ()
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def op(self) -> str:
        """The op the model is about: the main graph's last (the ones before it feed it)."""
        return self.ops[-1]

    @property
    def expected_ops(self) -> tuple[str, ...]:
        return self.ops

    @property
    def input_dtypes(self) -> tuple[str, ...]:
        return self.dtypes or ("float32",) * len(self.inputs)


def _fixed(function: Callable) -> Callable[[np.random.Generator], Callable]:
    """A ``build`` for a function that draws no random constants."""
    return lambda rng: function


def _if_add_else_mul(pred, x):
    return tf.cond(pred, lambda: x + 1.5, lambda: x * -0.5)


def _while_3_steps(x):
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 0.5 + 1.0), [tf.constant(0), x])
    return y


class _Accumulator(tf.Module):
    """A variable (random initial value) that every call adds its input to and returns."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...]):
        super().__init__()
        self.total = tf.Variable(rng.normal(0.0, 1.0, shape).astype(np.float32))

    def __call__(self, x):
        self.total.assign_add(x)
        return self.total.read_value()


def _dynamic_update_slice(operand, update):
    # The converter turns XLA's op into DYNAMIC_UPDATE_SLICE; constant start indices keep it a single op.
    from tensorflow.compiler.tf2xla.python import xla
    return xla.dynamic_update_slice(operand, update, tf.constant([0, 1, 2]))


def _matmul_by_constant(shape: tuple[int, ...]) -> Callable[[np.random.Generator], Callable]:
    """A ``build`` multiplying the input by a random constant right-hand side of ``shape``."""
    return lambda rng: (lambda x: tf.linalg.matmul(x, tf.constant(rng.normal(0.0, 1.0, shape).astype(np.float32))))


SEQ = (1, 4, 6)
_NO_ADJ = {"AdjX": False, "AdjY": False}

FUNCTION_OPS = [
    # Elementwise float ops: the converter quantizes none of them (it wraps them in DEQUANTIZE/QUANTIZE).
    FunctionSpec("floor_float32", (SEQ,), _fixed(tf.math.floor), ("FLOOR",)),
    FunctionSpec("ceil_float32", (SEQ,), _fixed(tf.math.ceil), ("CEIL",)),
    FunctionSpec("round_float32", (SEQ,), _fixed(tf.math.round), ("ROUND",)),
    FunctionSpec("sin_float32", (SEQ,), _fixed(tf.math.sin), ("SIN",)),
    FunctionSpec("cos_float32", (SEQ,), _fixed(tf.math.cos), ("COS",)),
    FunctionSpec("square_float32", (SEQ,), _fixed(tf.math.square), ("SQUARE",)),
    FunctionSpec("floor_div_float32", (SEQ, (1, 1, 6)), _fixed(tf.math.floordiv), ("FLOOR_DIV",)),
    FunctionSpec("floor_mod_float32", (SEQ, SEQ), _fixed(tf.math.floormod), ("FLOOR_MOD",)),
    FunctionSpec("add_n_float32", (SEQ, SEQ, SEQ), _fixed(lambda a, b, c: tf.math.add_n([a, b, c])),
                 ("ADD_N",)),
    FunctionSpec("cumsum_axis1_float32", (SEQ,), _fixed(lambda x: tf.math.cumsum(x, axis=1)), ("CUMSUM",),
                 options={"Exclusive": False, "Reverse": False}),
    FunctionSpec("cumsum_exclusive_float32", (SEQ,), _fixed(lambda x: tf.math.cumsum(x, axis=1, exclusive=True)),
                 ("CUMSUM",), options={"Exclusive": True, "Reverse": False}),
    FunctionSpec("cumsum_exclusive_reverse_float32", (SEQ,),
                 _fixed(lambda x: tf.math.cumsum(x, axis=2, exclusive=True, reverse=True)), ("CUMSUM",),
                 options={"Exclusive": True, "Reverse": True}),
    # Ops the converter quantizes, int8 and float32.
    FunctionSpec("reverse_v2_axis1", (SEQ,), _fixed(lambda x: tf.reverse(x, [1])), ("REVERSE_V2",), INT8),
    FunctionSpec("reverse_v2_axis1_int16", (SEQ,), _fixed(lambda x: tf.reverse(x, [1])), ("REVERSE_V2",), INT16),
    FunctionSpec("reverse_v2_axis1_float32", (SEQ,), _fixed(lambda x: tf.reverse(x, [1])), ("REVERSE_V2",)),
    FunctionSpec("log_softmax", (SEQ,), _fixed(tf.nn.log_softmax), ("LOG_SOFTMAX",), INT8),
    FunctionSpec("log_softmax_float32", (SEQ,), _fixed(tf.nn.log_softmax), ("LOG_SOFTMAX",)),
    FunctionSpec("batch_matmul", ((2, 3, 4), (2, 4, 5)), _fixed(tf.linalg.matmul), ("BATCH_MATMUL",), INT8,
                 options=_NO_ADJ),
    FunctionSpec("batch_matmul_broadcast", ((2, 3, 4), (1, 4, 5)), _fixed(tf.linalg.matmul), ("BATCH_MATMUL",),
                 INT8, options=_NO_ADJ),
    FunctionSpec("batch_matmul_const_rhs", ((2, 3, 4),), _matmul_by_constant((2, 4, 5)), ("BATCH_MATMUL",), INT8,
                 options=_NO_ADJ),
    FunctionSpec("batch_matmul_int16", ((2, 3, 4), (2, 4, 5)), _fixed(tf.linalg.matmul), ("BATCH_MATMUL",), INT16,
                 options=_NO_ADJ),
    FunctionSpec("batch_matmul_float32", ((2, 3, 4), (2, 4, 5)), _fixed(tf.linalg.matmul), ("BATCH_MATMUL",),
                 options=_NO_ADJ),
    FunctionSpec("batch_matmul_adj_x_float32", ((2, 4, 3), (2, 4, 5)),
                 _fixed(lambda a, b: tf.linalg.matmul(a, b, transpose_a=True)), ("BATCH_MATMUL",),
                 options={"AdjX": True, "AdjY": False}),
    FunctionSpec("batch_matmul_adj_y_float32", ((2, 3, 4), (2, 5, 4)),
                 _fixed(lambda a, b: tf.linalg.matmul(a, b, transpose_b=True)), ("BATCH_MATMUL",),
                 options={"AdjX": False, "AdjY": True}),
    # The second input calibrates on [-1, 3], so the int8 divisor stays in [2, 6], never at its zero point.
    FunctionSpec("div_int8", (SEQ, SEQ), _fixed(lambda a, b: a / (b + 3.0)), ("ADD", "DIV"), INT8),
    FunctionSpec("maximum_int64", ((2, 5), (2, 5)), _fixed(tf.math.maximum), ("MAXIMUM",),
                 dtypes=("int64", "int64")),
    # Rows of two fair coins: each output is true one time in four, so outputs vary with the input.
    FunctionSpec("reduce_all_axis1", ((4, 2),), _fixed(lambda x: tf.reduce_all(x, axis=1)), ("REDUCE_ALL",),
                 dtypes=("bool",)),
    FunctionSpec("dynamic_update_slice_float32", (SEQ, (1, 2, 3)), _fixed(_dynamic_update_slice),
                 ("DYNAMIC_UPDATE_SLICE",)),
    # Control flow and resource variables: the op plus the subgraphs it runs.
    FunctionSpec("if_add_else_mul_float32", ((), SEQ), _fixed(_if_add_else_mul), ("IF",),
                 dtypes=("bool", "float32"), subgraph_ops=(("MUL",), ("ADD",))),
    FunctionSpec("while_3_steps_float32", (SEQ,), _fixed(_while_3_steps), ("WHILE",),
                 subgraph_ops=(("LESS",), ("ADD", "MUL", "ADD"))),
    FunctionSpec("variable_accumulate_float32", (SEQ,), lambda rng: _Accumulator(rng, SEQ),
                 ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ADD", "ASSIGN_VARIABLE", "READ_VARIABLE"),
                 subgraph_ops=(("VAR_HANDLE", "ASSIGN_VARIABLE"),)),
]


def convert_function(spec: FunctionSpec) -> bytes:
    """Trace ``spec``'s function on its input signature and convert it as its conversion says.

    Float input ``i`` is calibrated on an asymmetric range that grows with
    ``i``, as for the Keras single-op models.
    """
    rng = np.random.default_rng(seed_of(spec.name))
    target = spec.build(rng)
    module = target if isinstance(target, tf.Module) else None
    signature = [tf.TensorSpec(shape, dtype, name=f"input_{i}")
                 for i, (shape, dtype) in enumerate(zip(spec.inputs, spec.input_dtypes, strict=True))]
    # autograph off: the functions call tf.cond / tf.while_loop themselves.
    function = tf.function(module.__call__ if module else target, input_signature=signature, autograph=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], module)
    if module:
        converter.experimental_enable_resource_variables = True
    representative = [
        [rng.integers(0, 2, shape).astype(np.bool_) if dtype == "bool"
         else rng.uniform(-1.0, 2.0 + i, shape).astype(np.float32)
         for i, (shape, dtype) in enumerate(zip(spec.inputs, spec.input_dtypes, strict=True))]
        for _ in range(32)
    ]
    return stable_names(_finish(converter, spec.conversion, lambda: iter(representative)))


_TRACE_UID = re.compile(rb"^(cond_(?:true|false))_\d+")


def stable_names(data: bytes) -> bytes:
    """Drop the process-wide trace counter TensorFlow appends to tf.cond branch names.

    The counter depends on what was traced earlier in the process: left in, an
    IF model's subgraph and tensor names, so its bytes, would differ between a
    full run and ``--only``.  Files without such names are returned untouched.
    """
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    renamed = False
    for subgraph in model.subgraphs:
        for item in (subgraph, *subgraph.tensors):
            name = _TRACE_UID.sub(rb"\1", item.name)
            renamed |= name != item.name
            item.name = name
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)) if renamed else data


def check_subgraphs(spec: FunctionSpec, data: bytes) -> None:
    """Raise unless the subgraphs other than the main one hold exactly ``spec.subgraph_ops``."""
    found = tuple(tuple(ops) for ops in TFLiteFile(data).subgraph_ops()[1:])
    if found != spec.subgraph_ops:
        raise RuntimeError(f"{spec.name}: expected subgraph ops {spec.subgraph_ops}, converter emitted {found}")


# --------------------------------------------------------------------------
# Inspecting .tflite files
# --------------------------------------------------------------------------

_OPTION_CLASSES = {
    "CONV_2D": tflite.Conv2DOptions,
    "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
    "AVERAGE_POOL_2D": tflite.Pool2DOptions,
    "MAX_POOL_2D": tflite.Pool2DOptions,
    "FULLY_CONNECTED": tflite.FullyConnectedOptions,
    "ADD": tflite.AddOptions,
    "BATCH_MATMUL": tflite.BatchMatMulOptions,
    "CUMSUM": tflite.CumsumOptions,
}
_OPTION_FIELDS = ("Padding", "StrideH", "StrideW", "DilationHFactor", "DilationWFactor", "DepthMultiplier",
                  "FilterHeight", "FilterWidth", "FusedActivationFunction", "AdjX", "AdjY", "Exclusive", "Reverse")
_ENUM_FIELDS = {"Padding": PADDINGS, "FusedActivationFunction": ACTIVATIONS}


class TFLiteFile:
    """Read-only view of a flatbuffer's first subgraph through the ``tflite`` schema package."""

    def __init__(self, data: bytes):
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)

    def op_name(self, op) -> str:
        """Builtin name of ``op``, reading whichever of the two opcode fields is set."""
        code = self.model.OperatorCodes(op.OpcodeIndex())
        return BUILTIN_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]

    def subgraph_ops(self) -> list[list[str]]:
        """Builtin names of every subgraph's operators, main graph first."""
        graphs = [self.model.Subgraphs(i) for i in range(self.model.SubgraphsLength())]
        return [[self.op_name(g.Operators(j)) for j in range(g.OperatorsLength())] for g in graphs]

    def operators(self) -> list:
        """Operators in execution order (TFLM runs them in stored order)."""
        return [self.graph.Operators(i) for i in range(self.graph.OperatorsLength())]

    def shape(self, index: int) -> list[int]:
        """Shape of tensor ``index``."""
        return [int(d) for d in self.graph.Tensors(index).ShapeAsNumpy()] if index >= 0 else []

    def scales(self, index: int) -> list[float]:
        """Quantization scales of tensor ``index`` (empty for float tensors)."""
        quant = self.graph.Tensors(index).Quantization()
        return [] if quant is None or quant.ScaleLength() == 0 else [float(s) for s in quant.ScaleAsNumpy()]

    def options(self, op) -> dict:
        """Builtin options of ``op`` that are listed in ``_OPTION_FIELDS``, enums by name."""
        cls = _OPTION_CLASSES.get(self.op_name(op))
        table = op.BuiltinOptions()
        if cls is None or table is None:
            return {}
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        found = {}
        for field in _OPTION_FIELDS:
            if hasattr(opts, field):
                value = getattr(opts, field)()
                found[field] = _ENUM_FIELDS[field][value] if field in _ENUM_FIELDS else value
        return found

    def macs(self) -> int:
        """Multiply-accumulates of one inference, counted for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
        and BATCH_MATMUL."""
        total = 0
        for op in self.operators():
            name = self.op_name(op)
            if name == "BATCH_MATMUL":
                opts = tflite.BatchMatMulOptions()
                table = op.BuiltinOptions()
                adj_x = False
                if table is not None:
                    opts.Init(table.Bytes, table.Pos)
                    adj_x = bool(opts.AdjX())
                lhs = self.shape(op.Inputs(0))
                total += int(np.prod(self.shape(op.Outputs(0)))) * (lhs[-2] if adj_x else lhs[-1])
                continue
            if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                continue
            out_elems = int(np.prod(self.shape(op.Outputs(0))))
            weights = self.shape(op.Inputs(1))
            # Filter layouts: conv [OC, KH, KW, IC/groups], depthwise [1, KH, KW, OC], fc [units, depth].
            if name == "CONV_2D":
                per_output = weights[1] * weights[2] * weights[3]
            elif name == "DEPTHWISE_CONV_2D":
                per_output = weights[1] * weights[2]
            else:
                per_output = weights[1]
            total += out_elems * per_output
        return total

    def io(self, indices) -> list[dict]:
        """Shape, dtype and (per-tensor) quantization of the graph inputs or outputs in ``indices``."""
        described = []
        for index in indices:
            tensor = self.graph.Tensors(index)
            scales = self.scales(index)
            quant = tensor.Quantization()
            described.append({
                "name": tensor.Name().decode(),
                "shape": self.shape(index),
                "dtype": TENSOR_TYPES[tensor.Type()],
                "scale": scales[0] if scales else None,
                "zero_point": int(quant.ZeroPointAsNumpy()[0]) if scales else None,
            })
        return described

    def inputs(self) -> list[dict]:
        """Graph inputs, see :meth:`io`."""
        return self.io(self.graph.InputsAsNumpy())

    def outputs(self) -> list[dict]:
        """Graph outputs, see :meth:`io`."""
        return self.io(self.graph.OutputsAsNumpy())


def check_single_op(spec: OpSpec | FunctionSpec, data: bytes) -> None:
    """Raise if the converted file is not exactly the op, options and I/O types ``spec`` asked for."""
    model = TFLiteFile(data)
    ops = model.operators()
    names = tuple(model.op_name(op) for op in ops)
    if names != spec.expected_ops:
        raise RuntimeError(f"{spec.name}: expected ops {spec.expected_ops}, converter emitted {names}")
    main = ops[names.index(spec.op)]
    options = model.options(main)
    wrong = {k: (v, options.get(k)) for k, v in spec.options.items() if options.get(k) != v}
    if wrong:
        raise RuntimeError(f"{spec.name}: {spec.op} options (wanted, got): {wrong}")
    conv = spec.conversion
    expected_io = {"input": conv.input_type.name, "output": conv.output_type.name}
    # Non-float inputs (bool predicates, int64) are never quantized and may flow through to the output.
    untouched = set(spec.input_dtypes) - {"float32"}
    for kind, tensors in (("input", model.inputs()), ("output", model.outputs())):
        if any(t["dtype"] not in {expected_io[kind], *untouched} for t in tensors):
            raise RuntimeError(f"{spec.name}: {kind} types {[t['dtype'] for t in tensors]}, "
                               f"wanted {expected_io[kind]}")
    if conv.quantize and spec.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        channels = model.shape(main.Inputs(1))[3 if spec.op == "DEPTHWISE_CONV_2D" else 0]
        wanted = channels if conv.per_channel else 1
        got = len(model.scales(main.Inputs(1)))
        if got != wanted:
            raise RuntimeError(f"{spec.name}: {got} weight scales, wanted {wanted}")


# --------------------------------------------------------------------------
# TFLite Micro
# --------------------------------------------------------------------------

_ALLOCATION_SCRIPT = (
    "import sys\n"
    "from tflite_micro.python.tflite_micro import runtime as r\n"
    "r.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2])).print_allocations()\n"
)


def tflm_arena(path: Path) -> dict[str, int]:
    """TFLM arena head and tail bytes for ``path``.

    The recording allocator prints from C++ straight to fd 2, which Python
    cannot redirect in-process, hence the subprocess.
    """
    result = subprocess.run([sys.executable, "-c", _ALLOCATION_SCRIPT, str(path), str(ARENA_SIZE)],
                            capture_output=True, text=True, check=True)
    found = dict(re.findall(r"allocation (head|tail) (\d+) bytes", result.stderr + result.stdout))
    if set(found) != {"head", "tail"}:
        raise RuntimeError(f"{path}: no arena head/tail in TFLM output:\n{result.stderr}")
    return {kind: int(value) for kind, value in found.items()}


def _random_input(rng: np.random.Generator, tensor: dict) -> np.ndarray:
    dtype = np.dtype(tensor["dtype"])
    if dtype == np.bool_:
        return rng.integers(0, 2, tensor["shape"]).astype(np.bool_)
    if dtype.kind == "i":
        return rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, tensor["shape"], dtype=dtype, endpoint=True)
    return rng.normal(0.0, 1.0, tensor["shape"]).astype(np.float32)


def tflm_smoke_test(name: str, data: bytes, must_vary: bool, runs: int = 8) -> None:
    """Run ``data`` in TFLM on random inputs.

    With ``must_vary``, raise unless at least half the runs give distinct
    outputs: a network whose output hardly depends on its input (dead ReLUs,
    saturated softmax) is useless as a reference.
    """
    model = TFLiteFile(data)
    rng = np.random.default_rng(seed_of(name))
    interpreter = tflm.Interpreter.from_bytes(data, arena_size=ARENA_SIZE)
    seen = set()
    for _ in range(runs):
        for i, tensor in enumerate(model.inputs()):
            interpreter.set_input(_random_input(rng, tensor), i)
        interpreter.invoke()
        seen.add(b"".join(interpreter.get_output(i).tobytes() for i in range(len(model.outputs()))))
    if must_vary and len(seen) < runs // 2:
        raise RuntimeError(f"{name}: only {len(seen)} distinct TFLM outputs for {runs} random inputs")


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def describe(path: Path, description: str, kind: str) -> dict:
    """Manifest entry for one written model."""
    data = path.read_bytes()
    model = TFLiteFile(data)
    ops, *subgraph_ops = model.subgraph_ops()
    entry = {
        "kind": kind,
        "description": description,
        "ops": ops,
        # Every builtin the model needs, those of control-flow and initialisation subgraphs included.
        "op_set": sorted(set(ops).union(*subgraph_ops)),
        "inputs": model.inputs(),
        "outputs": model.outputs(),
        "macs": model.macs(),
        "size_bytes": len(data),
        "tflm_arena": tflm_arena(path),
        "tensorflow_version": tf.__version__,
        # Arena sizes are a property of the TFLM build as much as of the model.
        "tflite_micro_version": importlib.metadata.version("tflite-micro"),
    }
    if subgraph_ops:
        entry["subgraph_ops"] = subgraph_ops
    return entry


def _single_op_description(spec: OpSpec) -> str:
    conv = spec.conversion
    numeric = "int8" if conv.quantize else "float32"
    if conv.quantize and {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} & set(spec.expected_ops):
        numeric += ", per-channel weights" if conv.per_channel else ", per-tensor weights"
    if conv.quantize and tf.float32 in (conv.input_type, conv.output_type):
        numeric += f", {conv.input_type.name} in, {conv.output_type.name} out"
    shapes = " + ".join("x".join(map(str, s)) for s in spec.inputs)
    return f"{' -> '.join(spec.expected_ops)} on {shapes} ({numeric})"


def _function_description(spec: FunctionSpec) -> str:
    dtypes = [spec.conversion.input_type.name if d == "float32" else d for d in spec.input_dtypes]
    shapes = " + ".join("x".join(map(str, s)) or "scalar" for s in spec.inputs)
    text = f"{' -> '.join(spec.ops)} on {shapes} ({', '.join(dict.fromkeys(dtypes))})"
    if spec.subgraph_ops:
        text += "; subgraphs: " + ", ".join(" -> ".join(ops) for ops in spec.subgraph_ops)
    return text


def _selected(name: str, patterns: Sequence[str] | None) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def generate(out_dir: Path, patterns: Sequence[str] | None) -> dict[str, dict]:
    """Build, convert, check and describe every selected model; return new manifest entries."""
    entries: dict[str, dict] = {}

    def emit(relative: str, data: bytes, description: str, kind: str, must_vary: bool) -> None:
        tflm_smoke_test(relative, data, must_vary)
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries[relative] = describe(path, description, kind)
        arena = entries[relative]["tflm_arena"]
        print(f"{relative:50s} {len(data):8d} B  head {arena['head']:7d}  tail {arena['tail']:6d}  "
              f"{' '.join(entries[relative]['op_set'])}", flush=True)

    for net in NETWORKS:
        wanted = [c for c in net.conversions if _selected(net.name + c.suffix, patterns)]
        if not wanted:
            continue
        with quiet():
            model, representative = build_network(net)
        for conversion in wanted:
            name = net.name + conversion.suffix
            kind = "hello_world" if net.task == "sine" else "mlperf_tiny"
            numeric = "float32" if not conversion.quantize else "int8"
            with quiet():
                data = convert(model, representative, conversion)
            emit(f"{name}.tflite", data, f"{net.description} ({numeric})", kind, True)

    for spec in SINGLE_OPS:
        if not _selected(spec.name, patterns):
            continue
        with quiet():
            model, representative = build_single_op(spec)
            data = convert(model, representative, spec.conversion)
        check_single_op(spec, data)
        emit(f"single_op/{spec.name}.tflite", data, _single_op_description(spec), "single_op", False)

    for spec in FUNCTION_OPS:
        if not _selected(spec.name, patterns):
            continue
        with quiet():
            data = convert_function(spec)
        check_single_op(spec, data)
        check_subgraphs(spec, data)
        emit(f"single_op/{spec.name}.tflite", data, _function_description(spec), "single_op", False)
    return entries


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="model names or shell patterns to regenerate")
    args = parser.parse_args(argv)

    known = [n.name + c.suffix for n in NETWORKS for c in n.conversions] + [s.name for s in SINGLE_OPS + FUNCTION_OPS]
    for pattern in args.only or []:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in known):
            parser.error(f"--only {pattern!r} matches no model; known: {', '.join(known)}")

    args.out.mkdir(parents=True, exist_ok=True)
    entries = generate(args.out, args.only)

    manifest_path = args.out / "manifest.json"
    # --only refreshes some entries; the others stay as previously generated.
    models = json.loads(manifest_path.read_text())["models"] if args.only and manifest_path.exists() else {}
    models.update(entries)
    manifest = {
        "description": "Reference TinyML models generated by make_models.py; see README.md.",
        "models": dict(sorted(models.items())),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(entries)} models and {manifest_path}")


if __name__ == "__main__":
    main()
