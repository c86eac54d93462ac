cdef class Handle:
    cdef:
        # Read-only from Python: asyncio's own code reads these on handles.
        readonly object _callback
        readonly tuple _args
        readonly bint _cancelled
        readonly object _source_traceback
        object _context
        Loop _loop
        object _repr
        object __weakref__
        # _UNTRACKED_* bits: what _untrack_while_queued() took out of the cyclic GC.
        int _untracked

    cdef _run(self)
    cdef _track_again(self)
    cdef _report_error(self, exc)


cdef class TimerHandle(Handle):
    cdef:
        double _when
        # Position in the loop's timer heap, -1 when not scheduled there.
        Py_ssize_t _heap_index
        # Tie-breaker: timers with equal deadlines fire in scheduling order.
        unsigned long long _seq
