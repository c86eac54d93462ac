"""TCP: loop.create_connection(), connect_accepted_socket() and the TCP transport."""

import asyncio
import os
import socket
import time

import pytest

from conftest import debug_counters_or_skip
from netutil import (EchoProtocol, RecordingProtocol, assert_echoed_then_close,
                     open_fds, payload)


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def echo_server(loop, protocol=EchoProtocol):
    server = await loop.create_server(protocol, '127.0.0.1', 0)
    return server, server.sockets[0].getsockname()[1]


async def connect(loop, port, **kwargs):
    return await loop.create_connection(lambda: RecordingProtocol(loop),
                                        '127.0.0.1', port, **kwargs)


def unused_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Blackhole:
    """A local address whose connects hang: a listener with a full accept queue
    drops new SYNs."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(0)
        self.address = self.listener.getsockname()
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(self.address)
            except BlockingIOError:
                pass
            self.fillers.append(filler)
        time.sleep(0.05)

    def close(self):
        for sock in self.fillers + [self.listener]:
            sock.close()


def fake_resolver(loop, addresses):
    """Make loop.getaddrinfo() answer `addresses` ((host, port) pairs)."""
    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '', addr)
                for addr in addresses]
    loop.getaddrinfo = getaddrinfo


@pytest.mark.parametrize('size', [1, 1024, 65537, 1024 * 1024, 16 * 1024 * 1024],
                         ids=['1B', '1KiB', '64KiB+1', '1MiB', '16MiB'])
def test_echo_round_trip_keeps_every_byte(loop, size):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        await assert_echoed_then_close(transport, client, payload(size))
        server.close()

    run(loop, main())


def test_callbacks_come_in_order_made_data_eof_lost(loop):
    class SendAndClose(asyncio.Protocol):
        def connection_made(self, transport):
            transport.write(b'bye')
            transport.close()

    async def main():
        server, port = await echo_server(loop, SendAndClose)
        transport, client = await connect(loop, port)
        assert await client.lost is None
        assert client.events == ['made', 'data', 'eof', 'lost']
        assert client.data == b'bye'
        server.close()

    run(loop, main())


def test_connection_made_has_run_when_create_connection_returns(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        assert client.events == ['made']
        assert client.transport is transport
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_write_buffer_limits_default_and_validation(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        assert transport.get_write_buffer_limits() == (16384, 65536)
        transport.set_write_buffer_limits(high=1000)
        assert transport.get_write_buffer_limits() == (250, 1000)
        transport.set_write_buffer_limits(low=100)
        assert transport.get_write_buffer_limits() == (100, 400)
        with pytest.raises(ValueError, match=r'high \(1\) must be >= low \(2\) '
                                             r'must be >= 0'):
            transport.set_write_buffer_limits(high=1, low=2)
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_flow_control_pauses_then_resumes_writing(loop):
    server_transports = []

    class Paused(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()
            server_transports.append(transport)

    async def main():
        server = await loop.create_server(lambda: Paused(loop), '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await connect(loop, port)
        transport.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
        data = payload(8 * 1024 * 1024)
        transport.write(data)
        assert client.events == ['made', 'pause_writing']
        assert transport.get_write_buffer_size() > 64 * 1024
        while not server_transports:
            await asyncio.sleep(0.01)
        receiver = server_transports[0].get_protocol()
        server_transports[0].resume_reading()
        assert await receiver.received(len(data)) == data
        while 'resume_writing' not in client.events:
            await asyncio.sleep(0.01)
        assert client.events == ['made', 'pause_writing', 'resume_writing']
        assert transport.get_write_buffer_size() == 0
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_write_eof_half_closes_and_the_peer_can_still_answer(loop):
    class AnswerOnEof(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.request = b''

        def data_received(self, data):
            self.request += data

        def eof_received(self):
            self.transport.write(self.request.upper())
            self.transport.close()
            return True

    async def main():
        server, port = await echo_server(loop, AnswerOnEof)
        transport, client = await connect(loop, port)
        assert transport.can_write_eof()
        transport.write(b'question')
        transport.write_eof()
        assert await client.lost is None
        assert client.data == b'QUESTION'
        assert client.events == ['made', 'data', 'eof', 'lost']
        server.close()

    run(loop, main())


def test_eof_received_returning_true_keeps_the_transport_open(loop):
    class CloseAfterSending(asyncio.Protocol):
        def connection_made(self, transport):
            transport.write(b'x')
            transport.write_eof()

    async def main():
        server, port = await echo_server(loop, CloseAfterSending)
        transport, client = await loop.create_connection(
            lambda: RecordingProtocol(loop, keep_open_on_eof=True), '127.0.0.1', port)
        await client.eof
        await asyncio.sleep(0.01)
        assert not transport.is_closing()
        assert not client.lost.done()
        transport.close()
        assert await client.lost is None
        server.close()

    run(loop, main())


def test_write_after_write_eof_raises(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        transport.write_eof()
        with pytest.raises(RuntimeError, match=r'Cannot call write\(\) after '
                                               r'write_eof\(\)'):
            transport.write(b'late')
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_close_delivers_all_queued_bytes_to_the_peer(loop):
    peers = []

    def factory():
        peers.append(RecordingProtocol(loop))
        return peers[-1]

    async def main():
        server = await loop.create_server(factory, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await connect(loop, port)
        data = payload(8 * 1024 * 1024)
        transport.write(data)
        transport.close()
        assert transport.is_closing()
        assert await client.lost is None
        while not peers:
            await asyncio.sleep(0.01)
        assert await peers[0].lost is None
        assert peers[0].data == data
        server.close()

    run(loop, main())


def test_abort_drops_queued_data(loop):
    peers = []

    class PausedReceiver(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()
            peers.append(self)

    async def main():
        server = await loop.create_server(lambda: PausedReceiver(loop),
                                          '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await connect(loop, port)
        data = payload(16 * 1024 * 1024)
        transport.write(data)
        assert transport.get_write_buffer_size() > 0
        transport.abort()
        assert transport.is_closing()
        assert await client.lost is None
        assert client.events == ['made', 'pause_writing', 'lost']
        while not peers:
            await asyncio.sleep(0.01)
        peers[0].transport.resume_reading()
        await peers[0].lost
        assert len(peers[0].data) < len(data)
        assert peers[0].data == data[:len(peers[0].data)]
        server.close()

    run(loop, main())


def test_connection_lost_is_called_once(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        transport.close()
        transport.abort()
        transport.close()
        await client.lost
        await asyncio.sleep(0.01)
        assert client.events.count('lost') == 1
        server.close()

    run(loop, main())


def test_writes_after_the_connection_is_lost_are_dropped(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        transport.abort()
        await client.lost
        transport.write(b'dropped')
        server.close()

    run(loop, main())


def test_peer_reset_reaches_connection_lost_with_the_error(loop):
    class Reset(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info('socket')
            # Linger on, timeout 0: close() sends a RST.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b'\x01\x00\x00\x00\x00\x00\x00\x00')
            transport.abort()

    async def main():
        server, port = await echo_server(loop, Reset)
        transport, client = await connect(loop, port)
        exc = await client.lost
        assert isinstance(exc, ConnectionResetError)
        assert client.events == ['made', 'lost']
        server.close()

    run(loop, main())


def test_connection_refused_raises_connection_refused_error(loop):
    async def main():
        with pytest.raises(ConnectionRefusedError):
            await connect(loop, unused_port())

    run(loop, main())


def test_unresolvable_host_raises_gaierror(loop):
    async def main():
        with pytest.raises(socket.gaierror):
            await loop.create_connection(asyncio.Protocol, 'nonexistent.invalid', 80)

    run(loop, main())


def test_happy_eyeballs_skips_an_unreachable_first_address(loop):
    blackhole = Blackhole()

    async def main():
        server, port = await echo_server(loop)
        fake_resolver(loop, [blackhole.address, ('127.0.0.1', port)])
        started = loop.time()
        transport, client = await loop.create_connection(
            lambda: RecordingProtocol(loop), 'service.test', port,
            happy_eyeballs_delay=0.1)
        assert loop.time() - started < 5
        assert transport.get_extra_info('peername') == ('127.0.0.1', port)
        transport.close()
        await client.lost
        server.close()

    try:
        run(loop, main())
    finally:
        blackhole.close()


def test_addresses_are_tried_in_turn_without_happy_eyeballs(loop):
    async def main():
        server, port = await echo_server(loop)
        fake_resolver(loop, [('127.0.0.1', unused_port()), ('127.0.0.1', port)])
        transport, client = await loop.create_connection(
            lambda: RecordingProtocol(loop), 'service.test', port)
        assert transport.get_extra_info('peername') == ('127.0.0.1', port)
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_errors_of_every_address_are_combined(loop):
    ports = [unused_port(), unused_port()]

    async def main():
        fake_resolver(loop, [('127.0.0.1', p) for p in ports])
        with pytest.raises(OSError, match='Multiple exceptions: ') as info:
            await loop.create_connection(asyncio.Protocol, 'service.test', 1)
        for p in ports:
            assert str(p) in str(info.value)

    run(loop, main())


def test_all_errors_raises_an_exception_group(uvloop_loop):
    # asyncio's own loop has all_errors from Python 3.12; ours on every version.
    loop = uvloop_loop
    ports = [unused_port(), unused_port()]

    async def main():
        fake_resolver(loop, [('127.0.0.1', p) for p in ports])
        with pytest.raises(ExceptionGroup) as info:
            await loop.create_connection(asyncio.Protocol, 'service.test', 1,
                                         all_errors=True)
        assert [type(e) for e in info.value.exceptions] == \
            [ConnectionRefusedError, ConnectionRefusedError]

    run(loop, main())


def test_local_addr_binds_the_client_socket(loop):
    async def main():
        server, port = await echo_server(loop)
        local = ('127.0.0.1', unused_port())
        transport, client = await connect(loop, port, local_addr=local)
        assert transport.get_extra_info('sockname') == local
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_connected_socket_can_be_passed_as_sock(loop):
    async def main():
        server, port = await echo_server(loop)
        sock = socket.create_connection(('127.0.0.1', port))
        assert sock.gettimeout() is None        # blocking: made non-blocking
        transport, client = await loop.create_connection(
            lambda: RecordingProtocol(loop), sock=sock)
        assert sock.gettimeout() == 0
        transport.write(b'ping')
        assert await client.received(4) == b'ping'
        transport.close()
        await client.lost
        assert sock.fileno() == -1              # the transport closed it
        server.close()

    run(loop, main())


def test_connect_accepted_socket_wraps_a_socket_accepted_elsewhere(loop):
    async def main():
        listener = socket.create_server(('127.0.0.1', 0))
        port = listener.getsockname()[1]
        peer = socket.create_connection(('127.0.0.1', port))
        accepted, _ = listener.accept()
        transport, proto = await loop.connect_accepted_socket(
            lambda: RecordingProtocol(loop), accepted)
        peer.sendall(b'hello')
        assert await proto.received(5) == b'hello'
        transport.write(b'back')
        assert peer.recv(10) == b'back'
        peer.close()
        assert await proto.lost is None
        listener.close()

    run(loop, main())


def test_argument_errors_match_asyncio(loop):
    async def main():
        with socket.socket() as sock:
            with pytest.raises(ValueError, match='host/port and sock can not be '
                                                 'specified at the same time'):
                await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1,
                                             sock=sock)
        with pytest.raises(ValueError, match='host and port was not specified '
                                             'and no sock specified'):
            await loop.create_connection(asyncio.Protocol)
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match='A Stream Socket was expected'):
                await loop.create_connection(asyncio.Protocol, sock=sock)
            with pytest.raises(ValueError, match='A Stream Socket was expected'):
                await loop.connect_accepted_socket(asyncio.Protocol, sock)
        with pytest.raises(ValueError, match='server_hostname is only meaningful '
                                             'with ssl'):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1,
                                         server_hostname='x')
        with pytest.raises(ValueError, match='ssl_handshake_timeout is only '
                                             'meaningful with ssl'):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1,
                                         ssl_handshake_timeout=1)
        with pytest.raises(ValueError, match='ssl_shutdown_timeout is only '
                                             'meaningful with ssl'):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1,
                                         ssl_shutdown_timeout=1)
        with pytest.raises(TypeError):
            await loop.create_connection(asyncio.Protocol, 123, 80)

    run(loop, main())


def test_write_rejects_what_is_not_bytes(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        with pytest.raises(TypeError, match="data argument must be a bytes-like "
                                            "object, not 'str'"):
            transport.write('text')
        with pytest.raises(TypeError):
            transport.writelines(['text'])
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_writelines_and_bytearray_and_memoryview_are_sent_as_given(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        transport.writelines([b'a', bytearray(b'b'), memoryview(b'c'), b''])
        transport.write(bytearray(b'byte'))
        transport.write(memoryview(b'xxviewxx')[2:6])
        assert await client.received(11) == b'abcbyteview'
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_extra_info_socket_sockname_peername(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        sock = transport.get_extra_info('socket')
        assert isinstance(sock, asyncio.trsock.TransportSocket)
        assert sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM
        assert transport.get_extra_info('peername') == ('127.0.0.1', port)
        assert transport.get_extra_info('sockname') == sock.getsockname()
        assert sock.getpeername() == ('127.0.0.1', port)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert transport.get_extra_info('nothing', 'default') == 'default'
        transport.close()
        await client.lost
        # Still known once the connection is gone.
        assert transport.get_extra_info('peername') == ('127.0.0.1', port)
        server.close()

    run(loop, main())


def test_add_reader_refuses_a_transport_socket(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        fd = transport.get_extra_info('socket').fileno()
        with pytest.raises(RuntimeError, match='is used by transport'):
            loop.add_reader(fd, lambda: None)
        with pytest.raises(RuntimeError, match='is used by transport'):
            loop.remove_writer(fd)
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_pause_and_resume_reading(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        assert transport.is_reading()
        transport.pause_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        transport.write(b'echo me')
        await asyncio.sleep(0.05)
        assert client.data == b''
        transport.resume_reading()
        assert transport.is_reading()
        assert await client.received(7) == b'echo me'
        transport.close()
        assert not transport.is_reading()
        await client.lost
        server.close()

    run(loop, main())


def test_set_protocol_switches_the_receiver(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, first = await connect(loop, port)
        second = RecordingProtocol(loop)
        transport.set_protocol(second)
        assert transport.get_protocol() is second
        transport.write(b'to second')
        assert await second.received(9) == b'to second'
        assert first.data == b''
        transport.close()
        await second.lost
        server.close()

    run(loop, main())


class BufferedRecorder(asyncio.BufferedProtocol):
    def __init__(self, loop, buffer_size=100):
        self.buffer = bytearray(buffer_size)
        self.data = bytearray()
        self.lost = loop.create_future()
        self.hints = set()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        self.hints.add(sizehint)
        return self.buffer

    def buffer_updated(self, nbytes):
        self.data += self.buffer[:nbytes]

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def test_buffered_protocol_receives_every_byte(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, proto = await loop.create_connection(
            lambda: BufferedRecorder(loop), '127.0.0.1', port)
        data = payload(1024 * 1024)
        transport.write(data)
        while len(proto.data) < len(data):
            await asyncio.sleep(0.01)
        assert proto.data == data
        assert proto.hints == {-1}
        transport.close()
        await proto.lost
        server.close()

    run(loop, main())


def test_protocol_errors_are_fatal_with_asyncio_messages(loop):
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    class FailingReceiver(RecordingProtocol):
        def data_received(self, data):
            raise ZeroDivisionError

    class FailingBuffer(BufferedRecorder):
        def get_buffer(self, sizehint):
            raise ZeroDivisionError

    async def check(factory, message):
        server, port = await echo_server(loop)
        transport, proto = await loop.create_connection(factory, '127.0.0.1', port)
        transport.write(b'x')
        exc = await proto.lost
        assert isinstance(exc, ZeroDivisionError)
        context = contexts.pop()
        assert context['message'] == message
        assert context['exception'] is exc
        assert context['transport'] is transport
        assert context['protocol'] is proto
        server.close()

    async def main():
        await check(lambda: FailingReceiver(loop),
                    'Fatal error: protocol.data_received() call failed.')
        await check(lambda: FailingBuffer(loop),
                    'Fatal error: protocol.get_buffer() call failed.')

    run(loop, main())
    assert contexts == []


def test_keyboard_interrupt_in_a_protocol_callback_stops_the_loop(loop):
    class Interrupting(RecordingProtocol):
        def data_received(self, data):
            raise KeyboardInterrupt

    async def setup():
        server, port = await echo_server(loop)
        transport, proto = await loop.create_connection(
            lambda: Interrupting(loop), '127.0.0.1', port)
        return server, transport, proto

    server, transport, proto = run(loop, setup())
    transport.write(b'x')
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(loop.create_future())
    transport.abort()
    server.close()
    run(loop, proto.lost)


def test_failed_connects_leak_no_fd(loop):
    async def main():
        port = unused_port()
        with pytest.raises(ConnectionRefusedError):
            await connect(loop, port)
        before = open_fds()
        for _ in range(50):
            with pytest.raises(ConnectionRefusedError):
                await connect(loop, port)
        assert open_fds() == before

    run(loop, main())


def test_aborted_and_closed_transports_leak_no_fd(loop):
    server_sides = []

    class TrackedEcho(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            server_sides.append(self)

        def data_received(self, data):
            self.transport.write(data)

    async def exchange(port, abort):
        transport, client = await connect(loop, port)
        transport.get_extra_info('socket')
        transport.write(payload(100_000))
        if abort:
            transport.abort()
        else:
            transport.close()
        await client.lost
        while len(server_sides) < exchange.count + 1:
            await asyncio.sleep(0.001)
        await server_sides[-1].lost
        exchange.count += 1

    exchange.count = 0

    async def main():
        server = await loop.create_server(lambda: TrackedEcho(loop), '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        await exchange(port, False)
        before = open_fds()
        for i in range(50):
            await exchange(port, bool(i % 2))
        assert open_fds() == before
        server.close()

    run(loop, main())


def test_closing_the_extra_info_socket_fd_leaves_the_transport_working(uvloop_loop):
    # Ours wraps a duplicate of libuv's descriptor: libuv's stays valid whatever is
    # done to the one handed out (asyncio hands out the transport's own).
    loop = uvloop_loop

    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        os.close(transport.get_extra_info('socket').fileno())
        transport.write(b'still works')
        assert await client.received(11) == b'still works'
        transport.close()
        assert await client.lost is None
        server.close()

    run(loop, main())


def test_queued_writes_are_counted_as_live_requests(uvloop_loop):
    # The fixture checks that no request outlives a test; this checks that they
    # are counted at all.
    import uvloop.loop
    debug_counters_or_skip()
    loop = uvloop_loop
    peers = []

    class Paused(asyncio.Protocol):
        def connection_made(self, transport):
            transport.pause_reading()
            peers.append(transport)

    async def main():
        server = await loop.create_server(Paused, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await connect(loop, port)
        before = uvloop.loop._debug_counters()['requests_live']
        transport.write(payload(8 * 1024 * 1024))
        transport.write(payload(8 * 1024 * 1024))
        assert uvloop.loop._debug_counters()['requests_live'] == before + 2
        transport.abort()
        await client.lost
        assert uvloop.loop._debug_counters()['requests_live'] == before
        peers[0].abort()
        server.close()

    run(loop, main())
