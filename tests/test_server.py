"""The Server returned by loop.create_server() / create_unix_server()."""

import asyncio
import errno
import socket
import sys

import pytest

import uvloop
from loops import run
from netutil import (EchoProtocol, RecordingProtocol, assert_echoed_then_close,
                     out_of_fds, payload)


def port_of(server):
    return server.sockets[0].getsockname()[1]


async def connect(loop, port, host='127.0.0.1'):
    return await loop.create_connection(lambda: RecordingProtocol(loop), host, port)


class Tracked:
    """A protocol factory that remembers the protocols it made."""

    def __init__(self, loop, cls=RecordingProtocol):
        self.loop = loop
        self.cls = cls
        self.protocols = []

    def __call__(self):
        self.protocols.append(self.cls(self.loop))
        return self.protocols[-1]

    async def nth(self, n):
        while len(self.protocols) <= n:
            await asyncio.sleep(0.001)
        await self.protocols[n].made
        return self.protocols[n]


def test_server_reports_its_sockets_loop_and_state(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        assert server.get_loop() is loop
        assert server.is_serving()
        (sock,) = server.sockets
        assert isinstance(sock, asyncio.trsock.TransportSocket)
        assert sock.getsockname()[0] == '127.0.0.1' and port_of(server) > 0
        assert 'sockets=' in repr(server)
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()
        await server.wait_closed()

    run(loop, main())


def test_a_list_of_hosts_gets_one_socket_each(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, ['127.0.0.1', '127.0.0.2'], 0)
        hosts = sorted(s.getsockname()[0] for s in server.sockets)
        assert hosts == ['127.0.0.1', '127.0.0.2']
        for sock in server.sockets:
            host, port = sock.getsockname()
            transport, client = await connect(loop, port, host)
            await assert_echoed_then_close(transport, client)
        server.close()

    run(loop, main())


def test_close_stops_accepting_but_keeps_connections(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        port = port_of(server)
        transport, client = await connect(loop, port)
        server.close()
        with pytest.raises(ConnectionRefusedError):
            await connect(loop, port)
        transport.write(b'still here')
        assert await client.received(10) == b'still here'
        transport.close()
        await client.lost
        await server.wait_closed()

    run(loop, main())


def test_wait_closed_waits_for_close(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        waiter = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.02)
        assert not waiter.done()
        server.close()
        await waiter

    run(loop, main())


def test_async_with_closes_the_server(loop):
    async def main():
        async with await loop.create_server(EchoProtocol, '127.0.0.1', 0) as server:
            assert server.is_serving()
        assert not server.is_serving()
        assert server.sockets == ()

    run(loop, main())


def test_start_serving_false_listens_only_when_asked(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          start_serving=False)
        assert not server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await connect(loop, port_of(server))
        await server.start_serving()
        assert server.is_serving()
        transport, client = await connect(loop, port_of(server))
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


def test_serve_forever_serves_until_cancelled_then_closes(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          start_serving=False)
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.01)
        assert server.is_serving()
        with pytest.raises(RuntimeError, match='is already being awaited on '
                                               'serve_forever'):
            await server.serve_forever()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving()
        with pytest.raises(RuntimeError, match='is closed'):
            await server.serve_forever()

    run(loop, main())


def test_a_listening_socket_can_be_passed_in(loop):
    async def main():
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        server = await loop.create_server(EchoProtocol, sock=sock)
        transport, client = await connect(loop, sock.getsockname()[1])
        await assert_echoed_then_close(transport, client)
        server.close()
        assert sock.fileno() == -1

    run(loop, main())


def test_reuse_port_lets_two_servers_share_a_port(loop):
    async def main():
        first = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                         reuse_port=True)
        second = await loop.create_server(EchoProtocol, '127.0.0.1', port_of(first),
                                          reuse_port=True)
        assert port_of(first) == port_of(second)
        first.close()
        second.close()

    run(loop, main())


