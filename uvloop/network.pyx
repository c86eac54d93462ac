# What the loop's networking methods (loop.pyx) share: turning a Python socket into a
# transport, and loop.sendfile()'s fallback over any transport.
#
# The descriptor rule of every transport (stream.pyx): libuv owns the fd it is given.
# A socket the loop created itself gives its fd away (socket.detach()); a socket the
# user passed in stays the user's object and fd, libuv gets a dup(), and the transport
# closes the user's socket after connection_lost(), as asyncio does.


cdef int _dup_fd(int fd) except -1:
    """A close-on-exec duplicate of fd."""
    cdef int new_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)
    if new_fd < 0:
        raise_errno()
    return new_fd


cdef _check_pollable(int fd):
    """Raise if epoll cannot watch fd (e.g. /dev/null): libuv would abort."""
    try:
        epoll = select_module.epoll
    except AttributeError:
        return
    watcher = epoll()
    try:
        watcher.register(fd, select_module.EPOLLIN)
    finally:
        watcher.close()


cdef UVStream _new_socket_transport(Loop loop, sock, bint users_socket):
    """A stream transport (not started) over the connected socket `sock`: TCP for
    AF_INET/AF_INET6, a plain stream (uv_pipe_t) for AF_UNIX and the rest."""
    cdef UVStream transport
    cdef int fd
    if sock.family in (socket_module.AF_INET, socket_module.AF_INET6):
        transport = TCPTransport.new(loop)
    else:
        transport = UnixTransport.new(loop)
    try:
        if users_socket:
            transport._file = sock
            fd = _dup_fd(sock.fileno())
        else:
            fd = sock.detach()
        transport._open_fd(fd)
    except BaseException:
        transport._file = None
        UVHandle.close(transport)
        raise
    return transport


class _SendfileFallbackProtocol(aio_protocols.Protocol):
    """Stands in for the transport's protocol while loop.sendfile() writes the file
    with plain writes: reading is paused, drain() waits while writing is paused, and
    a lost connection reaches the real protocol too. restore() puts things back."""

    def __init__(self, transport):
        if not isinstance(transport, UVStream):
            raise TypeError("transport should be _FlowControlMixin instance")
        cdef UVStream stream = transport
        self._transport = transport
        self._loop = stream._loop
        self._protocol = transport.get_protocol()
        self._resume_reading = transport.is_reading()
        self._writing_was_paused = stream._protocol_paused
        self._write_ready = None
        transport.pause_reading()
        transport.set_protocol(self)
        if self._writing_was_paused:
            self._write_ready = self._loop.create_future()

    async def drain(self):
        if self._transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if self._write_ready is not None:
            await self._write_ready

    def connection_made(self, transport):
        raise RuntimeError("Invalid state: "
                           "connection should have been established already.")

    def connection_lost(self, exc):
        if self._write_ready is not None:
            # The file was not sent in full: that is an error for the sender.
            self._write_ready.set_exception(
                exc if exc is not None
                else ConnectionError("Connection is closed by peer"))
        self._protocol.connection_lost(exc)

    def pause_writing(self):
        if self._write_ready is None:
            self._write_ready = self._loop.create_future()

    def resume_writing(self):
        if self._write_ready is not None:
            self._write_ready.set_result(False)
            self._write_ready = None

    def data_received(self, data):
        raise RuntimeError("Invalid state: reading should be paused")

    def eof_received(self):
        raise RuntimeError("Invalid state: reading should be paused")

    async def restore(self):
        self._transport.set_protocol(self._protocol)
        if self._resume_reading:
            self._transport.resume_reading()
        if self._write_ready is not None:
            self._write_ready.cancel()
        if self._writing_was_paused:
            self._protocol.resume_writing()


async def _sendfile_fallback(Loop loop, transport, file, offset, count):
    """loop.sendfile() with file.readinto() in the executor and transport.write()."""
    if offset:
        file.seek(offset)
    chunk = min(count, 16384) if count else 16384
    buffer = bytearray(chunk)
    sent = 0
    stand_in = _SendfileFallbackProtocol(transport)
    try:
        while not count or sent < count:
            if count:
                chunk = min(count - sent, chunk)
            view = memoryview(buffer)[:chunk]
            nread = await loop.run_in_executor(None, file.readinto, view)
            if not nread:
                break
            await stand_in.drain()
            transport.write(view[:nread])
            sent += nread
        return sent
    finally:
        if sent > 0 and hasattr(file, 'seek'):
            file.seek(offset + sent)
        await stand_in.restore()


async def _sendfile_native(Loop loop, UVStream transport, file, offset, count):
    """loop.sendfile() with the kernel's sendfile() on a dup() of the transport's
    socket, once its write queue is empty; reading is paused meanwhile."""
    transport._get_transport_socket()
    sock = transport._file
    if sock is None:
        raise RuntimeError("Transport is closing")
    fileno = sock.fileno()
    loop._transports.pop(fileno, None)
    resume_reading = transport.is_reading()
    transport.pause_reading()
    await transport._make_empty_waiter()
    try:
        return await loop.sock_sendfile(sock, file, offset, count, fallback=False)
    finally:
        transport._reset_empty_waiter()
        if resume_reading:
            transport.resume_reading()
        loop._transports[fileno] = transport
