# cython: language_level=3
"""TFLM's int16 LOGISTIC/TANH (reference_integer_ops, sigmoid-table interpolation) and float LOGISTIC.

Inline, so that every kernel needing them (activations.pyx, the LSTM gates) cimports one definition.
The table is TFLM's sigmoid_table_uint16 (kernels/internal/common.h): sigmoid(i / 24) in Q0.16 for
i = 0..255, shared by both functions since tanh(x) = 2 sigmoid(2x) - 1. Its entries are fixed
data, not a rounding of the formula, so they are listed rather than computed.
"""
from libc.math cimport expf
from libc.stdint cimport int16_t, int32_t, uint16_t, uint32_t

cdef extern from *:
    """
    static const uint16_t microinterp_sigmoid_table_uint16[256] = {
        32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064,
        42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464,
        50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503,
        56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
        60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666,
        62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968,
        64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687,
        64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
        65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258, 65269, 65280, 65291,
        65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367, 65374, 65381, 65387, 65393, 65399, 65404,
        65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465,
        65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
        65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
        65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525, 65525,
        65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530,
        65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
        65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
        65535};
    """
    const uint16_t SIGMOID_TABLE "microinterp_sigmoid_table_uint16"[256]


cdef inline int32_t _table_input(int16_t x, int32_t multiplier, int left_shift) noexcept nogil:
    # Rescale to the table's input scale 1/(3 * 4096); multiplier 0 marks a power-of-two input scale,
    # handled as a multiplication by 3 << left_shift. The product wraps like TFLM's int32 arithmetic.
    if multiplier == 0:
        multiplier = 3 << left_shift
        left_shift = 0
    cdef int32_t rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    return <int32_t>(<uint32_t>x * <uint32_t>multiplier + <uint32_t>rounding) >> left_shift


cdef inline int16_t logistic_int16(int16_t x, int32_t multiplier, int left_shift) noexcept nogil:
    """reference_integer_ops::Logistic on int16: output Q0.15, table step 2^9 (interpolated on 9 bits)."""
    cdef int32_t value = _table_input(x, multiplier, left_shift)
    cdef uint32_t magnitude = <uint32_t>(-value if value < 0 else value)
    cdef uint32_t high = magnitude >> 9
    cdef uint32_t low, result
    if high >= 255:
        result = <uint32_t>0x7FFF << 10
    else:
        low = SIGMOID_TABLE[high]
        result = (low << 9) + (magnitude & 0x1FF) * (SIGMOID_TABLE[high + 1] - low)
    if value >= 0:
        result = result + (1 << 9)
    else:
        result = (<uint32_t>1 << 25) - result + (1 << 9) - 1
    return <int16_t>(result >> 10)


cdef inline int16_t tanh_int16(int16_t x, int32_t multiplier, int left_shift) noexcept nogil:
    """reference_integer_ops::Tanh on int16: output Q0.15, table step 2^8, tanh = 2 sigmoid(2x) - 1."""
    cdef int32_t value = _table_input(x, multiplier, left_shift)
    cdef uint32_t magnitude = <uint32_t>(-value if value < 0 else value)
    cdef uint32_t high = magnitude >> 8
    cdef uint32_t low
    cdef int32_t result
    if high >= 255:
        result = 0xFFFF << 8
    else:
        low = SIGMOID_TABLE[high]
        result = <int32_t>((low << 8) + (magnitude & 0xFF) * (SIGMOID_TABLE[high + 1] - low))
    if value >= 0:
        result = result - (1 << 23) + (1 << 7)
    else:
        result = -result + (1 << 23) + (1 << 7) - 1
    return <int16_t>(result >> 8)


cdef inline float logistic_float(float x) noexcept nogil:
    """reference_ops::Logistic on float: 1 above 16.619..., exp(x) below -9, else 1 / (1 + exp(-x))."""
    if x > <float>16.619047164916992188:
        return 1.0
    if x < <float>-9.0:
        return expf(x)
    return <float>1.0 / (<float>1.0 + expf(-x))
