"""TFLM's signal library custom ops (the audio front end), bit-exact with tflite-micro across invocations:
single-op models built in memory with flexbuffer options, and micro_speech's audio_preprocessor_int8."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.ops import CUSTOM_REGISTRY
from oracle_checks import run_sequence
from opmodels import (Case, Op, T, assert_bit_exact, compare_cases_with_tflm, compare_with_tflm, custom_op,
                      graph_model, random_values, single_op_model)

SEEDS = (0, 1, 2, 3, 4)
AUDIO_PREPROCESSOR = "tflm_examples/audio_preprocessor_int8.tflite"
#: KISS FFT half lengths covering its radix 2, 3, 4 and 5 butterflies and their mixes.
FFT_HALF_LENGTHS = (2, 6, 8, 9, 10, 15, 25, 256)
FFT_TYPES = {"INT16": 7, "INT32": 2, "FLOAT32": 0}


def small_values(rng: np.random.Generator, t: T) -> np.ndarray:
    """Audio-like values a few hundred LSB wide (full-range values saturate fixed-point FFTs)."""
    if np.issubdtype(t.dtype, np.floating):
        return rng.uniform(-1, 1, tuple(t.shape)).astype(t.dtype)
    return rng.integers(-600, 601, tuple(t.shape)).astype(t.dtype)


def test_every_signal_op_is_registered_by_its_custom_code():
    names = {"Window", "FftAutoScale", "Rfft", "Irfft", "Energy", "FilterBank", "FilterBankSquareRoot",
             "FilterBankSpectralSubtraction", "FilterBankLog", "PCAN", "Framer", "Stacker", "Delay", "OverlapAdd"}
    assert {f"Signal{n}" for n in names} <= set(CUSTOM_REGISTRY)


def test_window_and_fft_auto_scale_match_tflm(oracle):
    rng = np.random.default_rng(7)
    weights = rng.integers(0, 4096, 8).astype(np.int16)
    cases = [Case(f"window shift {shift}", custom_op("SignalWindow", {"shift": shift}),
                  [T("INT16", shape), T("INT16", (8,), data=weights)], [T("INT16", shape)])
             for shift, shape in ((12, (1, 8)), (0, (3, 16)), (31, (2, 8)))]
    cases.append(Case("fft auto scale", custom_op("SignalFftAutoScale"), [T("INT16", (32,))],
                      [T("INT16", (32,)), T("INT32", ())]))
    # Quiet frames, a frame at -32768 (TFLM's int16 maximum wraps) and silence.
    cases += [Case(f"fft auto scale {what}", custom_op("SignalFftAutoScale"), [T("INT16", (6,))],
                   [T("INT16", (6,)), T("INT32", ())], values=lambda rng, t, v=v: np.asarray(v, np.int16))
              for what, v in (("quiet", [3, -5, 0, 1, -1, 2]), ("min", [5, -32768, 7, 0, 1, 2]),
                              ("silence", [0] * 6))]
    compare_cases_with_tflm(oracle, cases, SEEDS)


@pytest.mark.parametrize("type_name", sorted(FFT_TYPES))
def test_rfft_and_irfft_match_tflm_for_every_butterfly(oracle, type_name):
    cases = []
    for half in FFT_HALF_LENGTHS:
        n = 2 * half
        options = {"T": FFT_TYPES[type_name], "fft_length": n}
        cases.append(Case(f"rfft {type_name} {n}", custom_op("SignalRfft", options),
                          [T(type_name, (2, max(1, n - 3)))], [T(type_name, (2, 2 * (half + 1)))]))
        cases.append(Case(f"irfft {type_name} {n}", custom_op("SignalIrfft", options),
                          [T(type_name, (2, 2 * (half + 1)))], [T(type_name, (2, n))]))
    compare_cases_with_tflm(oracle, cases, SEEDS[:3], values=small_values)


@pytest.mark.parametrize("type_name", ["INT16", "INT32"])
def test_fixed_point_rfft_wraps_like_tflm_at_full_scale(oracle, type_name):
    options = {"T": FFT_TYPES[type_name], "fft_length": 30}
    cases = [Case(f"rfft {type_name} full scale", custom_op("SignalRfft", options), [T(type_name, (3, 30))],
                  [T(type_name, (3, 32))]),
             Case(f"irfft {type_name} full scale", custom_op("SignalIrfft", options), [T(type_name, (3, 32))],
                  [T(type_name, (3, 30))])]
    compare_cases_with_tflm(oracle, cases, SEEDS[:3])


def test_energy_matches_tflm_on_the_bins_it_writes(oracle):
    cases = [Case("energy all bins", custom_op("SignalEnergy", {"end_index": 20, "start_index": 0}),
                  [T("INT16", (40,))], [T("UINT32", (20,))])]
    compare_cases_with_tflm(oracle, cases, SEEDS[:3])
    # TFLM leaves the bins outside [start, end) unwritten (arena bytes): compare the written ones.
    model = single_op_model(custom_op("SignalEnergy", {"end_index": 17, "start_index": 3}),
                            [T("INT16", (40,))], [T("UINT32", (20,))])
    values = [random_values(np.random.default_rng(s), T("INT16", (40,))) for s in SEEDS[:3]]
    theirs = oracle.run(model, [[v] for v in values], backend="tflm").outputs
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    for k, v in enumerate(values):
        interp.set_tensor(interp.get_input_details()[0]["index"], v)
        interp.invoke()
        ours = interp.get_tensor(interp.get_output_details()[0]["index"])
        assert_bit_exact(ours[3:17], theirs[k][0][3:17], f"energy bins 3..16 invocation {k}")


def filter_bank_case(rng: np.random.Generator, bins: int, channels: int) -> Case:
    """Overlapping triangular-like channels over `bins` spectrum bins, random int16 weights."""
    widths = rng.integers(1, 6, channels + 1).astype(np.int16)
    freq_starts = np.minimum(np.cumsum(np.r_[0, widths[:-1] // 2]), bins - widths).astype(np.int16)
    weight_starts = np.r_[0, np.cumsum(widths[:-1])].astype(np.int16)
    n_weights = int(widths.sum())
    tables = [rng.integers(-32768, 32768, n_weights).astype(np.int16),
              rng.integers(-32768, 32768, n_weights).astype(np.int16), freq_starts, weight_starts, widths]
    inputs = [T("UINT32", (bins,))] + [T("INT16", (t.size,), data=t) for t in tables]
    return Case(f"filter bank {channels} channels", custom_op("SignalFilterBank", {"num_channels": channels}),
                inputs, [T("UINT64", (channels,))])


def test_filter_bank_square_root_log_and_pcan_match_tflm(oracle):
    rng = np.random.default_rng(3)
    scale_bits = T("INT32", ())
    cases = [filter_bank_case(rng, 33, 6), filter_bank_case(rng, 12, 3),
             Case("square root", custom_op("SignalFilterBankSquareRoot"), [T("UINT64", (16,)), scale_bits],
                  [T("UINT32", (16,))]),
             Case("log", custom_op("SignalFilterBankLog", {"input_correction_bits": 3, "output_scale": 64}),
                  [T("UINT32", (16,))], [T("INT16", (16,))]),
             Case("log large scale", custom_op("SignalFilterBankLog", {"input_correction_bits": 0,
                                                                        "output_scale": 1 << 20}),
                  [T("UINT32", (16,))], [T("INT16", (16,))]),
             Case("pcan", custom_op("SignalPCAN", {"snr_shift": 6}),
                  [T("UINT32", (16,)), T("UINT32", (16,)),
                   T("INT16", (125,), data=rng.integers(-32768, 32768, 125).astype(np.int16))],
                  [T("UINT32", (16,))])]

    def values(rng, t):
        if t is scale_bits:  # FftAutoScale gives 0..15; a hostile model any count (x86 takes it modulo 32)
            return np.asarray(rng.integers(-8, 48), np.int32)
        if t.type in ("UINT32", "UINT64"):  # spread over every magnitude, as real channel energies are
            bits = 32 if t.type == "UINT32" else 64
            return (random_values(rng, T("UINT64", t.shape)) >> rng.integers(0, bits, tuple(t.shape)).astype(
                np.uint64)).astype(t.dtype)
        return random_values(rng, t)
    compare_cases_with_tflm(oracle, cases, SEEDS, values=values)


SUBTRACTION = {"alternate_one_minus_smoothing": 15401, "alternate_smoothing": 983, "clamping": False,
               "min_signal_remaining": 819, "num_channels": 12, "one_minus_smoothing": 15975, "smoothing": 409,
               "smoothing_bits": 10, "spectral_subtraction_bits": 14}


def test_spectral_subtraction_keeps_its_noise_estimate_like_tflm_and_resets(oracle):
    cases = [Case(f"spectral subtraction clamping {clamping}",
                  custom_op("SignalFilterBankSpectralSubtraction", {**SUBTRACTION, "clamping": clamping}),
                  [T("UINT32", (12,))], [T("UINT32", (12,)), T("UINT32", (12,))]) for clamping in (False, True)]

    def values(rng, t):  # loud then quiet frames, so the estimate both rises and gets clamped
        return rng.integers(0, 1 << (20 if rng.integers(2) else 8), tuple(t.shape)).astype(np.uint32)
    compare_cases_with_tflm(oracle, cases, range(8), values=values, reset_and_repeat=True)


def test_audio_preprocessor_matches_tflm_over_a_sequence_and_after_reset(shared_models, oracle):
    content = (shared_models / AUDIO_PREPROCESSOR).read_bytes()
    rng = np.random.default_rng(11)
    frames = [rng.integers(-32768, 32768, (1, 480)).astype(np.int16) >> int(rng.integers(0, 12)) for _ in range(6)]
    frames.insert(3, np.zeros((1, 480), np.int16))
    compare_with_tflm(oracle, content, [[f] for f in frames], AUDIO_PREPROCESSOR, reset_and_repeat=True)
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(content).head


@pytest.mark.parametrize("op, inputs, outputs, message", [
    (Op("CUSTOM", custom_code="SignalWindow", custom_options=b"\xff\x01\x02"),
     [T("INT16", (8,)), T("INT16", (8,), data=np.ones(8, np.int16))], [T("INT16", (8,))], "flexbuffer"),
    (custom_op("SignalWindow", {"shift": 3, "extra": 1}),
     [T("INT16", (8,)), T("INT16", (8,), data=np.ones(8, np.int16))], [T("INT16", (8,))], "keys"),
    (custom_op("SignalWindow", {"shift": 40}),
     [T("INT16", (8,)), T("INT16", (8,), data=np.ones(8, np.int16))], [T("INT16", (8,))], "shift"),
    (custom_op("SignalWindow", {"shift": 3}),
     [T("INT16", (10,)), T("INT16", (4,), data=np.ones(4, np.int16))], [T("INT16", (10,))], "divide"),
    (custom_op("SignalRfft", {"T": 7, "fft_length": 31}), [T("INT16", (30,))], [T("INT16", (32,))], "even"),
    (custom_op("SignalRfft", {"T": 7, "fft_length": 16}), [T("INT16", (30,))], [T("INT16", (18,))], "rows of"),
    (custom_op("SignalRfft", {"T": 2, "fft_length": 16}), [T("INT16", (16,))], [T("INT16", (18,))], "INT32"),
    (custom_op("SignalEnergy", {"end_index": 30, "start_index": 0}), [T("INT16", (40,))], [T("UINT32", (20,))],
     "bins"),
    (custom_op("SignalPCAN", {"snr_shift": 6}),
     [T("UINT32", (4,)), T("UINT32", (4,)), T("INT16", (100,), data=np.zeros(100, np.int16))],
     [T("UINT32", (4,))], "125"),
    (custom_op("SignalFilterBank", {"num_channels": 1}),
     [T("UINT32", (4,))] + [T("INT16", (2,), data=np.array(v, np.int16))
                            for v in ([1, 1], [1, 1], [0, 3], [0, 0], [1, 2])], [T("UINT64", (1,))], "bins"),
    (custom_op("SignalFramer", {"frame_size": 4, "frame_step": 3, "prefill": False}), [T("INT16", (8,))],
     [T("INT16", (2, 4)), T("BOOL", ())], "divide"),
    (custom_op("SignalFramer", {"frame_size": 2, "frame_step": 4, "prefill": True}), [T("INT16", (8,))],
     [T("INT16", (2, 2)), T("BOOL", ())], "prefill"),
    (custom_op("SignalStacker", {"num_channels": 2, "stacker_left_context": 0, "stacker_right_context": 0,
                                 "stacker_step": 0}), [T("INT16", (2,))], [T("INT16", (2,)), T("BOOL", ())],
     "stacker_step"),
    (custom_op("SignalOverlapAdd", {"T": 7, "frame_step": 7}), [T("INT16", (2, 6))], [T("INT16", (14,))],
     "frame_step"),
])
def test_inconsistent_signal_ops_fail_at_prepare_naming_the_op(op, inputs, outputs, message):
    interp = Interpreter(model_content=single_op_model(op, inputs, outputs))
    with pytest.raises(InconsistentModelError, match=message) as info:
        interp.allocate_tensors()
    assert f"CUSTOM({op.custom_code})" in str(info.value)


@pytest.mark.parametrize("fft_type, fft_length, message", [(9, 16, "'T' = 9"), (7, 28, "prime factor"),
                                                            (7, 2, "prime factor")])
def test_fft_types_and_lengths_tflm_cannot_run_are_unsupported(fft_type, fft_length, message):
    """An unknown 'T', or a length needing KISS FFT's generic butterfly (heap memory: TFLM crashes)."""
    op = custom_op("SignalRfft", {"T": fft_type, "fft_length": fft_length})
    bins = 2 * (fft_length // 2 + 1)
    with pytest.raises(UnsupportedOperatorError, match=message):
        Interpreter(model_content=single_op_model(op, [T("INT16", (fft_length,))], [T("INT16", (bins,))])
                    ).allocate_tensors()


def framer_case(size: int, step: int, prefill: bool, shape: tuple[int, ...]) -> Case:
    frames = shape[-1] // step
    return Case(f"framer {size}/{step} prefill {prefill} {shape}",
                custom_op("SignalFramer", {"frame_size": size, "frame_step": step, "prefill": prefill}),
                [T("INT16", shape)], [T("INT16", (*shape[:-1], frames, size)), T("BOOL", ())])


def test_framer_delay_and_overlap_add_keep_state_like_tflm_and_reset(oracle):
    cases = [framer_case(5, 2, True, (2, 4)), framer_case(4, 4, False, (8,)), framer_case(3, 3, True, (1, 2, 6)),
             Case("delay 3", custom_op("SignalDelay", {"delay_length": 3}), [T("INT16", (2, 5))],
                  [T("INT16", (2, 5))]),
             Case("delay 7 over frames of 2", custom_op("SignalDelay", {"delay_length": 7}), [T("INT16", (2,))],
                  [T("INT16", (2,))])]
    cases += [Case(f"overlap add {type_name} step {step}", custom_op("SignalOverlapAdd", {"T": code, "frame_step": step}),
                   [T(type_name, (2, 3, 6))], [T(type_name, (2, 3 * step))])
              for type_name, code in (("INT16", 7), ("FLOAT32", 0)) for step in (2, 6)]
    compare_cases_with_tflm(oracle, cases, SEEDS, reset_and_repeat=True)


def test_framer_and_stacker_outputs_match_tflm_whenever_valid(oracle):
    """Before a frame is complete TFLM leaves the output unwritten (arena bytes) and reports it invalid:
    the valid flags must match on every invocation, the outputs whenever valid."""
    nodes = [framer_case(5, 2, False, (2, 4)),
             Case("stacker", custom_op("SignalStacker", {"num_channels": 3, "stacker_left_context": 2,
                                                         "stacker_right_context": 1, "stacker_step": 2}),
                  [T("INT16", (3,))], [T("INT16", (12,)), T("BOOL", ())]),
             Case("stacker no context", custom_op("SignalStacker", {"num_channels": 4, "stacker_left_context": 0,
                                                                    "stacker_right_context": 0,
                                                                    "stacker_step": 1}),
                  [T("INT16", (4,))], [T("INT16", (4,)), T("BOOL", ())])]
    model = graph_model([(c.op, c.inputs, c.outputs) for c in nodes])
    invocations = [[random_values(np.random.default_rng(s), c.inputs[0]) for c in nodes] for s in range(6)]
    theirs = oracle.run(model, invocations, backend="tflm").outputs
    for rerun in range(2):
        interp = Interpreter(model_content=model)
        interp.allocate_tensors()
        if rerun:  # a reset after some invocations starts over like a fresh interpreter
            run_sequence(interp, invocations[:3])
            interp.reset_all_variables()
        ours = run_sequence(interp, invocations)
        for k, (mine, tflm) in enumerate(zip(ours, theirs)):
            for j in range(0, len(mine), 2):
                assert_bit_exact(mine[j + 1], tflm[j + 1], f"{nodes[j // 2].label} valid, invocation {k}")
                if tflm[j + 1]:
                    assert_bit_exact(mine[j], tflm[j], f"{nodes[j // 2].label} output, invocation {k}")



def test_hostile_custom_options_bytes_raise_model_errors_only(shared_models):
    """Every signal op of the audio preprocessor with its flexbuffer options bytes mutated (flipped,
    truncated, extended): preparing either works or raises a microinterp model error, nothing else, and
    the tail estimate still gives a number."""
    from dataclasses import replace

    from microinterp import MicrointerpError, load_model
    from microinterp.planning.tail import estimate_tail
    from microinterp.prepare import prepare_model

    model = load_model(shared_models / AUDIO_PREPROCESSOR)
    rng = np.random.default_rng(5)
    for op in model.main.operators:
        raw = op.custom_options
        if not raw:
            continue
        for trial in range(25):
            data = bytearray(raw)
            kind = trial % 3
            if kind == 0:
                data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
            elif kind == 1:
                data = data[:rng.integers(len(data))]
            else:
                data += rng.integers(0, 256, int(rng.integers(1, 8))).astype(np.uint8).tobytes()
            ops = tuple(replace(o, custom_options=bytes(data)) if o is op else o for o in model.main.operators)
            hostile = replace(model, subgraphs=(replace(model.main, operators=ops), *model.subgraphs[1:]))
            assert estimate_tail(hostile, 8).total > 0
            try:
                prepare_model(hostile)
            except MicrointerpError:
                pass


@pytest.mark.parametrize("case", [
    Case("rfft int16 512", custom_op("SignalRfft", {"T": 7, "fft_length": 512}), [T("INT16", (480,))],
         [T("INT16", (514,))]),
    Case("irfft float 16", custom_op("SignalIrfft", {"T": 0, "fft_length": 16}), [T("FLOAT32", (18,))],
         [T("FLOAT32", (16,))]),
    filter_bank_case(np.random.default_rng(0), 64, 40),
    framer_case(400, 160, False, (3, 320)),
    Case("delay 100", custom_op("SignalDelay", {"delay_length": 100}), [T("INT16", (3, 10))], [T("INT16", (3, 10))]),
    Case("overlap add float", custom_op("SignalOverlapAdd", {"T": 0, "frame_step": 2}), [T("FLOAT32", (3, 3, 6))],
         [T("FLOAT32", (3, 6))]),
    Case("stacker", custom_op("SignalStacker", {"num_channels": 40, "stacker_left_context": 3,
                                                "stacker_right_context": 0, "stacker_step": 1}),
         [T("INT16", (40,))], [T("INT16", (160,)), T("BOOL", ())]),
], ids=lambda c: c.label)
def test_tail_estimate_counts_signal_op_state_within_2_percent_of_tflm(oracle, case):
    from microinterp import load_model
    from microinterp.planning.tail import estimate_tail

    model = single_op_model(case.op, case.inputs, case.outputs)
    actual = oracle.tflm_arena(model).tail
    estimate = estimate_tail(load_model(model), pointer_size=8).total
    assert abs(estimate - actual) <= 0.02 * actual, f"estimate {estimate}, TFLM {actual}"
