# cython: language_level=3
"""UNIDIRECTIONAL_SEQUENCE_LSTM, bit-exact with TFLM's own kernel (micro/kernels/lstm_eval.h/.cc), one
template over the data path.

TFLM's EvalLstm<ActivationType, WeightType, CellType, BiasType> has three instantiations, each fixed by
the activation type, and so does `lstm`: act_t selects the path and the other arrays arrive as byte
views read with the path's types:
  act_t (input, hidden, output)   weights   biases   cell state, gates, scratch
  int8                            int8      int32    int16      (8x8->16)
  int16                           int8      int64    int16      (16x8->16)
  float32                         float32   float32  float32
The arithmetic itself (`sequence` and below) is fused over all four types.

One step (LstmStep) on a [n_batch, n_state] slice of the states:
  gate = act(FC(x) + FC(h)) for the forget, input and cell gates: each FC requantized to Q3.12 int16
  on its own, the sum saturated to int16, sigmoid/tanh by TFLM's int16 table kernels;
  c = forget * c + input * cell_gate (int16 multiplies, saturating add), then clipped;
  output gate likewise; h = tanh(c) * output_gate; the output row is a copy of h.
Time-major inputs step all batches at once; batch-major ones run each batch's sequence in turn.
"""
from libc.math cimport tanhf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t
from libc.string cimport memcpy

from activations cimport logistic_float, logistic_int16, tanh_int16
from fixedpoint cimport clamp32, mbqm, mbqm_int64
from lstm_common cimport (CELL, FORGET, INPUT, INPUT_MULTIPLIER, INPUT_SHIFT, INPUT_WEIGHT_OFFSET, OUTPUT,
                         RECURRENT_MULTIPLIER, RECURRENT_SHIFT, RECURRENT_WEIGHT_OFFSET, LstmParams, clamp_float,
                         clip_float, clip_int16, mul_elementwise)

ctypedef fused act_t:
    int8_t
    int16_t
    float

ctypedef fused weight_t:
    int8_t
    float

ctypedef fused cell_t:
    int16_t
    float

ctypedef fused bias_t:
    int32_t
    int64_t
    float

cdef inline void fully_connected(const act_t* x, Py_ssize_t batches, Py_ssize_t depth, int32_t x_offset,
                                 const weight_t* w, Py_ssize_t units, int32_t w_offset, const bias_t* bias,
                                 int32_t multiplier, int shift, cell_t* out) noexcept nogil:
    """FC into the gate type: reference_integer_ops::FullyConnected to int16 (output zero point 0, the
    whole int16 range) or reference_ops::FullyConnected (no activation). bias may be NULL."""
    cdef Py_ssize_t b, o, d
    cdef bias_t acc
    cdef const act_t* row
    cdef const weight_t* w_row
    for b in range(batches):
        row = x + b * depth
        for o in range(units):
            w_row = w + o * depth
            acc = 0
            for d in range(depth):
                if bias_t is float:
                    acc = acc + <float>row[d] * <float>w_row[d]
                else:
                    acc = acc + (<int32_t>w_row[d] + w_offset) * (<int32_t>row[d] + x_offset)
            if cell_t is float:
                out[b * units + o] = <cell_t>clamp_float(<float>acc + (<float>bias[o] if bias != NULL else 0.0))
            else:
                if bias != NULL:
                    acc = acc + bias[o]
                if bias_t is int64_t:
                    out[b * units + o] = <cell_t>clamp32(mbqm_int64(acc, multiplier, shift), -32768, 32767)
                else:
                    out[b * units + o] = <cell_t>clamp32(mbqm(<int32_t>acc, multiplier, shift), -32768, 32767)


