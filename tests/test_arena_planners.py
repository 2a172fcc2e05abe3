"""The pure planners on random buffers and graphs: the packer (valid, never below its lower bound, exact
on small cases, never worse than TFLM's greedy planner), the plan checker against a byte-by-byte
oracle, and the op-order search against every topological order."""
from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microinterp.planning.access import ElementwiseAccess
from microinterp.planning.check import PlanError, Sharing, check_plan
from microinterp.planning.greedy import BufferRequest, head_size, plan_greedy
from microinterp.planning.order import Graph, OpNode, best_order, order_peak
from microinterp.planning.packing import OverlapPair, _Problem, _Search, lower_bound, pack


@st.composite
def buffer_sets(draw, max_buffers=12, max_units=8):
    """Buffers (16-byte units, lifetimes in 0..8) and overlap pairs shaped like declare()'s: the input's
    lifetime ends where the output's begins, each buffer at most once per side. Each pair is an
    elementwise kernel whose item sizes set its lag; returns (buffers, pairs, declarations)."""
    n = draw(st.integers(1, max_buffers))
    buffers = []
    for _ in range(n):
        a, b = draw(st.integers(0, 8)), draw(st.integers(0, 8))
        buffers.append(BufferRequest(16 * draw(st.integers(1, max_units)), min(a, b), max(a, b)))
    overlaps, sharing, used_in, used_out = [], [], set(), set()
    for i, j in itertools.permutations(range(n), 2):
        a, b = buffers[i], buffers[j]
        if a.last == b.first and a.first < b.first and i not in used_in and j not in used_out and draw(st.booleans()):
            in_size, out_size = draw(st.sampled_from([(1, 1), (1, 2), (1, 4), (2, 1)]))
            access = ElementwiseAccess(min(a.size // in_size, b.size // out_size), in_size, out_size)
            overlaps.append(OverlapPair(i, j, min(0, access.max_shift() or 0) // 16 * 16))
            sharing.append(Sharing(i, j, access))
            used_in.add(i)
            used_out.add(j)
    return buffers, overlaps, sharing


def allowed(buffers, overlaps, offsets) -> bool:
    """Every pair of time-overlapping buffers is byte-disjoint or an overlap pair within its shift."""
    shift = {(p.input, p.output): p.max_shift for p in overlaps}
    for i, j in itertools.combinations(range(len(buffers)), 2):
        a, b = buffers[i], buffers[j]
        if not a.overlaps_in_time(b) or offsets[i] >= offsets[j] + b.size or offsets[j] >= offsets[i] + a.size:
            continue
        if (i, j) in shift and offsets[j] - offsets[i] <= shift[(i, j)]:
            continue
        if (j, i) in shift and offsets[i] - offsets[j] <= shift[(j, i)]:
            continue
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(buffer_sets())
def test_packing_and_greedy_plans_pass_the_checker(case):
    buffers, overlaps, sharing = case
    result = pack(buffers, overlaps, time_budget=0.5)
    assert allowed(buffers, overlaps, result.offsets)
    check_plan(buffers, result.offsets, result.head, sharing)
    assert result.head == head_size(buffers, list(result.offsets)) >= result.lower_bound
    greedy = plan_greedy(buffers)
    check_plan(buffers, greedy, head_size(buffers, greedy))
    if not overlaps:
        assert result.head <= head_size(buffers, greedy)


def brute_force_head(buffers, overlaps) -> int:
    top = sum(b.size for b in buffers)
    best = top
    for offsets in itertools.product(range(0, top, 16), repeat=len(buffers)):
        head = max(o + b.size for o, b in zip(offsets, buffers))
        if head < best and allowed(buffers, overlaps, offsets):
            best = head
    return best


@settings(max_examples=40, deadline=None)
@given(buffer_sets(max_buffers=4, max_units=3))
def test_packing_and_the_search_alone_find_the_optimum_of_small_cases(case):
    buffers, overlaps, _ = case
    optimum = brute_force_head(buffers, overlaps)
    assert lower_bound(buffers, overlaps) <= optimum
    result = pack(buffers, overlaps)
    assert (result.head, result.proven_optimal) == (optimum, True)
    search = _Search(_Problem(buffers, overlaps), [0] * len(buffers), 1 << 30, 0, time.monotonic() + 10)
    search.run()
    assert search.complete and search.best_head == optimum


def test_vww_peak_reaches_the_bound_that_greedy_misses():
    # spec/arena-planning.md §7: greedy needs 73728 bytes, 55296 suffice.
    buffers = [BufferRequest(27648, 0, 1), BufferRequest(18432, 1, 2), BufferRequest(18432, 2, 3),
               BufferRequest(36864, 3, 4)]
    result = pack(buffers)
    assert head_size(buffers, plan_greedy(buffers)) == 73728
    assert (result.head, result.lower_bound, result.proven_optimal, result.nodes) == (55296, 55296, True, 0)


def test_buffers_living_before_the_first_op_are_bounded_and_packed():
    # A graph with no ops (found by fuzzing): its activations live at scope -1, before any op; an offline
    # buffer beside them is counted from that scope too.
    buffers = [BufferRequest(48, -1, -1), BufferRequest(16, -1, -1), BufferRequest(16, -1, -1)]
    assert lower_bound(buffers) == 80
    assert lower_bound([*buffers, BufferRequest(32, -1, 0, offline_offset=96)]) == 128
    assert pack(buffers).head == 80


def test_a_chain_of_overlaps_drifts_down_and_the_bound_knows_it():
    # Four equal buffers, each output trailing its input by 16 bytes: the chain spans 64 + 3 * 16 bytes,
    # more than the 80 live at any step, and breaking it (an output above its input) costs 128.
    buffers = [BufferRequest(64, k, k + 1) for k in range(4)]
    overlaps = [OverlapPair(k, k + 1, -16) for k in range(3)]
    result = pack(buffers, overlaps)
    assert (result.head, result.lower_bound, result.proven_optimal) == (112, 112, True)
    assert result.offsets == (48, 32, 16, 0)


# -- the checker ----------------------------------------------------------------------------------

@st.composite
def plans(draw):
    """Random buffers, random offsets near each other, and declarations: aliases and elementwise
    overlaps between a dying input and an output born at that step (itemsizes make lags)."""
    n = draw(st.integers(2, 6))
    buffers, accesses = [], {}
    for _ in range(n):
        a, b = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        buffers.append(BufferRequest(16 * draw(st.integers(1, 4)), min(a, b), max(a, b)))
    sharing = []
    for i, j in itertools.permutations(range(n), 2):
        if draw(st.integers(0, 4)) == 0:
            if draw(st.booleans()):
                sharing.append(Sharing(i, j))
            else:
                in_size, out_size = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (1, 4)]))
                count = min(buffers[i].size // in_size, buffers[j].size // out_size)
                sharing.append(Sharing(i, j, ElementwiseAccess(count, in_size, out_size)))
    if draw(st.booleans()):
        offsets = [draw(st.integers(0, 8)) * draw(st.sampled_from([16, 16, 16, 8])) for _ in range(n)]
    else:  # a packed plan of the usable overlaps, maybe with one buffer moved by 16 bytes
        sharing = [x for x in sharing if x.access is not None and buffers[x.input].last == buffers[x.output].first
                   and buffers[x.input].first < buffers[x.output].first]
        sharing = [x for k, x in enumerate(sharing) if all(x.input != y.input and x.output != y.output
                                                          for y in sharing[:k])]
        pairs = [OverlapPair(x.input, x.output, min(0, x.access.max_shift() or 0) // 16 * 16) for x in sharing]
        offsets = list(pack(buffers, pairs, time_budget=0.2).offsets)
        moved = draw(st.integers(0, 2 * n - 1))
        if moved < n:
            offsets[moved] = max(0, offsets[moved] + draw(st.sampled_from([-16, 16])))
    head = max(o + b.size for o, b in zip(offsets, buffers)) + draw(st.sampled_from([0, 0, -16]))
    return buffers, offsets, head, sharing


def oracle_problems(buffers, offsets, head, sharing) -> bool:
    """Whether the plan breaks a rule, found scope by scope and byte by byte."""
    if any(o % 16 or o < 0 or o + b.size > head for o, b in zip(offsets, buffers)):
        return True
    same_bytes = {}  # alias groups: transitive closure of aliases that sit on exactly the same bytes
    for s in sharing:
        if s.access is None:
            if (offsets[s.input], buffers[s.input].size) != (offsets[s.output], buffers[s.output].size):
                return True
            same_bytes.setdefault(s.input, {s.input}).add(s.output)
    groups = [set(g) for g in same_bytes.values()]
    merged = True
    while merged:
        merged = False
        for g, h in itertools.combinations(groups, 2):
            if g & h:
                g |= h
                groups.remove(h)
                merged = True
                break
    overlaps = {(s.input, s.output): s.access for s in sharing if s.access is not None}
    for (i, o), access in overlaps.items():
        if buffers[i].last != buffers[o].first:
            return True
    for t in range(0, 5):
        owner: dict[int, list[int]] = {}
        for k, (o, b) in enumerate(zip(offsets, buffers)):
            if b.first <= t <= b.last:
                for byte in range(o, o + b.size):
                    owner.setdefault(byte, []).append(k)
        for holders in owner.values():
            for a, b in itertools.combinations(holders, 2):
                if any({a, b} <= g for g in groups):
                    continue
                key = (a, b) if (a, b) in overlaps else (b, a)
                if key not in overlaps or overlaps[key].first_clobber(offsets[key[1]] - offsets[key[0]]) is not None:
                    return True
    return False


@settings(max_examples=300, deadline=None)
@given(plans())
def test_checker_agrees_with_a_byte_by_byte_oracle(plan):
    buffers, offsets, head, sharing = plan
    expected = oracle_problems(buffers, offsets, head, sharing)
    try:
        check_plan(buffers, offsets, head, sharing)
        found = False
    except PlanError:
        found = True
    assert found == expected


def test_checker_names_the_clobbered_byte_of_an_overlap_placed_too_high():
    # int8 -> int32 elementwise: writes run 4x faster than reads, so the output must start well below.
    access = ElementwiseAccess(16, 1, 4)
    buffers = [BufferRequest(16, 0, 1), BufferRequest(64, 1, 2)]
    safe = -access.max_shift() // 16 * 16 + 16  # input offset with the output at 0
    check_plan(buffers, [safe, 0], safe + 16, [Sharing(0, 1, access)])
    with pytest.raises(PlanError, match="output byte .* is written before the input byte under it is last read"):
        check_plan(buffers, [safe - 16, 0], safe, [Sharing(0, 1, access)])


def test_checker_rejects_undeclared_sharing_misaligned_offsets_and_bytes_outside_the_head():
    buffers = [BufferRequest(32, 0, 2), BufferRequest(32, 1, 3)]
    with pytest.raises(PlanError, match="share bytes while both are live"):
        check_plan(buffers, [0, 16], 48)
    with pytest.raises(PlanError, match="not a multiple of 16"):
        check_plan(buffers, [0, 40], 72)
    with pytest.raises(PlanError, match="outside the head"):
        check_plan(buffers, [0, 32], 48)
    with pytest.raises(PlanError, match="not the same bytes"):
        check_plan(buffers, [0, 16], 48, [Sharing(0, 1)])
    with pytest.raises(PlanError, match="not only until the op"):
        check_plan(buffers, [0, 0], 32, [Sharing(0, 1, ElementwiseAccess(32, 1, 1))])


# -- the op order ---------------------------------------------------------------------------------

@st.composite
def graphs(draw):
    """A random DAG: op k reads values produced by earlier ops (or graph inputs), writes one new value."""
    n_ops = draw(st.integers(1, 7))
    n_inputs = draw(st.integers(1, 2))
    sizes = [16 * draw(st.integers(1, 6)) for _ in range(n_inputs + n_ops)]
    ops = []
    for k in range(n_ops):
        available = list(range(n_inputs + k))
        reads = draw(st.lists(st.sampled_from(available), min_size=1, max_size=3, unique=True))
        savings = tuple((v, draw(st.integers(0, min(sizes[v], sizes[n_inputs + k]) // 16)) * 16)
                        for v in reads if draw(st.booleans()))
        ops.append(OpNode(tuple(reads), (n_inputs + k,), 16 * draw(st.integers(0, 2)), savings))
    outputs = frozenset({n_inputs + n_ops - 1} | set(draw(st.lists(st.integers(n_inputs, n_inputs + n_ops - 1),
                                                                   max_size=2))))
    return Graph(tuple(sizes), tuple(ops), outputs)


def topological_orders(g: Graph):
    producer = {v: k for k, op in enumerate(g.ops) for v in op.outputs}
    for order in itertools.permutations(range(len(g.ops))):
        position = {k: i for i, k in enumerate(order)}
        if all(position[producer[v]] < position[k] for k, op in enumerate(g.ops) for v in op.inputs if v in producer):
            yield order


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_best_order_has_the_lowest_peak_of_every_topological_order(g):
    order, peak = best_order(g)
    orders = list(topological_orders(g))
    assert tuple(order) in orders
    assert peak == order_peak(g, order) == min(order_peak(g, o) for o in orders)


def test_greedy_fallback_still_gives_a_topological_order():
    g = Graph((16, 64, 64, 16, 16), (OpNode((0,), (1,)), OpNode((0,), (2,)), OpNode((1,), (3,)), OpNode((2, 3), (4,))),
              frozenset({4}))
    order, peak = best_order(g, max_steps=1)
    assert tuple(order) in list(topological_orders(g)) and peak == order_peak(g, order)
