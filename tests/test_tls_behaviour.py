"""TLS semantics, each against a peer driven record by record (tlsutil.RawTLSPeer):
the end of the stream (close_notify, EOF, bytes after close_notify), reading paused
and resumed, close(), flow control both ways, buffered protocols, contexts,
start_tls's hand-over, batched writes, and a fuzz of how the byte stream is split.

Tests that take `loop` hold on asyncio's loop too; those that take `uvloop_loop` are
where asyncio's TLS differs (its behaviour is named in each)."""

import asyncio
import contextvars
import fcntl
import hashlib
import os
import random
import socket
import ssl
import struct
import termios
import threading
import time

import pytest

from netutil import BufferedRecorder, DuckBufferedRecorder, RecordingProtocol
from tlsutil import (RawTLSPeer, client_context, listening_socket, record_types,
                     run_in_thread, server_context, wait_thread)


def drain_socket(sock):
    """Read until the other side closes."""
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


def serve_one(listener, context, script):
    """In a thread: accept one connection on `listener`, do the handshake as the
    server, then script(peer)."""
    def run():
        sock, _ = listener.accept()
        with sock:
            peer = RawTLSPeer(sock, context, server_side=True)
            peer.handshake()
            return script(peer)
    return run_in_thread(run)


def connect_one(port, script, context=None):
    """In a thread: connect a client to `port`, do the handshake, then script(peer)."""
    def run():
        with socket.create_connection(('127.0.0.1', port)) as sock:
            peer = RawTLSPeer(sock, context or client_context(),
                              server_hostname='localhost')
            peer.handshake()
            return script(peer)
    return run_in_thread(run)


async def tls_server(loop, protocol_factory, **kwargs):
    server = await loop.create_server(protocol_factory, '127.0.0.1', 0,
                                      ssl=server_context(), **kwargs)
    return server, server.sockets[0].getsockname()[1]


async def close_server(server):
    server.close()
    await server.wait_closed()


def serve_until_lost(loop, protocol, script, timeout=5):
    """Serve `protocol` to one client driven by script(peer) until the connection is
    lost; what connection_lost() got."""
    async def main():
        server, port = await tls_server(loop, lambda: protocol)
        outcome = connect_one(port, script)
        exc = await asyncio.wait_for(protocol.lost, timeout)
        await wait_thread(outcome)
        await close_server(server)
        return exc
    return loop.run_until_complete(main())


def assert_after_close_notify_error(exc):
    assert isinstance(exc, ssl.SSLError), exc
    assert exc.reason == 'APPLICATION_DATA_AFTER_CLOSE_NOTIFY', exc


# ----- the end of the stream ---------------------------------------------------------

def test_bytes_after_the_peers_close_notify_are_an_error(uvloop_loop):
    # asyncio drops them unread and reports a clean close.
    loop = uvloop_loop

    def script(peer):
        peer.sock.sendall(peer.encrypt(b'hello') + peer.close_notify() + b'trailing')
        drain_socket(peer.sock)

    protocol = RecordingProtocol(loop)
    exc = serve_until_lost(loop, protocol, script)
    assert bytes(protocol.data) == b'hello'
    assert protocol.events == ['made', 'data', 'eof', 'lost']
    assert_after_close_notify_error(exc)


def test_wait_closed_raises_for_bytes_after_close_notify(uvloop_loop):
    loop = uvloop_loop
    listener = listening_socket()

    def script(peer):
        peer.sock.sendall(peer.encrypt(b'bye\n') + peer.close_notify() + b'x' * 10)
        drain_socket(peer.sock)

    async def main():
        outcome = serve_one(listener, server_context(), script)
        reader, writer = await asyncio.open_connection(
            *listener.getsockname(), ssl=client_context(), server_hostname='localhost')
        assert await reader.readexactly(4) == b'bye\n'
        with pytest.raises(ssl.SSLError) as caught:
            await asyncio.wait_for(writer.wait_closed(), 5)
        await wait_thread(outcome)
        return caught.value

    try:
        assert_after_close_notify_error(loop.run_until_complete(main()))
    finally:
        listener.close()


