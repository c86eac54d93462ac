"""TCP only: loop.create_connection() (host and port, name resolution, happy
eyeballs, local_addr, sock), what only TCP transports do (TCP_NODELAY, a reset peer).
The transport contract TCP shares with Unix sockets is test_stream_transports.py's."""

import asyncio
import socket
import time

import pytest

from loops import run
from netutil import EchoProtocol, RecordingProtocol, open_fds


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


def test_tcp_nodelay_is_set(loop):
    async def main():
        server, port = await echo_server(loop)
        transport, client = await connect(loop, port)
        sock = transport.get_extra_info('socket')
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


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


def test_a_connect_cancelled_after_connection_made_closes_without_connection_lost(
        uvloop_loop):
    # As upstream uvloop: the connection was never handed over, so its protocol is not
    # told it is lost (asyncio's loop calls connection_lost(None); asyncpg's pool,
    # which cancels connects in flight, takes that for an error). The socket is closed:
    # the server reads EOF.
    loop = uvloop_loop
    events = []

    class CancelsItsConnect(asyncio.Protocol):
        def connection_made(self, transport):
            events.append('made')
            connecting.cancel()

        def connection_lost(self, exc):
            events.append('lost')

    async def main():
        nonlocal connecting
        accepted = loop.create_future()

        def on_client(reader, writer):
            accepted.set_result((reader, writer))

        server = await asyncio.start_server(on_client, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        connecting = loop.create_task(
            loop.create_connection(CancelsItsConnect, '127.0.0.1', port))
        with pytest.raises(asyncio.CancelledError):
            await connecting
        reader, writer = await accepted
        assert await asyncio.wait_for(reader.read(), 5) == b''     # closed
        writer.close()
        await writer.wait_closed()
        assert events == ['made']
        server.close()
        await server.wait_closed()

    connecting = None
    run(loop, main())
