# Servers: what loop.create_server() and loop.create_unix_server() do once their
# arguments are checked (bind the listening sockets, start serving), and Server, what
# they return.
#
# Needs: StreamListener (net/listener.pyx), _tls_server_protocol_factory
# (net/tls.pyx), asyncio's helpers (asyncio_compat.pyx).
#
# The Server owns its listening Python sockets (what `sockets` reports) and closes them
# in close(). While serving, each socket also has a StreamListener on a dup() of its
# fd, which the listener owns and closes with its handle.
# Accepted connections attach themselves (`_attach`) and detach after connection_lost,
# so wait_closed(), close_clients() and abort_clients() know them; close_clients() and
# abort_clients() exist on every Python version (asyncio added them in 3.13).

from posix.stat cimport S_ISSOCK, stat, struct_stat
from posix.types cimport ino_t
from posix.unistd cimport unlink

import asyncio
import collections.abc
import errno as errno_module
import itertools
import operator
import socket as socket_module
import sys
import weakref

# Python 3.12.1 made wait_closed() wait for the connections of a server that is
# already closed; before, it returned at once. We follow the running Python.
cdef bint _WAIT_CLOSED_RETURNS_IF_CLOSED = sys.version_info < (3, 12, 1)

# create_unix_server()'s cleanup_socket default: asyncio removes the socket file on
# close from Python 3.13 on. Given explicitly, it is honoured on every version (as
# upstream uvloop does).
_CLEANUP_UNIX_SOCKET_BY_DEFAULT = sys.version_info >= (3, 13)


cdef int _checked_backlog(backlog) except -1:
    """`backlog` as socket.listen() takes it (asyncio passes it there): an int
    (TypeError otherwise) in C int range (OverflowError), negative meaning 0."""
    cdef int value = operator.index(backlog)
    return value if value > 0 else 0


cdef StreamListener _listen_on(Loop loop, sock, int backlog, server,
                               protocol_factory, context):
    unix = sock.family not in (socket_module.AF_INET, socket_module.AF_INET6)
    return StreamListener.new(loop, _dup_fd(sock.fileno()), unix, backlog, server,
                              sock, protocol_factory, context)


class Server(asyncio.AbstractServer):
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
        # Once: a connection served after close() (its protocol factory closed the
        # server) detaches after the wake-up.
        waiters = self._waiters
        if waiters is None:
            return
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
            (<StreamListener>listener).close()
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
        err = _unlink_socket_file(path, inode)
        if err != 0 and err != ENOENT:
            aio_logger.error('Unable to clean up listening UNIX socket %r: %r',
                             path, convert_error(-err))

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
        await asyncio.sleep(0)

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
        except asyncio.CancelledError:
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


async def _bound_tcp_sockets(Loop loop, host, port, family, flags, reuse_address,
                             reuse_port, keep_alive):
    """create_server(): one bound socket per address of host (a name, or a sequence
    of names) and port."""
    if host == '':
        hosts = [None]
    elif isinstance(host, str) or not isinstance(host, collections.abc.Iterable):
        hosts = [host]
    else:
        hosts = host
    infos = await asyncio.gather(*[_server_addresses(loop, h, port, family, flags)
                               for h in hosts])
    infos = set(itertools.chain.from_iterable(infos))
    return _bind_sockets(loop, infos, reuse_address, reuse_port, keep_alive)


async def _server_addresses(Loop loop, host, port, family, flags):
    infos = await aio_ensure_resolved(
        loop, (host, port), family=family, type=socket_module.SOCK_STREAM,
        flags=flags, loop=loop)
    if not infos:
        raise OSError(f'getaddrinfo({host!r}) returned empty list')
    return infos