def test_application_data_after_our_close_notify_is_an_error(loop):
    listener = listening_socket()

    def script(peer):
        assert peer.recv_until_close_notify() == b'hello'
        # TLS 1.3 lets the peer go on writing; after our close() it is an error.
        peer.send(b'late data')
        drain_socket(peer.sock)

    async def main():
        outcome = serve_one(listener, server_context(), script)
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), *listener.getsockname(),
            ssl=client_context(), server_hostname='localhost')
        transport.write(b'hello')
        transport.close()
        exc = await asyncio.wait_for(protocol.lost, 5)
        await wait_thread(outcome)
        return protocol, exc

    try:
        protocol, exc = loop.run_until_complete(main())
    finally:
        listener.close()
    assert protocol.data == b''
    assert_after_close_notify_error(exc)


@pytest.mark.parametrize('ending', ['close_notify', 'eof'])
def test_eof_received_while_reading_is_paused(uvloop_loop, ending):
    # A protocol that resumes reading only from eof_received() must not hang:
    # asyncio never delivers the end of the stream while reading is paused.
    loop = uvloop_loop

    class PausedProtocol(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()

        def eof_received(self):
            self.reading_at_eof = self.transport.is_reading()
            self.transport.resume_reading()
            return super().eof_received()

    def script(peer):
        if ending == 'close_notify':
            peer.sock.sendall(peer.close_notify())
            drain_socket(peer.sock)
        else:
            peer.sock.shutdown(socket.SHUT_WR)
            drain_socket(peer.sock)

    protocol = PausedProtocol(loop)
    exc = serve_until_lost(loop, protocol, script)
    assert protocol.events == ['made', 'eof', 'lost']
    assert protocol.reading_at_eof is False
    assert exc is None


def test_data_waits_for_resume_reading_and_comes_before_eof(loop):
    class PausedProtocol(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()

    def script(peer):
        peer.sock.sendall(peer.encrypt(b'abc') + peer.close_notify())
        drain_socket(peer.sock)

    async def main():
        protocol = PausedProtocol(loop)
        server, port = await tls_server(loop, lambda: protocol)
        outcome = connect_one(port, script)
        await protocol.made
        await asyncio.sleep(0.2)
        events_while_paused = list(protocol.events)
        protocol.transport.resume_reading()
        exc = await asyncio.wait_for(protocol.lost, 5)
        await wait_thread(outcome)
        await close_server(server)
        return protocol, events_while_paused, exc

    protocol, events_while_paused, exc = loop.run_until_complete(main())
    assert events_while_paused == ['made']
    assert protocol.events == ['made', 'data', 'eof', 'lost']
    assert bytes(protocol.data) == b'abc'
    assert exc is None


def test_peer_closing_without_close_notify_is_a_plain_eof(loop):
    def script(peer):
        peer.send(b'last words')
        peer.sock.shutdown(socket.SHUT_RDWR)

    protocol = RecordingProtocol(loop)
    exc = serve_until_lost(loop, protocol, script)
    assert bytes(protocol.data) == b'last words'
    assert protocol.events == ['made', 'data', 'eof', 'lost']
    assert exc is None


def test_no_data_received_after_close(uvloop_loop):
    # asyncio delivers what was already buffered after close().
    loop = uvloop_loop
    listener = listening_socket()

    class ClosingProtocol(RecordingProtocol):
        def data_received(self, data):
            super().data_received(data)
            self.events.append('close')
            self.transport.close()

    def script(peer):
        peer.sock.sendall(b''.join(peer.encrypt(bytes(16384)) for _ in range(64)))
        drain_socket(peer.sock)

    async def main():
        outcome = serve_one(listener, server_context(), script)
        transport, protocol = await loop.create_connection(
            lambda: ClosingProtocol(loop), *listener.getsockname(),
            ssl=client_context(), server_hostname='localhost')
        await asyncio.wait_for(protocol.lost, 5)
        transport.abort()
        await wait_thread(outcome)
        return protocol

    try:
        protocol = loop.run_until_complete(main())
    finally:
        listener.close()
    assert protocol.events[:3] == ['made', 'data', 'close']
    assert 'data' not in protocol.events[3:]
    assert len(protocol.data) < 64 * 16384


def test_shutdown_timeout_against_a_peer_that_never_answers(loop):
    listener = listening_socket()

    def script(peer):
        # Reads our close_notify and stays silent, the socket open.
        peer.recv_until_close_notify()
        drain_socket(peer.sock)

    async def main():
        outcome = serve_one(listener, server_context(), script)
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), *listener.getsockname(),
            ssl=client_context(), server_hostname='localhost',
            ssl_shutdown_timeout=0.2)
        started = loop.time()
        transport.close()
        exc = await asyncio.wait_for(protocol.lost, 5)
        elapsed = loop.time() - started
        await wait_thread(outcome)
        return exc, elapsed

    try:
        exc, elapsed = loop.run_until_complete(main())
    finally:
        listener.close()
    assert isinstance(exc, TimeoutError)
    assert 0.15 < elapsed < 2


