cdef class UVPoll(UVHandle):
    cdef:
        readonly int fd
        Handle reader
        Handle writer
        int _events

    cdef inline Handle handle_for(self, bint for_write)
    cdef set_handle(self, bint for_write, Handle handle)
    cdef bint fd_is_closed(self)
    cdef _update(self)

    @staticmethod
    cdef UVPoll new(Loop loop, int fd)
