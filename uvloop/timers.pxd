cdef class TimerQueue:
    cdef:
        Loop _loop
        # Scheduled TimerHandles: a binary heap ordered by (when, seq).
        list _heap
        unsigned long long _seq
        # Bounds how long uv_run() may sleep: armed for the earliest deadline.
        UVTimer _wakeup

    cdef push(self, TimerHandle timer)
    cdef remove(self, TimerHandle timer)
    cdef _sift_up(self, Py_ssize_t pos)
    cdef _sift_down(self, Py_ssize_t pos)
    cdef move_due(self, list ready)
    cdef arm_wakeup(self)
    cdef clear(self)
