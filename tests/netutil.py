"""Helpers for the networking tests: a protocol that records what happens to it, an
echo protocol and a round trip through it, a connected client and server of either
stream kind (TCP, Unix), a count of this process's open file descriptors, and a block
where no more can be opened."""

import asyncio
import contextlib
import contextvars
import errno
import functools
import itertools
import os
import resource


def open_fds():
    """The number of file descriptors this process has open."""
    return len(os.listdir('/proc/self/fd'))


@contextlib.contextmanager
def out_of_fds():
    """In the block, opening a file descriptor fails with EMFILE: the soft limit is
    lowered to just above the highest open fd, and the free numbers below it are
    taken. Both are undone at the end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir('/proc/self/fd'))
    fillers = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as exc:
                if exc.errno != errno.EMFILE:
                    raise
                break
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# The context variable the context tests set and read.
current = contextvars.ContextVar('current', default='unset')


class ContextSeen:
    """Protocol mixin: _see(name) records in `seen[name]` the value of `current` a
    callback sees; _enter(), from connection_made(), records 'made' and sets `current`
    to 'transport', which later callbacks see only if they run in that same context."""

    def _see(self, name):
        self.__dict__.setdefault('seen', {}).setdefault(name, set()).add(current.get())

    def _enter(self):
        self._see('made')
        current.set('transport')


class DuckBufferedRecorder(asyncio.BaseProtocol):
    """A buffered protocol by its methods only (get_buffer and buffer_updated), not
    by class (BaseProtocol is neither Protocol nor BufferedProtocol): records the bytes, get_buffer()'s size hints and connection_lost();
    data_received() must never be called."""

    def __init__(self, loop, buffer_size=100):
        self.buffer = bytearray(buffer_size)
        self.data = bytearray()
        self.hints = set()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        self.hints.add(sizehint)
        # A memoryview: asyncio's TLS reads into slices of it, and a slice of a
        # bytearray would be a copy.
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes):
        self.data += self.buffer[:nbytes]

    def data_received(self, data):
        raise AssertionError('data_received() called on a buffered protocol')

    def eof_received(self):
        pass

    def connection_lost(self, exc):
        self.lost.set_result(exc)


class BufferedRecorder(DuckBufferedRecorder, asyncio.BufferedProtocol):
    """The same, an asyncio.BufferedProtocol (what asyncio's loop asks for)."""


class RecordingProtocol(asyncio.Protocol):
    """Records its callbacks in order, in `events` (consecutive data_received calls
    count once, as 'data'), and the bytes received in `data`.

    `lost` resolves with connection_lost's argument; `eof` when eof_received ran;
    `received(n)` waits for n bytes in total."""

    def __init__(self, loop, keep_open_on_eof=False):
        self.loop = loop
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.keep_open_on_eof = keep_open_on_eof
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.eof = loop.create_future()
        self._wanted = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')
        self.made.set_result(transport)

    def data_received(self, data):
        assert isinstance(data, bytes)
        if not self.events or self.events[-1] != 'data':
            self.events.append('data')
        self.data += data
        self._check_wanted()

    def eof_received(self):
        self.events.append('eof')
        self.eof.set_result(None)
        return self.keep_open_on_eof

    def pause_writing(self):
        self.events.append('pause_writing')

    def resume_writing(self):
        self.events.append('resume_writing')

    def connection_lost(self, exc):
        self.events.append('lost')
        self.lost.set_result(exc)
        self._check_wanted()

    async def received(self, nbytes):
        if len(self.data) < nbytes:
            self._wanted = (nbytes, self.loop.create_future())
            await self._wanted[1]
        return bytes(self.data)

    def _check_wanted(self):
        if self._wanted is None:
            return
        nbytes, fut = self._wanted
        if not fut.done() and (len(self.data) >= nbytes or self.lost.done()):
            self._wanted = None
            fut.set_result(None)


class EchoProtocol(asyncio.Protocol):
    """Writes back whatever it receives; closes when the peer does."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def assert_echoed_then_close(transport, client, data=b'x'):
    """Send `data` through `transport` to an echo server, check that `client` (a
    RecordingProtocol) gets it all back, then close and wait for a clean close."""
    transport.write(data)
    assert await client.received(len(data)) == data
    transport.close()
    assert await client.lost is None


def payload(size):
    """`size` bytes that are not all alike, so a lost or reordered chunk shows."""
    block = bytes(range(251))
    return (block * (size // len(block) + 1))[:size]


STREAM_KINDS = ('tcp', 'unix')

_socket_file_numbers = itertools.count()


class StreamPair:
    """A server of one stream kind ('tcp' on 127.0.0.1, 'unix' at a path) and a client
    connected to it, as open_stream_pair makes them.

    `transport` and `client` are the client's transport and protocol, `address` what it
    connected to (('127.0.0.1', port) or the path), `accepted` the protocols the server
    made, in order."""

    def __init__(self, loop, kind, server_protocol):
        self.loop = loop
        self.kind = kind
        self.accepted = []
        self._server_protocol = server_protocol
        self.server = self.address = self.transport = self.client = None

    def _accept(self):
        protocol = self._server_protocol()
        self.accepted.append(protocol)
        return protocol

    async def _listen(self, directory):
        if self.kind == 'tcp':
            self.server = await self.loop.create_server(self._accept, '127.0.0.1', 0)
            self.address = self.server.sockets[0].getsockname()
        else:
            assert self.kind == 'unix', self.kind
            self.address = str(directory / f'sock{next(_socket_file_numbers)}')
            self.server = await self.loop.create_unix_server(self._accept, self.address)

    async def connect(self, protocol_factory=None):
        """Connect another client (a RecordingProtocol unless a factory is given);
        (transport, protocol)."""
        protocol_factory = protocol_factory or functools.partial(RecordingProtocol,
                                                                 self.loop)
        if self.kind == 'tcp':
            return await self.loop.create_connection(protocol_factory, *self.address)
        return await self.loop.create_unix_connection(protocol_factory, self.address)

    async def peer(self, n=0):
        """The server's protocol of its n-th connection, once connection_made ran (for
        protocols that keep their transport as `transport`, as the ones here do)."""
        while len(self.accepted) <= n or \
                getattr(self.accepted[n], 'transport', None) is None:
            await asyncio.sleep(0.001)
        return self.accepted[n]

    def close(self):
        """Close the server (the connections stay as they are)."""
        self.server.close()


async def open_stream_pair(loop, kind, directory, server_protocol=EchoProtocol,
                           client_protocol=None):
    """A server of `kind` (its socket file, for 'unix', in `directory`) whose
    connections get `server_protocol()`, and a client connected to it."""
    pair = StreamPair(loop, kind, server_protocol)
    await pair._listen(directory)
    pair.transport, pair.client = await pair.connect(client_protocol)
    return pair
