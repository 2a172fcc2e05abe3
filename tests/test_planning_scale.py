"""The compiled planner and plan checker (kernels/planning.pyx) against the straightforward algorithms
they replace, and TFLM's head on random graphs.

The reference implementations below are the pure-Python quadratic ones microinterp used before: TFLM's
walk over every placed buffer, and the checker's comparison of every pair of buffers.
"""
from __future__ import annotations

import random

import pytest

from large_graphs import add_chain, random_dag
from microinterp import Interpreter
from microinterp.planning.check import PlanError, check_plan
from microinterp.planning.greedy import BufferRequest, plan_greedy
from microinterp.planning.coverage import covered_bytes_per_step


def reference_greedy(buffers: list[BufferRequest]) -> list[int]:
    """TFLM's GreedyMemoryPlanner written plainly: the placed list walked buffer by buffer."""
    offline = [i for i, b in enumerate(buffers) if b.offline_offset is not None]
    online = sorted((i for i in reversed(range(len(buffers))) if buffers[i].offline_offset is None),
                    key=lambda i: -buffers[i].size)
    offsets = [0] * len(buffers)
    placed: list[int] = []
    for i in offline + online:
        b = buffers[i]
        offset = b.offline_offset if b.offline_offset is not None else 0
        if b.offline_offset is None:
            for j in placed:
                if not b.overlaps_in_time(buffers[j]):
                    continue
                if offsets[j] - offset >= b.size:
                    break
                offset = max(offset, offsets[j] + buffers[j].size)
        offsets[i] = offset
        pos = len(placed)
        while pos > 0 and offsets[placed[pos - 1]] > offset:
            pos -= 1
        placed.insert(pos, i)
    return offsets


def reference_conflicts(buffers: list[BufferRequest], offsets: list[int]) -> list[tuple[int, int]]:
    """Every pair (i, j), i > j, of non-empty buffers live together whose bytes meet (not both offline)."""
    return [(i, j) for i, a in enumerate(buffers) for j, b in enumerate(buffers[:i])
            if a.size and b.size and a.overlaps_in_time(b) and offsets[i] < offsets[j] + b.size
            and offsets[j] < offsets[i] + a.size and (a.offline_offset is None or b.offline_offset is None)]


def random_requests(rng: random.Random) -> list[BufferRequest]:
    """Mixed sizes (0 included), lifetimes from -1 (some empty), and a few offline offsets."""
    n, horizon = rng.randint(0, 300), rng.randint(1, 40)
    buffers = []
    for _ in range(n):
        first = rng.randint(-1, horizon)
        last = rng.randint(first, horizon) if rng.random() < 0.97 else rng.randint(-1, horizon)
        size = rng.choice([0, 16, 32, 48, 64, 128, 16 * rng.randint(1, 40)])
        offline = rng.choice([0, 16, 64, 96]) if size and rng.random() < 0.05 else None
        buffers.append(BufferRequest(size, first, last, offline))
    return buffers


def test_compiled_greedy_planner_places_every_buffer_where_tflms_walk_does():
    rng = random.Random(16)
    for _ in range(300):
        buffers = random_requests(rng)
        assert plan_greedy(buffers) == reference_greedy(buffers)


def test_plan_checker_reports_exactly_the_pairs_the_pairwise_comparison_finds():
    rng = random.Random(61)
    for _ in range(300):
        buffers = random_requests(rng)
        offsets = reference_greedy(buffers)
        online = [k for k, b in enumerate(buffers) if b.offline_offset is None]
        for _ in range(rng.randint(0, 3)):  # break the plan in a few places
            if online:
                k = rng.choice(online)
                offsets[k] = rng.choice([0, 16, 32, offsets[k] + 16])
        head = max([o + b.size for o, b in zip(offsets, buffers)], default=0)
        expected = reference_conflicts(buffers, offsets)
        if not expected:
            check_plan(buffers, offsets, head)
            continue
        with pytest.raises(PlanError) as failure:
            check_plan(buffers, offsets, head)
        reported = [line for line in str(failure.value).splitlines() if "share bytes" in line]
        assert len(reported) == min(len(expected), 64) or "and more" in str(failure.value)
        for (i, j), line in zip(expected, reported):
            assert line.strip().startswith(f"buffer {i} [") and f"and buffer {j} [" in line


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_graph_plans_match_the_reference_walk_and_tflms_head(oracle, seed):
    content = random_dag(150, seed)
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    plan = interp.memory_plan
    buffers = [BufferRequest(a.entry.aligned_size, a.entry.first, a.entry.last, a.entry.offline_offset)
               for a in plan.allocations]
    assert [a.offset for a in plan.allocations] == reference_greedy(buffers)
    assert plan.head == oracle.tflm_arena(content).head


def test_large_random_graph_plan_matches_the_reference_walk():
    interp = Interpreter(model_content=random_dag(3000, 7))
    interp.allocate_tensors()
    allocations = interp.memory_plan.allocations
    buffers = [BufferRequest(a.entry.aligned_size, a.entry.first, a.entry.last) for a in allocations]
    assert [a.offset for a in allocations] == reference_greedy(buffers)


@pytest.mark.parametrize("strategy", ["optimal", "reorder", "inplace"])
def test_searches_out_of_time_budget_fall_back_to_a_checked_plan_no_larger_than_tflms(strategy):
    from microinterp.execution import plan_prepared
    from microinterp.prepare import prepare_model

    interp = Interpreter(model_content=random_dag(1500, 3))
    prepared = prepare_model(interp.model)
    tflm = plan_prepared(interp.model, prepared, "tflm")
    plan = plan_prepared(interp.model, prepared, strategy, time_budget=0.0)  # every phase already past it
    assert plan.head <= tflm.head
    assert plan.proven_optimal == (plan.head <= plan.lower_bound)


def test_live_bytes_sweep_counts_what_the_union_of_live_ranges_per_step_covers():
    rng = random.Random(7)
    for _ in range(200):
        steps = rng.randint(1, 12)
        spans = []
        for _ in range(rng.randint(0, 10)):
            first = rng.randrange(steps)
            lo = rng.randrange(0, 64, 8)
            spans.append((first, rng.randint(first, steps - 1), lo, lo + rng.randrange(8, 40, 8)))
        expected = []
        for step in range(steps):
            covered = set()
            for first, last, lo, hi in spans:
                if first <= step <= last:
                    covered.update(range(lo, hi))
            expected.append(len(covered))
        assert covered_bytes_per_step(spans, steps) == expected


def test_live_bytes_of_a_long_chain_grow_by_one_output_per_op():
    # Every output is a graph output, so it stays live to the end: op k holds the input and k + 1 outputs
    # (16 bytes each). A scan of every allocation at every op took minutes at this size; the sweep does not.
    interp = Interpreter(model_content=add_chain(4000))
    interp.allocate_tensors()
    assert interp.memory_plan.live_bytes() == [16 * (k + 2) for k in range(4000)]
