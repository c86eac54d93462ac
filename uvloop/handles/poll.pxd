cdef class UVPoll(UVHandle):
    cdef:
        readonly int fd
        Handle reader
        Handle writer
        int _events

    cdef inline Handle handle_for(self, bint for_write)
    cdef bint set_handle(self, bint for_write, Handle handle) except -1
    cdef bint fd_is_closed(self)
    cdef bint _update(self) except -1

    @staticmethod
    cdef UVPoll new(Loop loop, int fd)
