# cython: language_level=3
"""The C-order walk of a 6-D geometry with two stride sets, one row (a run along the last axis) at a time.

Shared by the broadcast walk of elementwise.pyx (the two inputs' strides) and the reductions of
reduce.pyx (input and output strides): the caller loops over the last axis itself and calls `next_row`
after each row, which moves both starts to the next row in C order, as nested loops over the outer five
axes would.
"""
cdef enum:
    WALK_DIMS = 6


cdef struct Rows:
    # The index on each outer axis, and where the current row starts under each stride set.
    Py_ssize_t index[WALK_DIMS - 1]
    Py_ssize_t start1
    Py_ssize_t start2


cdef inline Rows first_row() noexcept nogil:
    cdef Rows r
    cdef int d
    for d in range(WALK_DIMS - 1):
        r.index[d] = 0
    r.start1 = 0
    r.start2 = 0
    return r


cdef inline void next_row(Rows* r, const Py_ssize_t* shape, const Py_ssize_t* strides1,
                          const Py_ssize_t* strides2) noexcept nogil:
    # Odometer step: the last outer axis first, carrying into the ones before it.
    cdef int d = WALK_DIMS - 2
    while d >= 0:
        r.index[d] += 1
        r.start1 += strides1[d]
        r.start2 += strides2[d]
        if r.index[d] < shape[d]:
            return
        r.start1 -= shape[d] * strides1[d]
        r.start2 -= shape[d] * strides2[d]
        r.index[d] = 0
        d -= 1
