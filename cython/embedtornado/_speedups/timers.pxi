# The timer heap: a binary min-heap of TimerHandle objects in a Python list,
# ordered by (when, seq). Included by loop.pyx.
#
# The sequence number makes timers due at the same instant run in the order
# they were scheduled (asyncio's heapq gives no such promise, but never the
# opposite order for the common cases, so this is a refinement, not a
# deviation). Cancelled timers stay in the heap until they reach its head or
# until they make up more than half of it (asyncio's
# ``_MIN_CANCELLED_TIMER_HANDLES_FRACTION``), when the heap is rebuilt.

cdef Py_ssize_t _MIN_SCHEDULED_TIMER_HANDLES = 100


cdef inline bint _timer_lt(TimerHandle a, TimerHandle b):
    if a._when < b._when:
        return True
    if a._when > b._when:
        return False
    return a._seq < b._seq


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _heap_siftdown(list heap, Py_ssize_t startpos, Py_ssize_t pos) except -1:
    # Move heap[pos] towards the root (heapq._siftdown).
    cdef TimerHandle newitem = <TimerHandle>heap[pos]
    cdef TimerHandle parent
    cdef Py_ssize_t parentpos
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        parent = <TimerHandle>heap[parentpos]
        if _timer_lt(newitem, parent):
            heap[pos] = parent
            pos = parentpos
            continue
        break
    heap[pos] = newitem
    return 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _heap_siftup(list heap, Py_ssize_t pos) except -1:
    # Move heap[pos] towards the leaves (heapq._siftup).
    cdef Py_ssize_t endpos = len(heap)
    cdef Py_ssize_t startpos = pos
    cdef TimerHandle newitem = <TimerHandle>heap[pos]
    cdef Py_ssize_t childpos = 2 * pos + 1
    cdef Py_ssize_t rightpos
    while childpos < endpos:
        rightpos = childpos + 1
        if rightpos < endpos and not _timer_lt(<TimerHandle>heap[childpos],
                                               <TimerHandle>heap[rightpos]):
            childpos = rightpos
        heap[pos] = heap[childpos]
        pos = childpos
        childpos = 2 * pos + 1
    heap[pos] = newitem
    _heap_siftdown(heap, startpos, pos)
    return 0


cdef inline int _heap_push(list heap, TimerHandle timer) except -1:
    heap.append(timer)
    _heap_siftdown(heap, 0, len(heap) - 1)
    return 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef TimerHandle _heap_pop(list heap):
    # Remove and return the smallest timer; the heap must not be empty.
    cdef Py_ssize_t n = len(heap)
    cdef TimerHandle last = <TimerHandle>heap[n - 1]
    del heap[n - 1]
    if n == 1:
        return last
    cdef TimerHandle first = <TimerHandle>heap[0]
    heap[0] = last
    _heap_siftup(heap, 0)
    return first


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _heap_drop_cancelled(list heap) except -1:
    # Rebuild the heap without its cancelled timers (heapq.heapify).
    cdef list alive = []
    cdef TimerHandle t
    for item in heap:
        t = <TimerHandle>item
        if t._cancelled:
            t._scheduled = False
        else:
            alive.append(t)
    heap[:] = alive
    cdef Py_ssize_t i = len(heap) // 2 - 1
    while i >= 0:
        _heap_siftup(heap, i)
        i -= 1
    return 0
