# The TCP transport (TCPTransport) over a uv_tcp_t handle. Everything but the handle
# type lives in stream.pyx, and so do the life rules: `new()` runs uv_tcp_init() and
# attaches the handle; libuv owns the descriptor given to `_open_fd()` (connected or
# accepted) and closes it with the handle.
#
# Needs: UVSocketStream (stream.pyx).


cdef class TCPTransport(UVSocketStream):
    """asyncio's socket transport over TCP, with TCP_NODELAY on as asyncio sets it."""

    @staticmethod
    cdef TCPTransport new(Loop loop):
        cdef TCPTransport transport = TCPTransport.__new__(TCPTransport)
        transport._init_stream(loop)
        transport._attach_or_raise(
            uv.uv_tcp_init(loop.uvloop, <uv.uv_tcp_t*>transport._handle))
        return transport

    cdef _open_fd(self, int fd):
        err = uv.uv_tcp_open(<uv.uv_tcp_t*>self._handle, fd)
        if err < 0:
            close(fd)
            raise convert_error(err)
        self._on_fd_opened()

    cdef _on_fd_opened(self):
        UVSocketStream._on_fd_opened(self)
        # Small writes go out without waiting for the peer's ACK (asyncio does the
        # same). A socket already reset by its peer may refuse: that is for the first
        # read or write to report.
        uv.uv_tcp_nodelay(<uv.uv_tcp_t*>self._handle, 1)
