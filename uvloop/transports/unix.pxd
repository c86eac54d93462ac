cdef class UnixTransport(UVSocketStream):
    @staticmethod
    cdef UnixTransport new(Loop loop)


cdef class UnixServer(UVStreamServer):
    @staticmethod
    cdef UnixServer new(Loop loop)
