# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled geometry of arena planning: TFLM's greedy first fit, and the search for buffers that share
bytes while both are live (for the plan checker). Both work on int64 arrays prepared by
microinterp/planning (which checks their lengths); every buffer is a closed lifetime [first, last] and
a byte range [offset, offset + size).

greedy_offsets walks the placed buffers in offset order exactly as TFLM does (spec/arena-planning.md
§2.1), but over blocks of up to 2*BLOCK neighbours that carry a summary of their lifetimes, ends and
inner gaps: a block none of whose buffers is live with the new one, or all of whose buffers are and
that has no gap wide enough, is passed in one step. A chain (buffers of one era share blocks) or a
graph whose buffers all live to the end (one contiguous stack) then costs a few steps per block;
only an adversarial mix of lifetimes in every block falls back to TFLM's buffer-by-buffer walk.

live_overlaps sweeps time: buffers enter the live set at their first scope and leave after their last,
and each one entering asks a segment tree over the distinct offsets (holding the highest live end
under each node) for the live buffers its bytes meet, so the cost is O((n + pairs found) log n).
"""
import numpy as np

from libc.stdlib cimport free, malloc
from libc.string cimport memmove
from libc.stdint cimport int64_t

DEF BLOCK = 64
cdef int64_t NEG = -(1 << 62)
cdef int64_t POS = 1 << 62


cdef struct Block:
    Py_ssize_t count
    int64_t* offset
    int64_t* end
    int64_t* first
    int64_t* last
    int64_t min_first, max_first, min_last, max_last, max_end, max_gap


cdef void _summarize(Block* b) noexcept nogil:
    """Lifetime bounds, highest end and widest inner gap (offset minus the highest end before it)."""
    cdef Py_ssize_t k
    cdef int64_t reach = NEG
    b.min_first, b.max_first, b.min_last, b.max_last, b.max_gap = POS, NEG, POS, NEG, NEG
    for k in range(b.count):
        b.min_first = min(b.min_first, b.first[k])
        b.max_first = max(b.max_first, b.first[k])
        b.min_last = min(b.min_last, b.last[k])
        b.max_last = max(b.max_last, b.last[k])
        if k:
            b.max_gap = max(b.max_gap, b.offset[k] - reach)
        reach = max(reach, b.end[k])
    b.max_end = reach


cdef bint _new_block(Block* b) noexcept nogil:
    b.count = 0
    b.offset = <int64_t*>malloc(4 * 2 * BLOCK * sizeof(int64_t))
    if b.offset == NULL:
        return False
    b.end, b.first, b.last = b.offset + 2 * BLOCK, b.offset + 4 * BLOCK, b.offset + 6 * BLOCK
    return True


cdef void _insert(Block* b, Py_ssize_t pos, int64_t offset, int64_t end, int64_t first, int64_t last) noexcept nogil:
    cdef Py_ssize_t tail = (b.count - pos) * sizeof(int64_t)
    memmove(b.offset + pos + 1, b.offset + pos, tail)
    memmove(b.end + pos + 1, b.end + pos, tail)
    memmove(b.first + pos + 1, b.first + pos, tail)
    memmove(b.last + pos + 1, b.last + pos, tail)
    b.offset[pos], b.end[pos], b.first[pos], b.last[pos] = offset, end, first, last
    b.count += 1


cdef int64_t _first_fit(Block* blocks, Py_ssize_t n_blocks, int64_t size, int64_t first, int64_t last) noexcept nogil:
    """TFLM's walk: the lowest gap before a live placed buffer (offset order) that holds `size` bytes."""
    cdef int64_t cand = 0
    cdef Py_ssize_t i, k
    cdef Block* b
    if size == 0:  # the first live buffer (offset >= 0) already leaves room for nothing
        return 0
    for i in range(n_blocks):
        b = &blocks[i]
        if b.max_last < first or b.min_first > last:
            continue
        if b.max_first <= last and b.min_last >= first:
            if b.offset[0] - cand >= size:
                return cand
            if b.max_gap < size:
                cand = max(cand, b.max_end)
                continue
        for k in range(b.count):
            if b.first[k] <= last and first <= b.last[k]:
                if b.offset[k] - cand >= size:
                    return cand
                cand = max(cand, b.end[k])
    return cand


