# cython: language_level=3
"""Types and the output step shared by the multiply-accumulate kernels (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED), so each op keeps one loop for every TFLM data path.

A data path is a triple of fused types:
  act_t     activations (input and output): int8 / int16 (quantized_t) or float32;
  weight_t  filter: int8 for both quantized paths, float32 for the float path;
  acc_t     accumulator, which is always the bias type: int32 (int8 activations; 16x8 with int32 bias),
            int64 (16x8 with int64 bias) or float32. TFLM picks the requantization overload from the
            accumulator type, and so does store_output.
Cython compiles every combination; the ops only ever bind the meaningful ones.
"""
from libc.stdint cimport int8_t, int32_t, int64_t

from fixedpoint cimport mbqm, mbqm_int64, quantized_t

ctypedef fused act_t:
    quantized_t
    float

ctypedef fused weight_t:
    int8_t
    float

ctypedef fused acc_t:
    int32_t
    int64_t
    float


cdef inline void store_output(act_t* out, acc_t acc, acc_t bias, int32_t multiplier, int shift,
                              int32_t output_zp, acc_t act_min, acc_t act_max) noexcept nogil:
    """TFLM's epilogue: add the bias, requantize (quantized paths), add the output zero point, clamp.

    The clamp is max-then-min like ActivationFunctionWithMinMax / std::max+std::min, which also
    lets a float NaN through exactly as TFLM does.
    """
    cdef acc_t total
    cdef int32_t scaled
    if acc_t is float:
        total = acc + bias
        if total < act_min:
            total = act_min
        if act_max < total:
            total = act_max
        out[0] = <act_t>total
    else:
        total = acc + bias
        if acc_t is int64_t:
            scaled = mbqm_int64(total, multiplier, shift)
        else:
            scaled = mbqm(total, multiplier, shift)
        scaled = scaled + output_zp
        if scaled < act_min:
            scaled = <int32_t>act_min
        if act_max < scaled:
            scaled = <int32_t>act_max
        out[0] = <act_t>scaled
