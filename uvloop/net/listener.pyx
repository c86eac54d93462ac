# StreamListener: a Server's listening TCP or Unix socket. A uv_poll_t watches the
# listening fd, accept4() takes the connections (up to `backlog` per readiness, as
# asyncio does) and each new fd goes to a TCPTransport or UnixTransport.
#
# Needs: UVHandle (handles/handle.pyx), TCPTransport and UnixTransport (transports/),
# Server (net/server.pyx) for accepted connections.
#
# Why not uv_listen(): when accept() fails with EMFILE or ENFILE, libuv closes a spare
# fd and accepts and closes every pending connection to shed load (its "EMFILE
# trick"): clients that connected are reset. Here, as in asyncio, running out of fds
# (or memory) stops the watch for ACCEPT_RETRY_DELAY (1 s), reported once to the
# exception handler; the connections wait in the kernel's backlog and are served
# once the watch resumes.
#
# Life rules: `new()` listens on the fd given (a dup() of the Server's socket, which
# the listener owns from then on) and starts the watch; close() closes the poll handle
# and the fd. The Server closes the listener when it stops serving; Loop.close()
# closes it too.


cdef void _on_listener_readable(uv.uv_poll_t* handle, int status,
                                int events) noexcept:
    cdef StreamListener listener = <StreamListener>handle.data
    try:
        listener._accept_connections()
        if status < 0 and listener.is_open() and listener._retry is None:
            # libuv stopped the watch on EPOLLERR; accept() above reported or took
            # the error. asyncio watches on, so do we.
            listener._watch()
    except BaseException as exc:
        listener._loop._handle_callback_error(exc, listener)


cdef class StreamListener(UVHandle):

    def __cinit__(self):
        self._fd = -1

    @staticmethod
    cdef StreamListener new(Loop loop, int fd, bint unix, int backlog, server, sock,
                            protocol_factory, context):
        """Listen on `fd` (owned by the listener from now on, closed if this
        fails) and accept its connections; `backlog` >= 0, as listen() takes it."""
        cdef StreamListener listener = StreamListener.__new__(StreamListener)
        if listen(fd, backlog) != 0:
            err = errno
            close(fd)
            raise convert_error(-err)
        try:
            listener._alloc(loop, sizeof(uv.uv_poll_t))
            listener._attach_or_raise(
                uv.uv_poll_init(loop.uvloop, <uv.uv_poll_t*>listener._handle, fd))
        except BaseException:
            close(fd)
            raise
        listener._fd = fd
        listener._unix = unix
        listener._batch = backlog if backlog > 0 else 1
        listener._server = server
        listener._sock = sock
        listener._protocol_factory = protocol_factory
        listener._context = context
        try:
            listener._watch()
        except BaseException:
            listener.close()
            raise
        return listener

    cdef _watch(self):
        err = uv.uv_poll_start(<uv.uv_poll_t*>self._handle, uv.UV_READABLE,
                               _on_listener_readable)
        if err < 0:
            raise convert_error(err)

    cdef _accept_connections(self):
        cdef int fd, err, i
        for i in range(self._batch):
            fd = accept4(self._fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)
            if fd < 0:
                err = errno
                if err == EINTR or err == ECONNABORTED:
                    continue
                if err == EAGAIN:
                    return
                if err == EMFILE or err == ENFILE or err == ENOBUFS or err == ENOMEM:
                    self._back_off(err)
                    return
                raise convert_error(-err)
            self._serve_connection(fd)
            if not self.is_open():
                return          # a protocol factory closed the server

    cdef _back_off(self, int err):
        uv.uv_poll_stop(<uv.uv_poll_t*>self._handle)
        self._retry = self._loop.call_later(aio_ACCEPT_RETRY_DELAY,
                                            self._watch_again)
        self._loop.call_exception_handler({
            'message': 'socket.accept() out of system resource',
            'exception': convert_error(-err),
            'socket': aio_TransportSocket(self._sock),
        })

    def _watch_again(self):
        self._retry = None
        if self.is_open():
            self._watch()

    cdef _serve_connection(self, int fd):
        """A transport for the accepted `fd` and a protocol from the factory; the
        connection is closed if either fails."""
        cdef UVSocketStream client
        cdef Loop loop = self._loop
        try:
            client = UnixTransport.new(loop) if self._unix else TCPTransport.new(loop)
        except BaseException:
            close(fd)
            raise
        try:
            client._open_fd_or_close(fd)
        except OSError as exc:
            loop.call_exception_handler({
                'message': 'Error on transport creation for incoming connection',
                'exception': exc,
            })
            return
        # One context per connection, copied from the one the server started in
        # (as asyncio's accept task copies it).
        context = self._context.copy()
        try:
            protocol = context.run(self._protocol_factory)
        except (SystemExit, KeyboardInterrupt):
            UVHandle.close(client)
            raise
        except BaseException as exc:
            UVHandle.close(client)
            if loop._debug:
                loop.call_exception_handler({
                    'message': 'Error on transport creation for incoming connection',
                    'exception': exc,
                })
            return
        if loop._debug:
            aio_logger.debug("%r got a new connection from %r: %r", self._server,
                             client.get_extra_info('peername'), client)
        client._server = self._server
        self._server._attach(client)
        client._start(protocol, None, context)

    cdef close(self):
        # The fd goes at once, so that new connections are refused from now on
        # (uv_close() takes it out of epoll at once).
        UVHandle.close(self)
        if self._fd >= 0:
            close(self._fd)
            self._fd = -1

    cdef _on_closed(self):
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._server = None
        self._sock = None
        self._protocol_factory = None
        self._context = None

    def __repr__(self):
        return f'<{type(self).__name__} fd={self._fd}>'
