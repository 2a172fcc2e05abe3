# Included by steps.pyx: the compiled steps of UNIDIRECTIONAL_SEQUENCE_LSTM on the int8 (8x8->16) and float32
# paths, the whole sequence in one C-level run, bit-exact with TFLM's EvalLstm (the 16x8 path keeps the
# reference template of lstm.pyx).
#
# The gates of a step depend on that step's input row and on the hidden state before it, so the input FCs
# of every gate and every time step are computed first, one pass over each weight row for all input rows
# (every FC output is summed and requantized on its own, exactly as TFLM's per-step FC does; int32 sums are
# exact in any order, float sums keep the reference order in float_mac.h). Each time step then runs the
# recurrent FCs of all four gates for every batch at once (batch-major sequences are independent, so
# stepping them together gives TFLM's per-sequence results) and the element-wise cell update of
# lstm_common.pxd in TFLM's order (float32: float_lstm_cells.h, vectorised, with polynomial exp and tanh
# within the float32 rule rather than TFLM's libm bits). All input rows are read before the first output
# row is written.

from libc.stdint cimport uint32_t

from activations cimport logistic_int16, tanh_int16
from fixedpoint cimport mbqm
from lstm_common cimport (CELL, FORGET, INPUT, INPUT_MULTIPLIER, OUTPUT, RECURRENT_MULTIPLIER, LstmParams,
                          clip_int16, mul_elementwise)


cdef extern from "int8_rows_dot.h" nogil:
    ctypedef void (*mi_rows_dot_fn)(const int8_t*, int64_t, int64_t, const int16_t*, int64_t, int32_t*, int64_t)
    enum: MI_ROWS_DOT_ALIGN
    mi_rows_dot_fn mi_select_rows_dot(int force_portable)


cdef extern from "float_lstm_cells.h" nogil:
    ctypedef void (*mi_lstm_cells_fn)(const float*, const float*, int64_t, int, float, float*, float*)
    mi_lstm_cells_fn mi_select_lstm_cells(int force_portable)


#: The longest int8 LSTM FC the compiled step sums in int32 without overflow (|w| <= 128, |x - zp| <= 255).
LSTM_INT8_MAX_DEPTH = (2 ** 31 - 1) // (128 * 255)

cdef inline void lstm_update(int8_t* h, int16_t* c, const int32_t* x_gates, const int32_t* h_gates,
                             Py_ssize_t n_state, const LstmParams* p, int8_t* out) noexcept nogil:
    """One batch row of TFLM's int8 LstmStep after its FCs: gate activations, UpdateLstmCell,
    UpdateLstmHidden, the output row. x_gates/h_gates: the input and recurrent FC of the forget, input, cell
    and output gates (n_state each, in that order), int32 holding TFLM's int16 Q3.12 values."""
    cdef Py_ssize_t u, f = FORGET * n_state, i = INPUT * n_state, g = CELL * n_state, o = OUTPUT * n_state
    cdef int32_t c_int, forget_int, input_int, cell_int, output_int
    for u in range(n_state):
        # Gate pre-activations: the two Q3.12 FCs' saturated sum (scale 2^-12: multiplier 0, shift 0).
        forget_int = logistic_int16(<int16_t>clamp32(x_gates[f + u] + h_gates[f + u], -32768, 32767), 0, 0)
        input_int = logistic_int16(<int16_t>clamp32(x_gates[i + u] + h_gates[i + u], -32768, 32767), 0, 0)
        cell_int = tanh_int16(<int16_t>clamp32(x_gates[g + u] + h_gates[g + u], -32768, 32767), 0, 0)
        c_int = mul_elementwise(forget_int, c[u], p.forget_cell_multiplier, p.forget_cell_shift, 0, -32768, 32767)
        input_int = mul_elementwise(input_int, cell_int, p.input_cell_multiplier, p.input_cell_shift, 0,
                                    -32768, 32767)
        c_int = clamp32(c_int + input_int, -32768, 32767)
        if p.clip:
            c_int = clip_int16(<int16_t>c_int, p.quantized_cell_clip)
        c[u] = <int16_t>c_int
        output_int = logistic_int16(<int16_t>clamp32(x_gates[o + u] + h_gates[o + u], -32768, 32767), 0, 0)
        h[u] = <int8_t>mul_elementwise(tanh_int16(<int16_t>c_int, p.cell_tanh_multiplier, p.cell_tanh_shift),
                                       output_int, p.hidden_multiplier, p.hidden_shift, p.hidden_zero_point,
                                       -128, 127)
    memcpy(out, h, n_state * sizeof(int8_t))


def _gate_rows(weights, Py_ssize_t units, Py_ssize_t depth, dtype, Py_ssize_t padded_depth=0):
    """The four gates' [units, depth] matrices (forget, input, cell, output) stacked into one [4 units, depth],
    or [4 units, padded_depth] with zeros after each row."""
    if len(weights) != 4 or any(np.shape(w) != (units, depth) for w in weights):
        raise ValueError(f"four gate matrices of shape {(units, depth)} expected, found "
                         f"{[np.shape(w) for w in weights]}")
    rows = np.zeros((4 * units, max(depth, padded_depth)), dtype)
    rows[:, :depth] = np.concatenate([np.asarray(w, dtype) for w in weights])
    return rows