def test_close_waits_for_the_peers_close_notify(loop):
    listener = listening_socket()

    def script(peer):
        data = peer.recv_until_close_notify()
        peer.sock.sendall(peer.close_notify())
        drain_socket(peer.sock)
        return data

    async def main():
        outcome = serve_one(listener, server_context(), script)
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), *listener.getsockname(),
            ssl=client_context(), server_hostname='localhost')
        transport.write(b'one ')
        transport.writelines([b'two ', bytearray(b'three')])
        transport.close()
        assert transport.is_closing()
        exc = await asyncio.wait_for(protocol.lost, 5)
        return exc, await wait_thread(outcome)

    try:
        exc, data = loop.run_until_complete(main())
    finally:
        listener.close()
    assert exc is None
    assert data == b'one two three'


# ----- flow control ----------------------------------------------------------------

def test_writes_pause_while_the_peer_does_not_read(loop):
    listener = listening_socket()
    payload = os.urandom(8 * 1024 * 1024)
    go = threading.Event()

    def script(peer):
        go.wait(10)
        return hashlib.sha256(peer.recv_until_close_notify()).hexdigest()

    async def main():
        outcome = serve_one(listener, server_context(), script)
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), *listener.getsockname(),
            ssl=client_context(), server_hostname='localhost')
        # Writes as an app does: 64 KiB at a time, until told to pause.
        sent = 0
        while sent < len(payload) and 'pause_writing' not in protocol.events:
            transport.write(payload[sent:sent + 65536])
            sent += 65536
            await asyncio.sleep(0)
        buffered = transport.get_write_buffer_size()
        go.set()
        for _ in range(500):
            if 'resume_writing' in protocol.events:
                break
            await asyncio.sleep(0.01)
        transport.write(payload[sent:])
        transport.close()
        await asyncio.wait_for(protocol.lost, 10)
        return protocol.events, buffered, await wait_thread(outcome)

    try:
        events, buffered, digest = loop.run_until_complete(main())
    finally:
        listener.close()
    assert events[:3] == ['made', 'pause_writing', 'resume_writing']
    assert buffered > 512 * 1024
    assert digest == hashlib.sha256(payload).hexdigest()


