cdef class UVPoll(UVHandle):
    cdef:
        readonly int fd
        Handle reader
        Handle writer
        int _events
        # FdWatches: the object the user named the fd by (None: a bare number).
        object fileobj
        # The signal wakeup fd (signals.pyx): an event tells the loop that signals
        # arrived, before any callback runs.
        bint signal_wakeup

    cdef inline Handle handle_for(self, bint for_write)
    cdef int set_handle(self, bint for_write, Handle handle) except -1
    cdef int _update(self) except -1

    @staticmethod
    cdef UVPoll new(Loop loop, int fd, bint nonblocking=*)
