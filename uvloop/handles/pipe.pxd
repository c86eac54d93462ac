cdef class UnixTransport(UVSocketStream):
    @staticmethod
    cdef UnixTransport new(Loop loop)


cdef class UnixServer(UVStreamServer):
    @staticmethod
    cdef UnixServer new(Loop loop)


cdef class _PipeTransport(UVStream):
    # The API for subprocess stdio (see pipe.pyx): new() -> [open_fd() or uv_spawn()]
    # -> start(). Stable: the proc branch builds on it.
    cdef open_fd(self, int fd)
    cdef start(self, protocol, waiter, pipe)


cdef class ReadPipeTransport(_PipeTransport):
    @staticmethod
    cdef ReadPipeTransport new(Loop loop)


cdef class WritePipeTransport(_PipeTransport):
    cdef:
        bint _watch_reader            # a FIFO or a socket: its reader can go away
        UVPoll _reader_watch          # readiness of a dup() of the fd: reader gone
        int _reader_watch_fd

    @staticmethod
    cdef WritePipeTransport new(Loop loop)