def _padded(Py_ssize_t depth):
    return (depth + MI_ROWS_DOT_ALIGN - 1) // MI_ROWS_DOT_ALIGN * MI_ROWS_DOT_ALIGN


cdef class _LstmStep(Step):
    """The sequence geometry of an LSTM step: input and output as [rows, .] views whose row of (batch b,
    time t) is t * batches + b (time major) or b * steps + t."""
    cdef Py_ssize_t batches, steps, n_state
    cdef bint time_major
    cdef LstmParams params

    def _bind_geometry(self, input, hidden, output, bint time_major, dict params):
        self.batches, self.n_state = hidden.shape[0], hidden.shape[1]
        self.time_major, self.params = time_major, params
        if self.batches < 1 or input.shape[0] % self.batches:
            raise ValueError(f"{input.shape[0]} input rows for {self.batches} batches")
        self.steps = input.shape[0] // self.batches
        if tuple(output.shape) != (input.shape[0], self.n_state):
            raise ValueError(f"output {tuple(output.shape)} for input {tuple(input.shape)}, state {self.n_state}")

    cdef inline Py_ssize_t row(self, Py_ssize_t b, Py_ssize_t t) noexcept nogil:
        return t * self.batches + b if self.time_major else b * self.steps + t


cdef class Int8LstmStep(_LstmStep):
    """UNIDIRECTIONAL_SEQUENCE_LSTM, 8x8->16: inputs minus their zero points widened to int16, int8 weight rows
    dotted with them (int8_rows_dot.h), each FC requantized to Q3.12 as TFLM's reference FC does."""
    cdef const int8_t[:, ::1] input
    cdef int8_t[:, ::1] hidden
    cdef int16_t[:, ::1] cell
    cdef int8_t[:, ::1] output
    cdef const int8_t[:, ::1] w_input
    cdef const int8_t[:, ::1] w_recurrent
    cdef const int32_t[::1] bias
    cdef const int32_t[:, ::1] gate_params
    cdef int16_t[:, ::1] x16
    cdef int16_t[:, ::1] h16
    cdef int32_t[:, ::1] x_fc
    cdef int32_t[:, ::1] h_fc
    cdef mi_rows_dot_fn dot

    def __init__(self, input, input_weights, recurrent_weights, biases, hidden, cell, output, bint time_major,
                 gate_params, dict params, bint portable=False):
        """input/output: [rows, .] views (see _LstmStep); *_weights, biases: per gate in forget, input, cell,
        output order; hidden [batches, state]; cell: int16 [batches, state]; gate_params, params: as for
        lstm.lstm. portable forces the non-SIMD dot products (same bits)."""
        self.input, self.hidden, self.cell, self.output = input, hidden, cell, output
        self._bind_geometry(input, hidden, output, time_major, params)
        cdef Py_ssize_t in_size = input.shape[1], n = self.n_state
        if max(in_size, n) > LSTM_INT8_MAX_DEPTH:
            raise ValueError(f"FC depth {max(in_size, n)} above {LSTM_INT8_MAX_DEPTH}")
        if tuple(cell.shape) != tuple(hidden.shape):
            raise ValueError(f"cell state {tuple(cell.shape)} for hidden state {tuple(hidden.shape)}")
        # Rows and vectors padded with zeros to whole SIMD blocks (int8_rows_dot.h).
        self.w_input = _gate_rows(input_weights, n, in_size, np.int8, _padded(in_size))
        self.w_recurrent = _gate_rows(recurrent_weights, n, n, np.int8, _padded(n))
        self.bias = _gate_rows([np.reshape(b, (n, 1)) for b in biases], n, 1, np.int32).reshape(-1)
        self.gate_params = np.ascontiguousarray(gate_params, np.int32)
        if self.gate_params.shape[0] != 4 or self.gate_params.shape[1] != 6:
            raise ValueError(f"gate parameters of shape {tuple(self.gate_params.shape)}, (4, 6) expected")
        self.x16 = np.zeros((input.shape[0], _padded(in_size)), np.int16)
        self.h16 = np.zeros((self.batches, _padded(n)), np.int16)
        self.x_fc = np.empty((input.shape[0], 4 * n), np.int32)
        self.h_fc = np.empty((self.batches, 4 * n), np.int32)
        self.dot = mi_select_rows_dot(portable)

    cdef void fc(self, const int8_t[:, ::1] weights, const int16_t[:, ::1] x, int32_t[:, ::1] out, int column,
                 const int32_t* bias) noexcept nogil:
        """Every gate's FC of every row of x (already offset by the input zero point, padded like the weight
        rows) into Q3.12, TFLM's
        FullyConnected to int16: (w + weight offset) . x + bias, requantized and saturated. column: the
        gate_params column of this FC's multiplier."""
        cdef Py_ssize_t vectors = x.shape[0], depth = x.shape[1], n = self.n_state, v, g, u, d
        cdef int64_t x_sum, total
        cdef const int32_t* q
        self.dot(&weights[0, 0], 4 * n, depth, &x[0, 0], vectors, &out[0, 0], 4 * n)
        for v in range(vectors):
            x_sum = 0
            for d in range(depth):
                x_sum += x[v, d]
            for g in range(4):
                q = &self.gate_params[g, column]
                for u in range(g * n, (g + 1) * n):
                    total = out[v, u] + q[2] * x_sum + (bias[u] if bias != NULL else 0)
                    # TFLM sums in int32: the low 32 bits, wrapped.
                    out[v, u] = clamp32(mbqm(<int32_t>(<uint32_t>total), q[0], q[1]), -32768, 32767)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t rows = self.input.shape[0], in_size = self.input.shape[1], n = self.n_state, r, d, b, t
        cdef int16_t x_offset = <int16_t>self.params.input_offset, h_offset = <int16_t>self.params.hidden_offset
        if rows == 0:
            return
        for r in range(rows):
            for d in range(in_size):
                self.x16[r, d] = self.input[r, d] + x_offset
        self.fc(self.w_input, self.x16, self.x_fc, INPUT_MULTIPLIER, &self.bias[0])
        for t in range(self.steps):
            for b in range(self.batches):
                for d in range(n):
                    self.h16[b, d] = self.hidden[b, d] + h_offset
            self.fc(self.w_recurrent, self.h16, self.h_fc, RECURRENT_MULTIPLIER, NULL)
            for b in range(self.batches):
                r = self.row(b, t)
                lstm_update(&self.hidden[b, 0], &self.cell[b, 0], &self.x_fc[r, 0], &self.h_fc[b, 0], n,
                            &self.params, &self.output[r, 0])


