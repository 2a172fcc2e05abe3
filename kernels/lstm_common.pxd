# cython: language_level=3
"""What both LSTM kernels share (lstm.pyx, the reference template over every path, and the compiled
steps in steps_lstm.pxi): the inter-gate parameters, the gate order and TFLM's element-wise helpers."""
from libc.float cimport FLT_MAX
from libc.stdint cimport int16_t, int32_t

from fixedpoint cimport clamp32, mbqm

# Gate order of `gate_params` rows and of the weight/bias pointer arrays (microinterp/ops/lstm.py).
cdef enum:
    FORGET = 0
    INPUT = 1
    CELL = 2
    OUTPUT = 3

# Columns of a `gate_params` row.
cdef enum:
    INPUT_MULTIPLIER = 0
    INPUT_SHIFT = 1
    INPUT_WEIGHT_OFFSET = 2
    RECURRENT_MULTIPLIER = 3
    RECURRENT_SHIFT = 4
    RECURRENT_WEIGHT_OFFSET = 5


cdef struct LstmParams:
    # Quantized paths only (zeros on the float path), except clip and cell_clip.
    int32_t input_offset            # -input zero point
    int32_t hidden_offset           # -hidden zero point (the recurrent FCs' input offset)
    int32_t forget_cell_multiplier  # forget gate x cell state -> cell state
    int forget_cell_shift
    int32_t input_cell_multiplier   # input gate x cell gate -> cell state
    int input_cell_shift
    int32_t hidden_multiplier       # tanh(cell) x output gate -> hidden state
    int hidden_shift
    int32_t hidden_zero_point
    bint clip                       # cell_clip > 0
    float cell_clip
    int16_t quantized_cell_clip
    int32_t cell_tanh_multiplier    # Tanh of the cell state at its scale (0: 3 << shift, no shift)
    int cell_tanh_shift


cdef inline float clamp_float(float x) noexcept nogil:
    # ActivationFunctionWithMinMax with no activation: bounds are +-FLT_MAX (NaN passes through).
    if x < -FLT_MAX:
        x = -FLT_MAX
    if FLT_MAX < x:
        x = FLT_MAX
    return x


cdef inline float clip_float(float x, float clip) noexcept nogil:
    # std::max(std::min(clip, x), -clip), operand order included.
    x = x if x < clip else clip
    return -clip if x < -clip else x


cdef inline int16_t clip_int16(int16_t x, int16_t clip) noexcept nogil:
    cdef int16_t low = <int16_t>(-clip)
    x = x if x < clip else clip
    return low if x < low else x


cdef inline int32_t mul_elementwise(int32_t a, int32_t b, int32_t multiplier, int shift, int32_t offset,
                                    int32_t lo, int32_t hi) noexcept nogil:
    """reference_integer_ops::MulElementwise for one element (input offsets are 0: gates are symmetric)."""
    return clamp32(offset + mbqm(a * b, multiplier, shift), lo, hi)