def test_binding_a_busy_port_says_which_address(loop):
    async def main():
        first = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        with pytest.raises(OSError, match='error while attempting to bind on '
                                          'address') as info:
            await loop.create_server(EchoProtocol, '127.0.0.1', port_of(first),
                                     reuse_address=False)
        assert str(port_of(first)) in str(info.value)
        first.close()

    run(loop, main())


def test_argument_errors_match_asyncio(loop):
    async def main():
        with socket.socket() as sock:
            with pytest.raises(ValueError, match='host/port and sock can not be '
                                                 'specified at the same time'):
                await loop.create_server(EchoProtocol, '127.0.0.1', 0, sock=sock)
        with pytest.raises(ValueError, match='Neither host/port nor sock were '
                                             'specified'):
            await loop.create_server(EchoProtocol)
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match='A Stream Socket was expected'):
                await loop.create_server(EchoProtocol, sock=sock)
        with pytest.raises(TypeError, match='ssl argument must be an SSLContext '
                                            'or None'):
            await loop.create_server(EchoProtocol, '127.0.0.1', 0, ssl=True)
        with pytest.raises(ValueError, match='ssl_handshake_timeout is only '
                                             'meaningful with ssl'):
            await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                     ssl_handshake_timeout=1)

    run(loop, main())


@pytest.mark.parametrize('backlog, error', [
    (1.5, TypeError), ('3', TypeError),
    (2 ** 40, OverflowError), (-2 ** 40, OverflowError),
])
@pytest.mark.parametrize('family', ['tcp', 'unix'])
def test_a_backlog_socket_listen_would_refuse_raises(loop, family, backlog, error,
                                                    tmp_path):
    # asyncio passes it to socket.listen() as it starts serving.
    async def main():
        if family == 'tcp':
            with socket.create_server(('127.0.0.1', 0)) as sock:
                with pytest.raises(error):
                    await loop.create_server(EchoProtocol, sock=sock, backlog=backlog)
        else:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(str(tmp_path / 'sock'))
                with pytest.raises(error):
                    await loop.create_unix_server(EchoProtocol, sock=sock,
                                                  backlog=backlog)

    run(loop, main())


def test_a_negative_backlog_listens_as_socket_listen_does(uvloop_loop):
    # listen() takes it as 0; asyncio's loop never accepts then (it calls accept()
    # `backlog` times per readiness).
    loop = uvloop_loop

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0, backlog=-1)
        transport, client = await connect(loop, port_of(server))
        await assert_echoed_then_close(transport, client)
        server.close()

    run(loop, main())


def test_connections_that_arrive_while_out_of_fds_are_served_later(loop):
    # libuv's uv_listen() would accept and close them ("EMFILE trick"); asyncio stops
    # accepting for a second, reports it once, and serves them all afterwards.
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        transport, client = await connect(loop, port_of(server))
        await assert_echoed_then_close(transport, client)   # lazy fds made now
        clients = [socket.create_connection(('127.0.0.1', port_of(server)))
                   for _ in range(5)]
        with out_of_fds():
            async with asyncio.timeout(5):
                while not contexts:
                    await asyncio.sleep(0.01)
        for context in contexts:
            assert context['message'] == 'socket.accept() out of system resource'
            assert context['exception'].errno == errno.EMFILE
            assert context['socket'].fileno() == server.sockets[0].fileno()
        reports = len(contexts)
        for i, sock in enumerate(clients):
            sock.setblocking(False)
            await loop.sock_sendall(sock, b'ping %d' % i)
            assert await loop.sock_recv(sock, 100) == b'ping %d' % i
            sock.close()
        assert len(contexts) == reports
        server.close()
        await server.wait_closed()

    run(loop, main())
    # Once on ours; asyncio 3.11 reports it again for each accept() left in its
    # batch (and schedules as many retries).
    if isinstance(loop, uvloop.Loop):
        assert len(contexts) == 1


def test_a_failing_protocol_factory_drops_that_connection_only(loop):
    calls = []

    def factory():
        calls.append(None)
        if len(calls) == 1:
            raise ZeroDivisionError
        return EchoProtocol()

    async def main():
        server = await loop.create_server(factory, '127.0.0.1', 0)
        transport, first = await connect(loop, port_of(server))
        assert await first.lost is None
        transport, second = await connect(loop, port_of(server))
        await assert_echoed_then_close(transport, second, b'ok')
        server.close()

    run(loop, main())