cdef class FloatLstmStep(_LstmStep):
    """UNIDIRECTIONAL_SEQUENCE_LSTM, float32: the gate FCs through float_mac.h's conv kind (TFLM's summation
    order with a fused multiply-add per product, as CONV_2D: within the float32 rule, not TFLM's bits),
    bounds +-FLT_MAX; the gate activations and cell update through float_lstm_cells.h (vectorised, within
    the float32 rule of TFLM)."""
    cdef const float[:, ::1] input
    cdef float[:, ::1] hidden
    cdef float[:, ::1] cell
    cdef float[:, ::1] output
    cdef _FloatMac input_mac
    cdef _FloatMac recurrent_mac
    cdef float[:, ::1] x_fc
    cdef float[:, ::1] h_fc
    cdef mi_lstm_cells_fn cells

    def __init__(self, input, input_weights, recurrent_weights, biases, hidden, cell, output, bint time_major,
                 dict params, bint portable=False):
        """Arguments as for Int8LstmStep (float32 throughout, no gate parameters); portable forces the
        non-SIMD FCs and cell update (same bits)."""
        self.input, self.hidden, self.cell, self.output = input, hidden, cell, output
        self._bind_geometry(input, hidden, output, time_major, params)
        cdef Py_ssize_t in_size = input.shape[1], n = self.n_state
        if tuple(cell.shape) != tuple(hidden.shape):
            raise ValueError(f"cell state {tuple(cell.shape)} for hidden state {tuple(hidden.shape)}")
        bound = float(np.finfo(np.float32).max)
        bias = _gate_rows([np.reshape(b, (n, 1)) for b in biases], n, 1, np.float32).reshape(-1)
        self.input_mac = _FloatMac(_gate_rows(input_weights, n, in_size, np.float32)[:, None, :], bias, MI_FMAC_CONV,
                                   1, in_size, 0, 0, -bound, bound, portable)
        # The recurrent FC has no bias: TFLM adds 0, which a zero bias does alike.
        self.recurrent_mac = _FloatMac(_gate_rows(recurrent_weights, n, n, np.float32)[:, None, :],
                                       np.zeros(4 * n, np.float32), MI_FMAC_CONV, 1, n, 0, 0, -bound, bound,
                                       portable)
        self.x_fc = np.empty((input.shape[0], 4 * n), np.float32)
        self.h_fc = np.empty((self.batches, 4 * n), np.float32)
        self.cells = mi_select_lstm_cells(portable)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t n = self.n_state, b, t, r
        if self.steps == 0:
            return
        self.input_mac.kernel(&self.input_mac.params, &self.input[0, 0], self.input.shape[0], 0, 1, 0, 1,
                              &self.x_fc[0, 0])
        for t in range(self.steps):
            self.recurrent_mac.kernel(&self.recurrent_mac.params, &self.hidden[0, 0], self.batches, 0, 1, 0, 1,
                                      &self.h_fc[0, 0])
            for b in range(self.batches):
                r = self.row(b, t)
                self.cells(&self.x_fc[r, 0], &self.h_fc[b, 0], n, self.params.clip, self.params.cell_clip,
                           &self.cell[b, 0], &self.hidden[b, 0])
                memcpy(&self.output[r, 0], &self.hidden[b, 0], n * sizeof(float))
