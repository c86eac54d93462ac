# TimerQueue: the loop's scheduled TimerHandles (call_later, call_at) and the one libuv
# timer that wakes the loop for the earliest of them.
#
# Needs: TimerHandle (callbacks.pyx), UVTimer (handles/timer.pyx).
#
# TimerHandles live in a binary heap of our own, not one uv_timer_t each: scheduling
# and cancelling is a heap operation with no libuv call, and a cancelled timer leaves
# the heap at once (so it is freed at once). Before each blocking iteration the loop
# arms the wake-up timer for the earliest deadline; after uv_run() the due timers join
# the ready queue. Owned by one loop, used by its thread only.

from libc.math cimport ceil

# The longest single sleep of the loop (a day); a later deadline is re-armed.
cdef double _MAX_WAKEUP_MS = 86400e3


cdef inline bint _timer_before(TimerHandle a, TimerHandle b):
    return a._when < b._when or (a._when == b._when and a._seq < b._seq)


cdef class TimerQueue:

    def __cinit__(self, Loop loop):
        self._loop = loop
        self._heap = []
        self._wakeup = UVTimer.new(loop)

    cdef push(self, TimerHandle timer):
        self._seq += 1
        timer._seq = self._seq
        timer._heap_index = len(self._heap)
        self._heap.append(timer)
        self._sift_up(timer._heap_index)
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_TIMERS_SCHEDULED, 1)

    cdef remove(self, TimerHandle timer):
        cdef list heap = self._heap
        cdef Py_ssize_t pos = timer._heap_index
        cdef TimerHandle last = <TimerHandle>heap.pop()
        timer._heap_index = -1
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_TIMERS_SCHEDULED, -1)
        if last is timer:
            return
        heap[pos] = last
        last._heap_index = pos
        self._sift_down(pos)
        self._sift_up(last._heap_index)

    cdef _sift_up(self, Py_ssize_t pos):
        cdef list heap = self._heap
        cdef TimerHandle item = <TimerHandle>heap[pos]
        cdef TimerHandle parent
        cdef Py_ssize_t parent_pos
        while pos > 0:
            parent_pos = (pos - 1) >> 1
            parent = <TimerHandle>heap[parent_pos]
            if not _timer_before(item, parent):
                break
            heap[pos] = parent
            parent._heap_index = pos
            pos = parent_pos
        heap[pos] = item
        item._heap_index = pos

    cdef _sift_down(self, Py_ssize_t pos):
        cdef list heap = self._heap
        cdef Py_ssize_t size = len(heap)
        cdef TimerHandle item = <TimerHandle>heap[pos]
        cdef TimerHandle child
        cdef Py_ssize_t child_pos
        while True:
            child_pos = 2 * pos + 1
            if child_pos >= size:
                break
            if (child_pos + 1 < size and
                    _timer_before(<TimerHandle>heap[child_pos + 1],
                                  <TimerHandle>heap[child_pos])):
                child_pos += 1
            child = <TimerHandle>heap[child_pos]
            if not _timer_before(child, item):
                break
            heap[pos] = child
            child._heap_index = pos
            pos = child_pos
        heap[pos] = item
        item._heap_index = pos

    cdef move_due(self, list ready):
        """Append every timer that is due to `ready`, earliest first."""
        cdef TimerHandle timer
        if not self._heap:
            return
        cdef double now = uv.uv_hrtime() * 1e-9
        while self._heap:
            timer = <TimerHandle>self._heap[0]
            if timer._when > now:
                break
            self.remove(timer)
            ready.append(timer)

    cdef arm_wakeup(self):
        """Before a blocking uv_run(): wake up for the earliest timer (if any)."""
        cdef TimerHandle first
        cdef double delay_ms
        if not self._heap:
            self._wakeup.stop()
            return
        first = <TimerHandle>self._heap[0]
        # libuv counts the timeout from its cached millisecond clock and sleeps at
        # least that long: refresh the cache so the count starts now, and take the
        # remaining time from the clock the deadlines use, rounded up to whole
        # milliseconds. The loop then wakes at the deadline, not a millisecond after;
        # a wake-up before it (an I/O event) finds no timer due and re-arms.
        uv.uv_update_time(self._loop.uvloop)
        delay_ms = ceil(first._when * 1e3 - <double>uv.uv_hrtime() * 1e-6)
        if delay_ms <= 0:
            delay_ms = 0
        elif not delay_ms <= _MAX_WAKEUP_MS:
            # +inf or far off (a uint64 cast would overflow into a 0 ms timeout):
            # sleep a day, then re-arm.
            delay_ms = _MAX_WAKEUP_MS
        self._wakeup.start(<uint64_t>delay_ms)

    cdef clear(self):
        """Drop every scheduled timer (the loop is closing)."""
        for timer in self._heap:
            (<TimerHandle>timer)._heap_index = -1
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_TIMERS_SCHEDULED, -len(self._heap))
        self._heap = []