cdef inline void gate(const act_t* x, Py_ssize_t input_size, const act_t* h, Py_ssize_t batches,
                      Py_ssize_t n_state, const weight_t* w_input, const weight_t* w_recurrent, const bias_t* bias,
                      const int32_t* q, const LstmParams* p, bint tanh_gate, cell_t* out,
                      cell_t* recurrent_out) noexcept nogil:
    """CalculateLstmGate: act(FC(x) + FC(h)), the input FC carrying the gate's bias."""
    cdef Py_ssize_t i
    fully_connected(x, batches, input_size, p.input_offset, w_input, n_state, q[INPUT_WEIGHT_OFFSET], bias,
                    q[INPUT_MULTIPLIER], q[INPUT_SHIFT], out)
    fully_connected(h, batches, n_state, p.hidden_offset, w_recurrent, n_state, q[RECURRENT_WEIGHT_OFFSET],
                    <const bias_t*>NULL, q[RECURRENT_MULTIPLIER], q[RECURRENT_SHIFT], recurrent_out)
    for i in range(batches * n_state):
        if cell_t is float:
            out[i] = out[i] + recurrent_out[i]
            out[i] = tanhf(out[i]) if tanh_gate else logistic_float(out[i])
        else:
            out[i] = <cell_t>clamp32(<int32_t>out[i] + <int32_t>recurrent_out[i], -32768, 32767)
            # Gate tanh: Q3.12 input, i.e. scale power -12, which TFLM maps to multiplier 0, shift 0.
            out[i] = tanh_int16(out[i], 0, 0) if tanh_gate else logistic_int16(out[i], 0, 0)


cdef void sequence(const act_t* input, act_t* hidden, act_t* output, const weight_t** w, const weight_t** r,
                   const bias_t** bias, cell_t* cell, cell_t** buffers, Py_ssize_t batches, Py_ssize_t steps,
                   Py_ssize_t input_size, Py_ssize_t n_state, bint time_major, const int32_t* gate_params,
                   const LstmParams* p) noexcept nogil:
    """EvalLstm: every step of every sequence. w/r/bias: per gate (FORGET..OUTPUT); buffers: TFLM's four."""
    cdef Py_ssize_t sequences = 1 if time_major else batches
    cdef Py_ssize_t step_batches = batches if time_major else 1
    cdef Py_ssize_t n = step_batches * n_state
    cdef Py_ssize_t s, t, i, row
    cdef const act_t* x
    cdef act_t* h
    cdef cell_t* c
    cdef int32_t hidden_lo = -128 if act_t is int8_t else -32768
    cdef int32_t hidden_hi = 127 if act_t is int8_t else 32767
    cdef cell_t* forget_gate = buffers[0]
    cdef cell_t* input_gate = buffers[1]
    cdef cell_t* cell_gate = buffers[2]
    cdef cell_t* fc_buffer = buffers[3]
    for s in range(sequences):
        h = hidden + s * n_state
        c = cell + s * n_state
        for t in range(steps):
            # Row of [time, batch] (time major, all batches) or [batch, time] (one batch).
            row = t * batches if time_major else s * steps + t
            x = input + row * input_size
            gate(x, input_size, h, step_batches, n_state, w[FORGET], r[FORGET], bias[FORGET],
                 gate_params + 6 * FORGET, p, False, forget_gate, fc_buffer)
            gate(x, input_size, h, step_batches, n_state, w[INPUT], r[INPUT], bias[INPUT],
                 gate_params + 6 * INPUT, p, False, input_gate, fc_buffer)
            gate(x, input_size, h, step_batches, n_state, w[CELL], r[CELL], bias[CELL],
                 gate_params + 6 * CELL, p, True, cell_gate, fc_buffer)
            # UpdateLstmCell; input gate x cell gate reuses the input gate's buffer.
            for i in range(n):
                if cell_t is float:
                    c[i] = clamp_float(forget_gate[i] * c[i])
                    input_gate[i] = clamp_float(input_gate[i] * cell_gate[i])
                    c[i] = c[i] + input_gate[i]
                    if p.clip:
                        c[i] = clip_float(c[i], p.cell_clip)
                else:
                    c[i] = <cell_t>mul_elementwise(forget_gate[i], c[i], p.forget_cell_multiplier,
                                                   p.forget_cell_shift, 0, -32768, 32767)
                    input_gate[i] = <cell_t>mul_elementwise(input_gate[i], cell_gate[i], p.input_cell_multiplier,
                                                            p.input_cell_shift, 0, -32768, 32767)
                    c[i] = <cell_t>clamp32(<int32_t>c[i] + <int32_t>input_gate[i], -32768, 32767)
                    if p.clip:
                        c[i] = <cell_t>clip_int16(<int16_t>c[i], p.quantized_cell_clip)
            # Output gate (into the input gate's buffer), then UpdateLstmHidden: h = tanh(c) x output gate.
            gate(x, input_size, h, step_batches, n_state, w[OUTPUT], r[OUTPUT], bias[OUTPUT],
                 gate_params + 6 * OUTPUT, p, False, input_gate, fc_buffer)
            for i in range(n):
                if cell_t is float:
                    h[i] = <act_t>clamp_float(tanhf(c[i]) * input_gate[i])
                else:
                    forget_gate[i] = tanh_int16(c[i], p.cell_tanh_multiplier, p.cell_tanh_shift)
                    h[i] = <act_t>mul_elementwise(forget_gate[i], input_gate[i], p.hidden_multiplier,
                                                  p.hidden_shift, p.hidden_zero_point, hidden_lo, hidden_hi)
            memcpy(output + row * n_state, h, n * sizeof(act_t))


