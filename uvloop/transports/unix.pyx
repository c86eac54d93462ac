# The Unix stream socket transport (UnixTransport) over a uv_pipe_t handle. Everything
# but the handle type is in stream.pyx, and so are the life rules; the uv_pipe_t set-up
# is shared with the pipes (pipe.pyx: _init_pipe_handle, _open_pipe_fd).


cdef class UnixTransport(UVSocketStream):
    """A Unix stream socket (or any stream socket libuv has no special type for)."""

    @staticmethod
    cdef UnixTransport new(Loop loop):
        cdef UnixTransport transport = UnixTransport.__new__(UnixTransport)
        _init_pipe_handle(transport, loop)
        return transport

    cdef _open_fd(self, int fd):
        _open_pipe_fd(self, fd)