async def settled_read_buffer_size(transport, timeout=10):
    """The transport's read buffer size once it is not 0 and has not changed for
    0.1 s (a paused transport read what it reads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    size, previous = transport.get_read_buffer_size(), None
    while size == 0 or size != previous:
        assert loop.time() < deadline, 'the read buffer never settled'
        await asyncio.sleep(0.1)
        size, previous = transport.get_read_buffer_size(), size
    return size


def test_reading_paused_stops_reading_the_socket(loop):
    payload = os.urandom(4 * 1024 * 1024)

    class PausedProtocol(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()

    def script(peer):
        peer.sock.sendall(peer.encrypt(payload))
        peer.sock.sendall(peer.close_notify())
        drain_socket(peer.sock)

    async def main():
        protocol = PausedProtocol(loop)
        server, port = await tls_server(loop, lambda: protocol)
        outcome = connect_one(port, script)
        await protocol.made
        read_while_paused = await settled_read_buffer_size(protocol.transport)
        events_while_paused = list(protocol.events)
        protocol.transport.resume_reading()
        await asyncio.wait_for(protocol.lost, 10)
        await wait_thread(outcome)
        await close_server(server)
        return protocol, read_while_paused, events_while_paused

    protocol, read_while_paused, events_while_paused = loop.run_until_complete(main())
    assert events_while_paused == ['made']
    # Read up to the high-water mark (256 KiB), plus at most one read of the socket.
    assert 0 < read_while_paused < 1024 * 1024
    assert bytes(protocol.data) == payload
    assert protocol.events == ['made', 'data', 'eof', 'lost']


# ----- protocols -------------------------------------------------------------------

def assert_buffered_protocol_reads(loop, factory):
    payload = os.urandom(1024 * 1024)

    def script(peer):
        peer.send(payload)
        peer.sock.sendall(peer.close_notify())
        drain_socket(peer.sock)

    protocol = factory(loop, buffer_size=1000)     # many buffer_updated() calls
    exc = serve_until_lost(loop, protocol, script, timeout=10)
    assert exc is None
    assert bytes(protocol.data) == payload


def test_buffered_protocol_over_tls(loop):
    assert_buffered_protocol_reads(loop, BufferedRecorder)


def test_duck_typed_buffered_protocol_over_tls(uvloop_loop):
    # asyncio's TLS takes only asyncio.BufferedProtocol subclasses as buffered.
    assert_buffered_protocol_reads(uvloop_loop, DuckBufferedRecorder)


def test_callbacks_run_in_the_transports_context(uvloop_loop):
    loop = uvloop_loop
    variable = contextvars.ContextVar('variable', default='unset')
    seen = []

    class ContextProtocol(asyncio.Protocol):
        def __init__(self):
            self.lost = loop.create_future()

        def connection_made(self, transport):
            seen.append(('made', variable.get()))

        def data_received(self, data):
            seen.append(('data', variable.get()))

        def pause_writing(self):
            seen.append(('pause_writing', variable.get()))

        def resume_writing(self):
            seen.append(('resume_writing', variable.get()))

        def connection_lost(self, exc):
            seen.append(('lost', variable.get()))
            self.lost.set_result(exc)

    go = threading.Event()

    def script(peer):
        peer.send(b'ping')
        go.wait(10)
        data = peer.recv_until_close_notify()
        peer.sock.sendall(peer.close_notify())
        drain_socket(peer.sock)
        return len(data)

    listener = listening_socket()

    async def connect():
        variable.set('transport')
        return await loop.create_connection(
            ContextProtocol, *listener.getsockname(), ssl=client_context(),
            server_hostname='localhost')

    async def other_task(transport):
        # Another context triggers the callbacks: they still see the transport's.
        variable.set('other')
        transport.pause_reading()
        await asyncio.sleep(0.1)
        transport.resume_reading()
        transport.set_write_buffer_limits(high=1)
        transport.write(bytes(8 * 1024 * 1024))
        await asyncio.sleep(0.1)
        go.set()
        transport.close()

    async def main():
        outcome = serve_one(listener, server_context(), script)
        transport, protocol = await loop.create_task(connect(),
                                                     context=contextvars.Context())
        await loop.create_task(other_task(transport), context=contextvars.Context())
        await asyncio.wait_for(protocol.lost, 5)
        return await wait_thread(outcome)

    try:
        assert loop.run_until_complete(main()) == 8 * 1024 * 1024
    finally:
        listener.close()
    names = [name for name, _ in seen]
    assert names[0] == 'made' and 'data' in names and 'pause_writing' in names
    assert names[-1] == 'lost'
    assert {value for _, value in seen} == {'transport'}


def test_get_extra_info(loop):
    def script(peer):
        peer.recv_until_close_notify()
        peer.sock.sendall(peer.close_notify())

    listener = listening_socket()

    async def main():
        outcome = serve_one(listener, server_context(), script)
        context = client_context()
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), *listener.getsockname(), ssl=context,
            server_hostname='localhost')
        info = {name: transport.get_extra_info(name)
                for name in ('sslcontext', 'ssl_object', 'peercert', 'cipher',
                             'compression', 'peername', 'sockname')}
        info['socket peer'] = transport.get_extra_info('socket').getpeername()
        info['version'] = info['ssl_object'].version()
        missing = transport.get_extra_info('no such key', 'default')
        transport.close()
        await asyncio.wait_for(protocol.lost, 5)
        await wait_thread(outcome)
        return context, info, missing

    address = listener.getsockname()
    try:
        context, info, missing = loop.run_until_complete(main())
    finally:
        listener.close()
    assert info['sslcontext'] is context
    assert isinstance(info['ssl_object'], ssl.SSLObject)
    assert info['version'] == 'TLSv1.3'
    assert dict(x[0] for x in info['peercert']['subject'])['commonName'] == 'localhost'
    assert info['cipher'][1] == 'TLSv1.3'
    assert info['compression'] is None
    assert info['peername'] == address
    assert info['sockname'][0] == '127.0.0.1'
    assert info['socket peer'] == address
    assert missing == 'default'


# ----- start_tls -------------------------------------------------------------------

def test_start_tls_server_gets_no_data_before_start_tls_returned(uvloop_loop):
    # The client sends its request with its last handshake flight. asyncio hands it
    # to data_received() before start_tls() returned, so this server would answer
    # in plaintext on the old transport.
    loop = uvloop_loop

    class StartTLSServer(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            if data == b'STARTTLS':
                self.transport.pause_reading()
                self.transport.write(b'OK')
                loop.create_task(self.upgrade())
            else:
                self.transport.write(b'reply:' + data)

        async def upgrade(self):
            self.transport = await loop.start_tls(
                self.transport, self, server_context('ec'), server_side=True)

    def client(port, rounds):
        replies = []
        for i in range(rounds):
            with socket.create_connection(('127.0.0.1', port)) as sock:
                sock.sendall(b'STARTTLS')
                assert sock.recv(2) == b'OK'
                peer = RawTLSPeer(sock, client_context('ec'),
                                  server_hostname='localhost')
                peer.handshake()
                peer.send(b'%d' % i)
                replies.append(peer.recv(len(b'reply:%d' % i)))
        return replies

    async def main():
        server = await loop.create_server(StartTLSServer, '127.0.0.1', 0)
        outcome = run_in_thread(client, server.sockets[0].getsockname()[1], 20)
        replies = await wait_thread(outcome)
        await close_server(server)
        return replies

    assert loop.run_until_complete(main()) == [b'reply:%d' % i for i in range(20)]


def test_start_tls_keeps_the_bytes_a_stream_reader_holds(uvloop_loop):
    # The client sends its ClientHello right behind STARTTLS: the server's
    # StreamReader holds it when start_tls() is called. asyncio loses it (and the
    # handshake hangs).
    loop = uvloop_loop

    async def handle(reader, writer):
        assert await reader.readline() == b'STARTTLS\n'
        await writer.start_tls(server_context('ec'))
        line = await reader.readline()
        writer.write(b'secure: ' + line)
        await writer.drain()
        writer.close()

    def client(port):
        with socket.create_connection(('127.0.0.1', port)) as sock:
            peer = RawTLSPeer(sock, client_context('ec'), server_hostname='localhost')
            try:
                peer.tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            sock.sendall(b'STARTTLS\n' + peer.outgoing.read())
            peer.handshake()
            peer.send(b'hello\n')
            return peer.recv(len(b'secure: hello\n'))

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        outcome = run_in_thread(client, server.sockets[0].getsockname()[1])
        reply = await wait_thread(outcome)
        await close_server(server)
        return reply

    assert loop.run_until_complete(main()) == b'secure: hello\n'


# ----- writes ------------------------------------------------------------------------

def test_small_writes_of_one_iteration_make_one_record(uvloop_loop):
    # asyncio makes one record (and one send) per write().
    loop = uvloop_loop

    class Burst(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            for i in range(100):
                self.transport.write(b'%02d........' % i)

    def script(peer):
        # The first burst comes after the session tickets; the second alone.
        peer.send(b'go')
        peer.recv(1000)
        del peer.raw_received[:]
        peer.send(b'go')
        data = peer.recv(1000)
        return data, record_types(bytes(peer.raw_received))

    async def main():
        server, port = await tls_server(loop, Burst)
        outcome = connect_one(port, script)
        result = await wait_thread(outcome)
        await close_server(server)
        return result

    data, records = loop.run_until_complete(main())
    assert data == b''.join(b'%02d........' % i for i in range(100))
    assert records == [23]


def test_data_written_before_abort_is_sent(loop):
    # As in asyncio, whose writes reach the socket at once: abort() drops only what
    # the socket could not take (websockets writes a last frame, then aborts).
    pieces = [b'%02d........' % i for i in range(20)]

    class WriteThenAbort(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            for piece in pieces:
                self.transport.write(piece)
            self.transport.abort()

    def script(peer):
        peer.send(b'go')
        data = bytearray()
        try:
            while True:
                data += peer.recv(1)
        except ConnectionResetError:
            return bytes(data)

    async def main():
        server, port = await tls_server(loop, WriteThenAbort)
        outcome = connect_one(port, script)
        data = await wait_thread(outcome)
        await close_server(server)
        return data

    assert loop.run_until_complete(main()) == b''.join(pieces)


def test_sendfile_over_tls_with_offset_and_count(loop, tmp_path):
    content = os.urandom(5 * 1024 * 1024 + 12345)
    path = tmp_path / 'file'
    path.write_bytes(content)
    offset, count = 4321, 5 * 1024 * 1024

    async def handle(reader, writer):
        with open(path, 'rb') as file:
            sent = await loop.sendfile(writer.transport, file, offset, count)
            position = file.tell()
        writer.close()
        results.append((sent, position))

    results = []

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0,
                                            ssl=server_context())
        reader, writer = await asyncio.open_connection(
            *server.sockets[0].getsockname(), ssl=client_context(),
            server_hostname='localhost')
        data = await reader.read()
        writer.close()
        await close_server(server)
        return data

    data = loop.run_until_complete(main())
    assert results == [(count, offset + count)]
    assert hashlib.sha256(data).digest() == \
        hashlib.sha256(content[offset:offset + count]).digest()


# ----- the byte stream split anyhow -------------------------------------------------

def unread_bytes(sock):
    """Bytes waiting in `sock`, which the loop's thread reads and may close at any
    moment (then 0)."""
    try:
        return struct.unpack('i', fcntl.ioctl(sock.fileno(), termios.FIONREAD,
                                              b'\0\0\0\0'))[0]
    except (OSError, ValueError):   # closed meanwhile: EBADF, or fileno() -1
        return 0


def send_in_pieces(sock, receiver, data, rng):
    """Send `data` cut at random points, each piece only once the receiving socket's
    owner read the one before: every piece is a data_received() of its own."""
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1,
                                                      rng.randint(1, 12))))
    start = 0
    for end in cuts + [len(data)]:
        sock.sendall(data[start:end])
        start = end
        deadline = time.monotonic() + 5
        while unread_bytes(receiver) and time.monotonic() < deadline:
            time.sleep(0.0002)


def test_any_split_of_the_byte_stream_gives_the_same_plaintext(loop):
    rng = random.Random(1234)
    runs = 300

    def client(sock, receiver, messages):
        peer = RawTLSPeer(sock, client_context('ec'), server_hostname='localhost')
        # The handshake's first flight in pieces too.
        try:
            peer.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        send_in_pieces(sock, receiver, peer.outgoing.read(), rng)
        peer.handshake()
        stream = b''.join(peer.encrypt(m) for m in messages) + peer.close_notify()
        send_in_pieces(sock, receiver, stream, rng)
        drain_socket(sock)

    async def one_run():
        messages = [os.urandom(rng.choice([1, 7, 100, 1500, 16384, 40000]))
                    for _ in range(rng.randint(1, 4))]
        ours, theirs = socket.socketpair()
        with theirs:
            outcome = run_in_thread(client, theirs, ours, messages)
            transport, protocol = await loop.connect_accepted_socket(
                lambda: RecordingProtocol(loop), ours, ssl=server_context('ec'))
            exc = await asyncio.wait_for(protocol.lost, 5)
            await wait_thread(outcome)
        return protocol, messages, exc

    async def main():
        failures = []
        for _ in range(runs):
            protocol, messages, exc = await one_run()
            if (bytes(protocol.data) != b''.join(messages) or exc is not None or
                    protocol.events[-2:] != ['eof', 'lost']):
                failures.append((len(protocol.data), protocol.events, exc))
        return failures

    failures = loop.run_until_complete(main())
    assert failures == [], f'{len(failures)} of {runs} runs: {failures[:3]}'

