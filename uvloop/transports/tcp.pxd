cdef class TCPTransport(UVSocketStream):
    @staticmethod
    cdef TCPTransport new(Loop loop)


cdef class TCPServer(UVStreamServer):
    @staticmethod
    cdef TCPServer new(Loop loop)