def test_accepted_transports_report_the_peer(loop):
    async def main():
        tracked = Tracked(loop)
        server = await loop.create_server(tracked, '127.0.0.1', 0)
        transport, client = await connect(loop, port_of(server))
        accepted = (await tracked.nth(0)).transport
        assert accepted.get_extra_info('peername') == \
            transport.get_extra_info('sockname')
        assert accepted.get_extra_info('sockname') == ('127.0.0.1', port_of(server))
        transport.close()
        await client.lost
        server.close()

    run(loop, main())


# close_clients() and abort_clients() came with Python 3.13 in asyncio; uvloop has
# them on every version, so these run on our loop.

def test_close_clients_closes_connections_after_sending_queued_data(uvloop_loop):
    loop = uvloop_loop

    class Sender(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.write(payload(4 * 1024 * 1024))

    async def main():
        tracked = Tracked(loop, Sender)
        server = await loop.create_server(tracked, '127.0.0.1', 0)
        transport, client = await connect(loop, port_of(server))
        await tracked.nth(0)
        server.close()
        server.close_clients()
        assert await client.lost is None
        assert client.data == payload(4 * 1024 * 1024)
        assert await tracked.protocols[0].lost is None
        await server.wait_closed()

    run(loop, main())


def test_abort_clients_drops_queued_data(uvloop_loop):
    loop = uvloop_loop

    class Sender(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.write(payload(16 * 1024 * 1024))

    async def main():
        tracked = Tracked(loop, Sender)
        server = await loop.create_server(tracked, '127.0.0.1', 0)
        transport, client = await connect(loop, port_of(server))
        transport.pause_reading()
        await tracked.nth(0)
        server.close()
        server.abort_clients()
        assert await tracked.protocols[0].lost is None
        transport.resume_reading()
        await client.lost
        assert len(client.data) < 16 * 1024 * 1024
        await server.wait_closed()

    run(loop, main())


def test_wait_closed_after_close_follows_the_running_python(loop):
    # Python 3.12.1 made wait_closed() of a closed server wait for its last
    # connection; before, it returned at once. Both loops follow the running Python.
    waits_for_connections = sys.version_info >= (3, 12, 1)

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        transport, client = await connect(loop, port_of(server))
        await asyncio.sleep(0.01)
        server.close()
        waiter = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.02)
        assert waiter.done() != waits_for_connections
        transport.close()
        await client.lost
        await waiter

    run(loop, main())


def test_a_thousand_concurrent_connections_that_come_and_go(loop):
    async def client(port, index):
        transport, proto = await connect(loop, port)
        for round_ in range(3):
            data = payload(1024 + index + round_)
            del proto.data[:]
            transport.write(data)
            assert await proto.received(len(data)) == data
        if index % 3 == 0:
            transport.abort()
        else:
            transport.close()
        await proto.lost

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          backlog=1000)
        port = port_of(server)
        for wave in range(2):
            await asyncio.gather(*(client(port, i) for i in range(1000)))
        # Still serving after all that.
        transport, proto = await connect(loop, port)
        transport.write(b'alive')
        assert await proto.received(5) == b'alive'
        transport.close()
        await proto.lost
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=60)


def test_a_protocol_factory_that_closes_the_server(uvloop_loop):
    # The connection it was called for is still served; wait_closed() returns once
    # that connection is gone, and nothing is reported. (asyncio 3.11's Server wakes
    # its waiters twice then, and reports a TypeError.)
    loop = uvloop_loop
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    async def main():
        server = None

        def closing_factory():
            server.close()
            return EchoProtocol()

        server = await loop.create_server(closing_factory, '127.0.0.1', 0)
        transport, client = await connect(loop, port_of(server))
        await assert_echoed_then_close(transport, client)
        await asyncio.wait_for(server.wait_closed(), 5)

    run(loop, main())
    assert contexts == []