cdef list _bind_sockets(Loop loop, infos, reuse_address, reuse_port, keep_alive):
    """One bound socket per address; all closed on failure."""
    sockets = []
    completed = False
    try:
        for af, socktype, proto, canonname, sa in infos:
            try:
                sock = socket_module.socket(af, socktype, proto)
            except OSError:
                # A family/type/protocol this system lacks: skip the address.
                if loop._debug:
                    aio_logger.warning('create_server() failed to create '
                                       'socket.socket(%r, %r, %r)',
                                       af, socktype, proto, exc_info=True)
                continue
            sockets.append(sock)
            if reuse_address:
                sock.setsockopt(socket_module.SOL_SOCKET,
                                socket_module.SO_REUSEADDR, True)
            if reuse_port:
                aio_set_reuseport(sock)
            if keep_alive:
                sock.setsockopt(socket_module.SOL_SOCKET,
                                socket_module.SO_KEEPALIVE, True)
            # One family per socket: no IPv4 through an IPv6 socket.
            if (aio_HAS_IPv6 and af == socket_module.AF_INET6 and
                    hasattr(socket_module, 'IPPROTO_IPV6')):
                sock.setsockopt(socket_module.IPPROTO_IPV6,
                                socket_module.IPV6_V6ONLY, True)
            try:
                sock.bind(sa)
            except OSError as err:
                raise OSError(err.errno, 'error while attempting to bind on '
                              'address %r: %s' % (sa, err.strerror.lower())) \
                    from None
        completed = True
    finally:
        if not completed:
            for sock in sockets:
                sock.close()
    return sockets


cdef _bind_unix_socket(sock, path):
    """Bind our new socket `sock` to `path`, replacing a stale socket file there;
    `sock` is closed if that fails."""
    if path[0] not in (0, '\x00'):     # not an abstract socket
        err = _unlink_socket_file(path, 0)
        if err != 0 and err != ENOENT:
            aio_logger.error('Unable to check or remove stale UNIX socket '
                             '%r: %r', path, convert_error(-err))
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno_module.EADDRINUSE:
            raise OSError(errno_module.EADDRINUSE,
                          f'Address {path!r} is already in use') from None
        raise
    except BaseException:
        sock.close()
        raise


cdef dict _unix_socket_inodes(sock, bint cleanup_socket):
    """{sock: inode of its socket file} when the server is to remove that file on
    close (a named socket, with cleanup_socket); else {}."""
    cdef struct_stat st
    if not cleanup_socket:
        return {}
    bound = sock.getsockname()
    if bound and bound[0] not in (0, '\x00'):
        if stat(_fs_path(bound), &st) == 0:
            return {sock: st.st_ino}
        if errno != ENOENT:
            raise convert_error(-errno)
    return {}


# The socket file steps call the C functions: blocking-call detectors (such as
# blockbuster) watch os.stat() and os.unlink(), and these are no blocking uses.

cdef bytes _fs_path(path):
    return PyUnicode_EncodeFSDefault(path) if isinstance(path, str) else bytes(path)


cdef int _unlink_socket_file(path, ino_t inode):
    """Remove the socket file at `path` if it is one (and, unless `inode` is 0, if it
    is still that inode); 0, or the errno of what failed."""
    cdef struct_stat st
    cdef bytes fs_path = _fs_path(path)
    if stat(fs_path, &st) != 0:
        return errno
    if not S_ISSOCK(st.st_mode) or (inode != 0 and st.st_ino != inode):
        return 0
    if unlink(fs_path) != 0:
        return errno
    return 0


async def _serve(Loop loop, sockets, protocol_factory, backlog, ssl,
                 handshake_timeout, shutdown_timeout, bint start_serving,
                 unix_socket_inodes):
    """A Server over the bound `sockets` (serving now, if start_serving)."""
    for sock in sockets:
        sock.setblocking(False)
    server = Server(loop, sockets, _tls_server_protocol_factory(
        loop, protocol_factory, ssl, handshake_timeout, shutdown_timeout),
        backlog, unix_socket_inodes)
    if start_serving:
        server._start_serving()
        # As asyncio: let one iteration pass before returning.
        await asyncio.sleep(0)
    return server
