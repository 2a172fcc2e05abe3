"""TFLM's persistent tail bytes for its signal library custom ops (part of planning/tail.py's estimate).

Each op allocates its parameters and state with AllocatePersistentBuffer (16-byte aligned): an FFT's
KISS FFT plan, a filter bank's work area, the circular buffers of the framing ops. The struct sizes
are TFLM's for 64-bit hosts and 32-bit MCUs; the formulas match what tflite-micro reports for single-op
models to within the alignment padding between allocations.
"""
from __future__ import annotations

from ..custom_options import int_map
from ..model import Operator, Subgraph

#: Parameter structs without pointers (bytes), by custom code.
_PLAIN_PARAMS = {"SignalWindow": 8, "SignalEnergy": 8, "SignalPCAN": 4, "SignalFilterBankLog": 8,
                 "SignalFftAutoScale": 0, "SignalFilterBankSquareRoot": 0}
#: Parameter structs with pointers: {custom code: {pointer size: bytes}}.
_POINTER_PARAMS = {"SignalRfft": {8: 48, 4: 32}, "SignalIrfft": {8: 32, 4: 24},
                   "SignalFilterBank": {8: 64, 4: 36}, "SignalFilterBankSpectralSubtraction": {8: 56, 4: 44},
                   "SignalFramer": {8: 40, 4: 28}, "SignalDelay": {8: 32, 4: 20},
                   "SignalOverlapAdd": {8: 32, 4: 24}, "SignalStacker": {8: 56, 4: 32}}
#: Element sizes of the FFTs' 'T' type codes (int16, int32, float32).
_FFT_SCALAR_BYTES = {7: 2, 2: 4, 0: 4}


def _align(n: int) -> int:
    return (n + 15) // 16 * 16


def _kiss_fftr_bytes(fft_length: int, scalar: int, pointer_size: int) -> int:
    """kiss_fftr_alloc's size: its state, the complex FFT's state (factors, twiddles) and its buffers."""
    ncfft = fft_length // 2
    complex_fft = 264 + 2 * scalar + 2 * scalar * (ncfft - 1)
    return 3 * pointer_size + complex_fft + 2 * scalar * (ncfft * 3 // 2)


def _circular_buffers(rows: int, capacity: int, pointer_size: int) -> int:
    """One CircularBuffer (struct + twice the capacity in int16) per row, and the two pointer arrays."""
    struct = 5 * pointer_size if pointer_size == 8 else 24
    return 2 * _align(rows * pointer_size) + rows * _align(struct + 4 * capacity)


def _outer_rows(sg: Subgraph, op: Operator, trailing: int) -> int:
    shape = sg.tensors[op.inputs[0]].shape
    inner = 1
    for d in shape[len(shape) - trailing:]:
        inner *= d
    total = 1
    for d in shape:
        total *= d
    return total // inner if inner else 0


def _state_bytes(code: str, o: dict, sg: Subgraph, op: Operator, p: int) -> int:
    if code in ("SignalRfft", "SignalIrfft"):
        scalar = _FFT_SCALAR_BYTES.get(o["T"], 4)
        extra = (16 if p == 8 else 8) if code == "SignalIrfft" and o["T"] == 0 else 0
        return _align(extra + _kiss_fftr_bytes(o["fft_length"], scalar, p))
    if code == "SignalFilterBank":
        return _align(8 * (o["num_channels"] + 1))
    if code == "SignalFilterBankSpectralSubtraction":
        return _align(4 * o["num_channels"])
    if code == "SignalFramer":
        step = max(1, o["frame_step"])
        capacity = -(-o["frame_size"] // step) * step
        return _circular_buffers(_outer_rows(sg, op, 1), capacity, p)
    if code == "SignalDelay":
        return _circular_buffers(_outer_rows(sg, op, 1), sg.tensors[op.inputs[0]].shape[-1] + o["delay_length"], p)
    if code == "SignalOverlapAdd":
        rows, frame = _outer_rows(sg, op, 2), sg.tensors[op.inputs[0]].shape[-1]
        return _align(rows * p) + rows * _align(frame * _FFT_SCALAR_BYTES.get(o["T"], 4))
    if code == "SignalStacker":
        context = o["stacker_left_context"] + o["stacker_right_context"] + 1
        return _align((5 * p if p == 8 else 24) + 4 * o["num_channels"] * context)
    return 0


def signal_persistent_bytes(sg: Subgraph, op: Operator, pointer_size: int) -> int | None:
    """Persistent bytes TFLM allocates for one signal library op, or None for any other op (or one whose
    options or shapes cannot be read: the caller then uses its default)."""
    code = op.custom_code
    if code in _PLAIN_PARAMS:
        return _align(_PLAIN_PARAMS[code]) if _PLAIN_PARAMS[code] else 0
    if code not in _POINTER_PARAMS:
        return None
    try:
        state = _state_bytes(code, int_map(op.custom_options), sg, op, pointer_size)
    except (ValueError, KeyError, IndexError):  # unreadable options or shapes: the caller's default
        return None
    return _align(_POINTER_PARAMS[code][pointer_size]) + state
