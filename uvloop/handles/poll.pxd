cdef class UVPoll(UVHandle):
    cdef:
        readonly int fd
        Handle reader
        Handle writer
        int _events
        # FdWatches: the object the user named the fd by (None: a bare number).
        object fileobj

    cdef inline Handle handle_for(self, bint for_write)
    cdef int set_handle(self, bint for_write, Handle handle) except -1
    cdef int _update(self) except -1

    @staticmethod
    cdef UVPoll new(Loop loop, int fd, bint nonblocking=*)
