cdef class UVPoll(UVHandle):
    cdef:
        readonly int fd
        Handle reader
        Handle writer
        int _events

    cdef set_reader(self, Handle reader)
    cdef set_writer(self, Handle writer)
    cdef bint fd_is_closed(self)
    cdef _update(self)

    @staticmethod
    cdef UVPoll new(Loop loop, int fd)