def lstm(const act_t[:, :, ::1] input, const unsigned char[::1] input_to_forget,
         const unsigned char[::1] input_to_input, const unsigned char[::1] input_to_cell,
         const unsigned char[::1] input_to_output, const unsigned char[::1] recurrent_to_forget,
         const unsigned char[::1] recurrent_to_input, const unsigned char[::1] recurrent_to_cell,
         const unsigned char[::1] recurrent_to_output, const unsigned char[::1] forget_bias,
         const unsigned char[::1] input_bias, const unsigned char[::1] cell_bias,
         const unsigned char[::1] output_bias, act_t[:, ::1] hidden, unsigned char[::1] cell,
         act_t[:, :, ::1] output, unsigned char[::1] buffer0, unsigned char[::1] buffer1,
         unsigned char[::1] buffer2, unsigned char[::1] buffer3, bint time_major,
         const int32_t[:, ::1] gate_params, LstmParams params):
    """One LSTM invoke over the whole sequence: update `hidden` [batch, state] and `cell` in place and
    write every step's hidden state to `output`.

    input/output: [time, batch, .] if time_major else [batch, time, .]. Weights ([state, input] and
    [state, state]), biases ([state]), the cell state ([batch * state]) and TFLM's four scratch buffers
    (batch * state cells each) are byte views of the path's types (module docstring); the op has
    validated every size. gate_params: one row per gate (forget, input, cell, output) with each FC's
    multiplier, shift and negated weight zero point, input FC then recurrent FC (quantized paths).
    """
    cdef Py_ssize_t batches = hidden.shape[0], n_state = hidden.shape[1]
    cdef Py_ssize_t steps = input.shape[0] if time_major else input.shape[1]
    cdef Py_ssize_t input_size = input.shape[2]
    cdef const unsigned char* raw_w[4]
    cdef const unsigned char* raw_r[4]
    cdef const unsigned char* raw_b[4]
    cdef unsigned char* raw_buffers[4]
    raw_w[:] = [&input_to_forget[0], &input_to_input[0], &input_to_cell[0], &input_to_output[0]]
    raw_r[:] = [&recurrent_to_forget[0], &recurrent_to_input[0], &recurrent_to_cell[0], &recurrent_to_output[0]]
    raw_b[:] = [&forget_bias[0], &input_bias[0], &cell_bias[0], &output_bias[0]]
    raw_buffers[:] = [&buffer0[0], &buffer1[0], &buffer2[0], &buffer3[0]]
    cdef const int32_t* q = &gate_params[0, 0]
    with nogil:
        if act_t is float:
            sequence(&input[0, 0, 0], &hidden[0, 0], &output[0, 0, 0], <const float**>raw_w,
                     <const float**>raw_r, <const float**>raw_b, <float*>&cell[0], <float**>raw_buffers,
                     batches, steps, input_size, n_state, time_major, q, &params)
        elif act_t is int8_t:
            sequence(&input[0, 0, 0], &hidden[0, 0], &output[0, 0, 0], <const int8_t**>raw_w,
                     <const int8_t**>raw_r, <const int32_t**>raw_b, <int16_t*>&cell[0], <int16_t**>raw_buffers,
                     batches, steps, input_size, n_state, time_major, q, &params)
        else:
            sequence(&input[0, 0, 0], &hidden[0, 0], &output[0, 0, 0], <const int8_t**>raw_w,
                     <const int8_t**>raw_r, <const int64_t**>raw_b, <int16_t*>&cell[0], <int16_t**>raw_buffers,
                     batches, steps, input_size, n_state, time_major, q, &params)
