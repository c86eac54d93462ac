# Unix stream sockets over uv_pipe_t handles: the transport (UnixTransport) and the
# listening socket (UnixServer). Everything but the handle type is in stream.pyx, and so
# are the life rules; the uv_pipe_t set-up is shared with the pipes (pipe.pyx:
# _init_pipe_handle, _open_pipe_fd).


cdef class UnixTransport(UVSocketStream):
    """A Unix stream socket (or any stream socket libuv has no special type for)."""

    @staticmethod
    cdef UnixTransport new(Loop loop):
        cdef UnixTransport transport = UnixTransport.__new__(UnixTransport)
        _init_pipe_handle(transport, loop)
        return transport

    cdef _open_fd(self, int fd):
        _open_pipe_fd(self, fd)


cdef class UnixServer(UVStreamServer):

    @staticmethod
    cdef UnixServer new(Loop loop):
        cdef UnixServer listener = UnixServer.__new__(UnixServer)
        listener._init_server(loop, sizeof(uv.uv_pipe_t))
        listener._attach_or_raise(
            uv.uv_pipe_init(loop.uvloop, <uv.uv_pipe_t*>listener._handle, 0))
        return listener

    cdef int _open_listening_fd(self, int fd):
        return uv.uv_pipe_open(<uv.uv_pipe_t*>self._handle, fd)

    cdef UVStream _new_client(self):
        return UnixTransport.new(self._loop)


