cdef class UnixTransport(UVSocketStream):
    @staticmethod
    cdef UnixTransport new(Loop loop)
