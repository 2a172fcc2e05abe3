"""The one plan checker every strategy's plan goes through.

A plan is valid when every online offset is aligned, every buffer lies inside the head, and no two
buffers whose lifetimes intersect share a byte, except:
* both carry the model's own offline offsets (TFLM takes those verbatim and so do we);
* they belong to one alias group: declared aliases placed at exactly the same offset with the same
  size (a byte copy that was never made);
* they are a declared overlap: the output of an op over that op's input, the input's lifetime ending
  where the output's begins, and a replay of the kernel's read/write schedule at the planned shift
  finds no input byte overwritten before its last read (access.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._kernels.planning import live_overlaps
from .access import Access
from .greedy import BufferRequest, request_arrays
from .lifetimes import ALIGNMENT


class PlanError(RuntimeError):
    """A plan broke a rule of the checker: a planner bug, never a property of the model."""


@dataclass(frozen=True)
class Sharing:
    """A declaration that buffers `input` and `output` may share bytes: an alias (access None) or an
    overlap whose kernel schedule is `access`."""
    input: int
    output: int
    access: Access | None = None


def alias_roots(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """For items 0..n-1 joined by alias pairs: the representative of each item's group."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps long alias chains shallow
            i = parent[i]
        return i
    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
    return [root(i) for i in range(n)]


def _meeting_pairs(buffers: Sequence[BufferRequest], offsets: Sequence[int], group: Sequence[int],
                   limit: int) -> tuple[list[tuple[int, int]], bool]:
    """Pairs of non-empty buffers live at a common scope whose bytes meet, other than pairs within one
    alias group or of two offline buffers, each as (i, j) with i > j, sorted; and whether the sweep found more than `limit` of them (a
    valid plan has at most one per declared overlap).

    The sweep (kernels/planning.pyx) skips lifetimes with first > last; the checker compares those
    few with every buffer directly, with the conflict rule the planners use."""
    size, first, last, fixed = request_arrays(buffers)
    offset = np.asarray(offsets, np.int64).reshape(len(buffers))
    group_ids = np.asarray(group, np.int64).reshape(len(buffers))
    found, truncated = live_overlaps(offset, size, first, last, group_ids, (fixed >= 0).astype(np.uint8), limit)
    pairs = [(max(i, j), min(i, j)) for i, j in found.tolist()]
    for i in np.flatnonzero((first > last) & (size > 0)).tolist():
        a = buffers[i]
        for j, b in enumerate(buffers):
            if (j != i and b.size and a.overlaps_in_time(b) and offsets[i] < offsets[j] + b.size
                    and offsets[j] < offsets[i] + a.size and group[i] != group[j]
                    and (a.offline_offset is None or b.offline_offset is None)
                    and (first[j] <= last[j] or j < i)):  # a pair of two such buffers once
                pairs.append((max(i, j), min(i, j)))
    return sorted(pairs), truncated


def check_plan(buffers: Sequence[BufferRequest], offsets: Sequence[int], head: int,
               sharing: Sequence[Sharing] = (), names: Sequence[str] | None = None) -> None:
    """Raise PlanError listing every broken rule (names describe the buffers in messages)."""
    name = (lambda i: names[i]) if names is not None else (lambda i: f"buffer {i}")
    problems = []
    for i, (b, o) in enumerate(zip(buffers, offsets)):
        if b.offline_offset is not None:
            if o != b.offline_offset:
                problems.append(f"{name(i)}: offset {o}, but its offline offset is {b.offline_offset}")
        elif o % ALIGNMENT:
            problems.append(f"{name(i)}: offset {o} is not a multiple of {ALIGNMENT}")
        if o < 0 or o + b.size > head:
            problems.append(f"{name(i)}: bytes [{o}, {o + b.size}) outside the head [0, {head})")

    same_bytes: list[tuple[int, int]] = []
    overlaps: dict[tuple[int, int], Access] = {}
    for s in sharing:
        a, b = s.input, s.output
        if s.access is None:
            if offsets[a] != offsets[b] or buffers[a].size != buffers[b].size:
                problems.append(f"alias {name(b)} of {name(a)}: offsets {offsets[b]} and {offsets[a]}, sizes "
                                f"{buffers[b].size} and {buffers[a].size}: not the same bytes")
            else:
                same_bytes.append((a, b))
        elif buffers[a].last != buffers[b].first:
            problems.append(f"overlap of {name(b)} over {name(a)}: the input lives until {buffers[a].last}, "
                            f"not only until the op at {buffers[b].first} that writes the output")
        else:
            overlaps[(a, b)] = s.access

    group = alias_roots(len(buffers), same_bytes)
    pairs, truncated = _meeting_pairs(buffers, offsets, group, limit=len(overlaps) + 64)
    for i, j in pairs:
        a, b = buffers[i], buffers[j]
        key = (i, j) if (i, j) in overlaps else (j, i)
        access = overlaps.get(key)
        if access is None:
            problems.append(f"{name(i)} [{offsets[i]}, {offsets[i] + a.size}) and {name(j)} "
                            f"[{offsets[j]}, {offsets[j] + b.size}) share bytes while both are live")
            continue
        shift = offsets[key[1]] - offsets[key[0]]
        clobbered = access.first_clobber(shift)
        if clobbered is not None:
            problems.append(f"overlap of {name(key[1])} over {name(key[0])} at shift {shift}: output byte "
                            f"{clobbered} is written before the input byte under it is last read")
    if truncated:
        problems.append("... and more buffers sharing bytes while both are live")
    if problems:
        raise PlanError("invalid memory plan:\n  " + "\n  ".join(problems))
