# Server: what loop.create_server() and loop.create_unix_server() return.
#
# The Server owns its listening Python sockets (what `sockets` reports) and closes them
# in close(). While serving, each socket also has a listening handle (TCPServer or
# UnixServer) on a dup() of its fd, which libuv owns and closes with the handle.
# Accepted connections attach themselves (`_attach`) and detach after connection_lost,
# so wait_closed(), close_clients() and abort_clients() know them; close_clients() and
# abort_clients() exist on every Python version (asyncio added them in 3.13).

# Python 3.12.1 made wait_closed() wait for the connections of a server that is
# already closed; before, it returned at once. We follow the running Python.
cdef bint _WAIT_CLOSED_RETURNS_IF_CLOSED = sys.version_info < (3, 12, 1)


cdef UVStreamServer _listen_on(Loop loop, sock, int backlog, server,
                               protocol_factory, context):
    cdef UVStreamServer listener
    if sock.family in (socket_module.AF_INET, socket_module.AF_INET6):
        listener = TCPServer.new(loop)
    else:
        listener = UnixServer.new(loop)
    listener._listen(_dup_fd(sock.fileno()), backlog, server, protocol_factory,
                     context)
    return listener


class Server(aio_events.AbstractServer):
    """A listening server: asyncio.Server's API, plus close_clients() and
    abort_clients() on every Python version."""

    def __init__(self, loop, sockets, protocol_factory, backlog,
                 unix_socket_inodes=None):
        self._loop = loop
        self._sockets = sockets
        self._listeners = []
        self._clients = weakref.WeakSet()
        self._waiters = []
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._serving = False
        self._serving_forever_fut = None
        # Unix socket -> inode of its file, removed on close if still the same.
        self._unix_socket_inodes = unix_socket_inodes or {}

    def __repr__(self):
        return f'<{self.__class__.__name__} sockets={self.sockets!r}>'

    def _attach(self, transport):
        self._clients.add(transport)

    def _detach(self, transport):
        self._clients.discard(transport)
        if not self._clients and self._sockets is None:
            self._wakeup()

    def _wakeup(self):
        waiters = self._waiters
        self._waiters = None
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _start_serving(self):
        if self._serving:
            return
        self._serving = True
        context = PyContext_CopyCurrent()
        try:
            for sock in self._sockets:
                self._listeners.append(_listen_on(
                    self._loop, sock, self._backlog, self,
                    self._protocol_factory, context))
        except BaseException:
            self._stop_listening()
            self._serving = False
            raise

    def _stop_listening(self):
        for listener in self._listeners:
            UVHandle.close(<UVHandle>listener)
        self._listeners = []

    def get_loop(self):
        return self._loop

    def is_serving(self):
        return self._serving

    @property
    def sockets(self):
        if self._sockets is None:
            return ()
        return tuple(aio_TransportSocket(sock) for sock in self._sockets)

    def close(self):
        """Stop listening and close the listening sockets. Connections that are
        open stay open (see close_clients() and abort_clients())."""
        sockets = self._sockets
        if sockets is None:
            return
        self._sockets = None
        self._stop_listening()
        for sock in sockets:
            self._close_socket(sock)
        self._serving = False
        if (self._serving_forever_fut is not None and
                not self._serving_forever_fut.done()):
            self._serving_forever_fut.cancel()
            self._serving_forever_fut = None
        if not self._clients:
            self._wakeup()

    def _close_socket(self, sock):
        inode = self._unix_socket_inodes.pop(sock, None)
        path = sock.getsockname() if inode is not None else None
        sock.close()
        if path is None:
            return
        # Remove the socket file only if it is still ours (not a new server's).
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            aio_logger.error('Unable to clean up listening UNIX socket %r: %r',
                             path, err)

    def close_clients(self):
        """Close every accepted connection (queued data is sent first)."""
        for transport in self._clients.copy():
            transport.close()

    def abort_clients(self):
        """Abort every accepted connection (queued data is dropped)."""
        for transport in self._clients.copy():
            transport.abort()

    async def start_serving(self):
        self._start_serving()
        # As asyncio: let one iteration pass before returning.
        await aio_tasks.sleep(0)

    async def serve_forever(self):
        if self._serving_forever_fut is not None:
            raise RuntimeError(
                f'server {self!r} is already being awaited on serve_forever()')
        if self._sockets is None:
            raise RuntimeError(f'server {self!r} is closed')
        self._start_serving()
        self._serving_forever_fut = self._loop.create_future()
        try:
            await self._serving_forever_fut
        except aio_exceptions.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    async def wait_closed(self):
        """Wait until the server is closed and its connections are gone."""
        if self._waiters is None:
            return
        if _WAIT_CLOSED_RETURNS_IF_CLOSED and self._sockets is None:
            return
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter
