cdef class TCPTransport(UVSocketStream):
    @staticmethod
    cdef TCPTransport new(Loop loop)
