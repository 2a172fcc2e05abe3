# cython: language_level=3
"""SVDF, bit-exact with TFLM's reference kernel (micro/kernels/svdf_common.cc), one template over the data path.

A data path is a triple of fused types:
  feature_t  input, feature weights and output: int8 or float32;
  state_t    time weights and the activation state: int8 / int16 (quantized) or float32;
  acc_t      bias and scratch: int32 (quantized) or float32.
Cython compiles every combination; the op only binds (int8, int8, int32), (int8, int16, int32) and
(float, float, float).

One invoke: shift the whole flat state left by one element, write each filter's feature dot product
into the newest column of its memory, take each filter's dot product with its time weights, sum
`rank` consecutive filters per unit on top of the bias, then requantize (quantized) or apply the fused
activation (float; TFLM's int8 path ignores it).
"""
from libc.math cimport fmaxf, fminf, signbit, tanhf
from libc.stdint cimport int8_t, int16_t, int32_t
from libc.string cimport memmove

from fixedpoint cimport clamp32, mbqm

ctypedef fused feature_t:
    int8_t
    float

ctypedef fused state_t:
    int8_t
    int16_t
    float

ctypedef fused acc_t:
    int32_t
    float

# ActivationFunctionType codes of the schema, as TFLM's ActivationValFloat handles them.
cdef enum:
    ACT_NONE = 0
    ACT_RELU = 1
    ACT_RELU_N1_TO_1 = 2
    ACT_RELU6 = 3
    ACT_TANH = 4
    ACT_SIGN_BIT = 5


cdef inline float activation_float(int activation, float x) noexcept nogil:
    """ActivationValFloat: TfLiteMax/TfLiteMin are fmaxf/fminf in TFLM's default build."""
    if activation == ACT_RELU:
        return fmaxf(0.0, x)
    if activation == ACT_RELU_N1_TO_1:
        return fmaxf(-1.0, fminf(x, 1.0))
    if activation == ACT_RELU6:
        return fmaxf(0.0, fminf(x, 6.0))
    if activation == ACT_TANH:
        return tanhf(x)
    if activation == ACT_SIGN_BIT:
        return 1.0 if signbit(x) else 0.0
    return x


def svdf(const feature_t[:, ::1] input, const feature_t[:, ::1] weights_feature,
         const state_t[:, ::1] weights_time, const acc_t[::1] bias, state_t[::1] state,
         feature_t[:, ::1] output, acc_t[:, ::1] scratch, acc_t[:, ::1] scratch_output, int rank,
         int32_t input_zp, int32_t state_zp, int32_t output_zp, int32_t feature_multiplier,
         int feature_shift, int32_t output_multiplier, int output_shift, int activation):
    """One SVDF invoke: update `state` in place and write `output`.

    Shapes (validated by the op): input [batch, input_size], weights_feature [filters, input_size],
    weights_time [filters, memory], bias [units], state [batch * filters * memory] (flat), output and
    scratch_output [batch, units], scratch [batch, filters], units = filters / rank. On the float path
    scratch_output may be the output itself (TFLM sums there directly); zero points, multipliers and
    shifts are then unused.
    """
    cdef Py_ssize_t batches = input.shape[0], input_size = input.shape[1]
    cdef Py_ssize_t filters = weights_feature.shape[0], memory = weights_time.shape[1]
    cdef Py_ssize_t units = scratch_output.shape[1]
    cdef Py_ssize_t b, f, u, j, d
    cdef state_t* column
    cdef const state_t* history
    cdef const state_t* w_time
    cdef const feature_t* x
    cdef const feature_t* w
    cdef int32_t state_lo = -128 if state_t is int8_t else -32768
    cdef int32_t state_hi = 127 if state_t is int8_t else 32767
    cdef int32_t dot
    cdef float dot_f
    cdef acc_t acc
    with nogil:
        memmove(&state[0], &state[1], (batches * filters * memory - 1) * sizeof(state_t))
        # Feature matmul: the result of filter f lands in the newest (last) slot of its memory.
        for b in range(batches):
            x = &input[b, 0]
            for f in range(filters):
                w = &weights_feature[f, 0]
                column = &state[(b * filters + f) * memory + memory - 1]
                if state_t is float:
                    dot_f = 0.0
                    for d in range(input_size):
                        dot_f = dot_f + w[d] * x[d]
                    column[0] = <state_t>dot_f
                else:
                    dot = 0
                    for d in range(input_size):
                        dot = dot + <int32_t>w[d] * (<int32_t>x[d] - input_zp)
                    # As the tflite-micro build used as the oracle does: clamp to the state type, then add
                    # the state zero point and narrow, wrapping (newer TFLM sources add it before the clamp).
                    column[0] = <state_t>(clamp32(mbqm(dot, feature_multiplier, feature_shift), state_lo, state_hi)
                                          + state_zp)
        # Time: each filter's memory dotted with its time weights.
        for b in range(batches):
            for f in range(filters):
                history = &state[(b * filters + f) * memory]
                w_time = &weights_time[f, 0]
                acc = 0
                for j in range(memory):
                    if acc_t is float:
                        acc = acc + w_time[j] * history[j]
                    else:
                        acc = acc + <int32_t>w_time[j] * (<int32_t>history[j] - state_zp)
                scratch[b, f] = acc
        # Reduce: bias plus `rank` consecutive filters per unit.
        for b in range(batches):
            for u in range(units):
                acc = bias[u]
                for j in range(rank):
                    acc = acc + scratch[b, u * rank + j]
                scratch_output[b, u] = acc
        for b in range(batches):
            for u in range(units):
                if feature_t is float:
                    output[b, u] = <feature_t>activation_float(activation, <float>scratch_output[b, u])
                else:
                    output[b, u] = <feature_t>clamp32(
                        mbqm(<int32_t>scratch_output[b, u], output_multiplier, output_shift) + output_zp,
                        -128, 127)
