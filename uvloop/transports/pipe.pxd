cdef class _PipeTransport(UVStream):
    pass


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