def greedy_offsets(const int64_t[:] size, const int64_t[:] first, const int64_t[:] last,
                   const int64_t[:] fixed, const int64_t[:] order):
    """Offsets of the buffers placed in `order` as TFLM's greedy planner does: a buffer with
    fixed[i] >= 0 takes that offset, any other the first fit among the live buffers placed before it.
    A placed buffer goes after every placed buffer whose offset is not above its own."""
    cdef Py_ssize_t n = size.shape[0], n_blocks = 0, i, j, pos, idx
    cdef int64_t o
    cdef bint failed = False
    offsets = np.zeros(n, np.int64)
    cdef int64_t[:] out = offsets
    cdef Block* blocks = <Block*>malloc((n // BLOCK + 2) * sizeof(Block))
    if blocks == NULL:
        raise MemoryError()
    try:
        with nogil:
            for idx in range(order.shape[0]):
                i = order[idx]
                o = fixed[i] if fixed[i] >= 0 else _first_fit(blocks, n_blocks, size[i], first[i], last[i])
                out[i] = o
                if n_blocks == 0:
                    failed = not _new_block(&blocks[0])
                    if failed:
                        break
                    n_blocks = 1
                # the last block that starts at or below o takes it (block 0 if none does)
                j = n_blocks - 1
                while j > 0 and blocks[j].offset[0] > o:
                    j -= 1
                pos = blocks[j].count
                while pos > 0 and blocks[j].offset[pos - 1] > o:
                    pos -= 1
                _insert(&blocks[j], pos, o, o + size[i], first[i], last[i])
                if blocks[j].count == 2 * BLOCK:
                    memmove(&blocks[j + 2], &blocks[j + 1], (n_blocks - j - 1) * sizeof(Block))
                    n_blocks += 1
                    failed = not _new_block(&blocks[j + 1])
                    if failed:
                        break
                    for pos in range(BLOCK):
                        _insert(&blocks[j + 1], pos, blocks[j].offset[BLOCK + pos], blocks[j].end[BLOCK + pos],
                                blocks[j].first[BLOCK + pos], blocks[j].last[BLOCK + pos])
                    blocks[j].count = BLOCK
                    _summarize(&blocks[j + 1])
                _summarize(&blocks[j])
        if failed:
            raise MemoryError()
    finally:
        for j in range(n_blocks):
            free(blocks[j].offset)
        free(blocks)
    return offsets


cdef void _set_leaf(int64_t* tree, Py_ssize_t node, int64_t value) noexcept nogil:
    tree[node] = value
    node //= 2
    while node:
        tree[node] = max(tree[2 * node], tree[2 * node + 1])
        node //= 2


cdef int64_t _leaf_max_end(Py_ssize_t head, const int64_t[:] offset, const int64_t[:] size,
                           const Py_ssize_t* nxt) noexcept nogil:
    """The highest end among the live buffers of one offset (NEG when none is left)."""
    cdef int64_t reach = NEG
    while head >= 0:
        reach = max(reach, offset[head] + size[head])
        head = nxt[head]
    return reach


def live_overlaps(const int64_t[:] offset, const int64_t[:] size, const int64_t[:] first,
                  const int64_t[:] last, const int64_t[:] group, const unsigned char[:] fixed, Py_ssize_t limit):
    """Pairs (i, j) of buffers live at a common scope whose bytes meet, except pairs of one group and
    pairs of two fixed (offline) buffers; buffers of size 0 or with first > last are left out.
    Returns (pairs as an (m, 2) array, True if more than `limit` pairs exist and only `limit` are given)."""
    cdef Py_ssize_t n = offset.shape[0], width = 1, i, j, r, idx, gone = 0, node, lo, hi, mid, top
    cdef int64_t o, e
    cdef bint truncated = False
    distinct = np.unique(np.asarray(offset))
    rank_arr = np.searchsorted(distinct, np.asarray(offset)).astype(np.intp)
    upper_arr = np.searchsorted(distinct, np.asarray(offset) + np.asarray(size)).astype(np.intp)
    by_first_arr = np.argsort(np.asarray(first), kind="stable").astype(np.intp)
    by_last_arr = np.argsort(np.asarray(last), kind="stable").astype(np.intp)
    cdef const Py_ssize_t[:] rank = rank_arr, upper = upper_arr, by_first = by_first_arr, by_last = by_last_arr
    while width < max(1, distinct.shape[0]):
        width *= 2
    tree_arr = np.full(2 * width, NEG, np.int64)
    links_arr = np.full(2 * n + width, -1, np.intp)  # next, previous, then the head of each leaf's list
    live_arr = np.zeros(n, np.uint8)
    pairs_arr = np.zeros((max(limit, 0), 2), np.int64)
    stack_arr = np.zeros(3 * 64, np.intp)
    cdef int64_t[:] tree = tree_arr
    cdef Py_ssize_t[:] links = links_arr
    cdef Py_ssize_t* nxt = &links[0]
    cdef Py_ssize_t* prv = nxt + n
    cdef Py_ssize_t* leaf_head = nxt + 2 * n
    cdef unsigned char[:] live = live_arr
    cdef int64_t[:, :] pairs = pairs_arr
    cdef Py_ssize_t[:] stack = stack_arr
    cdef Py_ssize_t found = 0
    with nogil:
        for idx in range(n):
            i = by_first[idx]
            if size[i] == 0 or first[i] > last[i]:
                continue
            while gone < n and last[by_last[gone]] < first[i]:
                j = by_last[gone]
                gone += 1
                if not live[j]:
                    continue
                live[j] = 0
                r = rank[j]
                if prv[j] >= 0:
                    nxt[prv[j]] = nxt[j]
                else:
                    leaf_head[r] = nxt[j]
                if nxt[j] >= 0:
                    prv[nxt[j]] = prv[j]
                _set_leaf(&tree[0], width + r, _leaf_max_end(leaf_head[r], offset, size, nxt))
            o, e = offset[i], offset[i] + size[i]
            # live buffers at ranks below upper[i] (offset < e) whose end is above o
            stack[0], stack[1], stack[2] = 1, 0, width
            top = 1
            while top:
                top -= 1
                node, lo, hi = stack[3 * top], stack[3 * top + 1], stack[3 * top + 2]
                if lo >= upper[i] or tree[node] <= o:
                    continue
                if hi - lo == 1:
                    j = leaf_head[lo]
                    while j >= 0:
                        if offset[j] + size[j] > o and group[i] != group[j] and not (fixed[i] and fixed[j]):
                            if found < limit:
                                pairs[found, 0], pairs[found, 1] = i, j
                                found += 1
                            else:
                                truncated = True
                        j = nxt[j]
                    continue
                mid = (lo + hi) // 2
                stack[3 * top], stack[3 * top + 1], stack[3 * top + 2] = 2 * node + 1, mid, hi
                stack[3 * top + 3], stack[3 * top + 4], stack[3 * top + 5] = 2 * node, lo, mid
                top += 2
            r = rank[i]
            nxt[i], prv[i] = leaf_head[r], -1
            if leaf_head[r] >= 0:
                prv[leaf_head[r]] = i
            leaf_head[r] = i
            live[i] = 1
            if tree[width + r] < e:
                _set_leaf(&tree[0], width + r, e)
    return pairs_arr[:found], truncated
