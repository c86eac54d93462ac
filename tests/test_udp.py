"""Datagrams: loop.create_datagram_endpoint() and the datagram transport."""

import asyncio
import errno
import os
import re
import socket

import pytest

from loops import run
from netutil import ContextSeen, current, open_fds, payload


class DatagramRecorder(asyncio.DatagramProtocol):
    """Records datagrams and errors; `wait(n)` waits for n datagrams in total."""

    def __init__(self, loop, echo=False):
        self.loop = loop
        self.echo = echo
        self.datagrams = []
        self.errors = []
        self.lost = loop.create_future()
        self._waiter = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.datagrams.append((data, addr))
        if self.echo:
            self.transport.sendto(data, addr)
        self._wake()

    def error_received(self, exc):
        self.errors.append(exc)
        self._wake()

    def connection_lost(self, exc):
        self.lost.set_result(exc)

    def _wake(self):
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, count=1, errors=0):
        while len(self.datagrams) < count or len(self.errors) < errors:
            self._waiter = self.loop.create_future()
            await self._waiter


async def endpoint(loop, **kwargs):
    echo = kwargs.pop('echo', False)
    return await loop.create_datagram_endpoint(
        lambda: DatagramRecorder(loop, echo), **kwargs)


def unused_udp_port():
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_connected_endpoint_exchanges_datagrams_intact(loop):
    async def main():
        server, server_proto = await endpoint(loop, local_addr=('127.0.0.1', 0),
                                              echo=True)
        server_addr = server.get_extra_info('sockname')
        client, client_proto = await endpoint(loop, remote_addr=server_addr)
        sizes = [1, 100, 1472, 8000, 60000]
        for size in sizes:
            client.sendto(payload(size))
        await client_proto.wait(len(sizes))
        assert [data for data, _ in client_proto.datagrams] == \
            [payload(size) for size in sizes]
        assert {addr for _, addr in client_proto.datagrams} == {server_addr}
        assert client.get_write_buffer_size() == 0
        client.close()
        server.close()
        assert await client_proto.lost is None
        assert await server_proto.lost is None

    run(loop, main())


def test_unconnected_endpoint_sends_to_the_address_given(loop):
    async def main():
        server, server_proto = await endpoint(loop, local_addr=('127.0.0.1', 0),
                                              echo=True)
        server_addr = server.get_extra_info('sockname')
        client, client_proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        assert client.get_extra_info('peername') is None
        client.sendto(b'ping', server_addr)
        client.sendto(bytearray(b'bytearray'), server_addr)
        client.sendto(memoryview(b'memoryview'), server_addr)
        await client_proto.wait(3)
        assert client_proto.datagrams == [(b'ping', server_addr),
                                          (b'bytearray', server_addr),
                                          (b'memoryview', server_addr)]
        assert server_proto.datagrams[0][1] == client.get_extra_info('sockname')
        client.close()
        server.close()
        await client_proto.lost

    run(loop, main())


def test_each_sender_gets_its_own_replies(loop):
    async def main():
        server, _ = await endpoint(loop, local_addr=('127.0.0.1', 0), echo=True)
        server_addr = server.get_extra_info('sockname')
        clients = [await endpoint(loop, local_addr=('127.0.0.1', 0))
                   for _ in range(3)]
        for round_ in range(3):
            for index, (transport, _) in enumerate(clients):
                # Alternating senders, and a fresh tuple each time for one of them.
                addr = tuple(server_addr) if index == 1 else server_addr
                transport.sendto(f'{index}:{round_}'.encode(), addr)
        for index, (transport, proto) in enumerate(clients):
            await proto.wait(3)
            assert [d for d, _ in proto.datagrams] == \
                [f'{index}:{r}'.encode() for r in range(3)]
            transport.close()
            await proto.lost
        server.close()

    run(loop, main())


@pytest.mark.parametrize('family, local, destination', [
    (socket.AF_INET, '127.0.0.1', 'localhost'),
    (socket.AF_INET, '127.0.0.1', 'nonexistent.invalid'),
    (socket.AF_INET, '127.0.0.1', '::1'),
    (socket.AF_INET6, '::1', '127.0.0.1'),
    (socket.AF_INET6, '::1', 'localhost'),
])
def test_sendto_a_host_name_or_the_other_family_raises_value_error(
        uvloop_loop, family, local, destination):
    # As upstream uvloop: sendto() never resolves names (that would block the loop);
    # asyncio's resolves them in socket.sendto(), and reports failures to
    # error_received().
    loop = uvloop_loop

    async def main():
        client, proto = await endpoint(loop, family=family, local_addr=(local, 0))
        addr = (destination, 9)
        with pytest.raises(ValueError, match=re.escape(
                f'{addr!r}: socket family mismatch or a DNS lookup is required')):
            client.sendto(b'x', addr)
        assert proto.errors == []
        assert not client.is_closing()
        client.sendto(b'still sends', (local, 9))
        client.close()
        await proto.lost

    run(loop, main())


def test_connected_endpoint_rejects_other_addresses(loop):
    async def main():
        server, _ = await endpoint(loop, local_addr=('127.0.0.1', 0))
        server_addr = server.get_extra_info('sockname')
        client, client_proto = await endpoint(loop, remote_addr=server_addr)
        assert client.get_extra_info('peername') == server_addr
        client.sendto(b'ok', server_addr)
        with pytest.raises(ValueError, match='Invalid address: must be None or'):
            client.sendto(b'x', ('127.0.0.1', 9))
        client.close()
        server.close()
        await client_proto.lost

    run(loop, main())


def test_a_refused_port_is_reported_to_error_received(loop):
    async def main():
        client, proto = await endpoint(loop,
                                       remote_addr=('127.0.0.1', unused_udp_port()))
        client.sendto(b'anyone?')
        await proto.wait(0, errors=1)
        assert isinstance(proto.errors[0], ConnectionRefusedError)
        assert not client.is_closing()
        client.close()
        assert await proto.lost is None

    run(loop, main())


def test_reading_goes_on_after_a_refused_port(loop):
    # The ICMP error is an EPOLLERR on the socket (libuv stops its watch then): after
    # error_received(), datagrams from the peer, once it listens, still arrive.
    port = unused_udp_port()

    async def main():
        client, proto = await endpoint(loop, remote_addr=('127.0.0.1', port))
        client.sendto(b'anyone?')
        await proto.wait(0, errors=1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(('127.0.0.1', port))
            peer.sendto(b'now', client.get_extra_info('sockname'))
            await proto.wait(1, errors=1)
        assert proto.datagrams[0][0] == b'now'
        client.close()
        assert await proto.lost is None

    run(loop, main())


def test_sendto_without_an_address_on_an_unconnected_endpoint_is_a_fatal_error(loop):
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    async def main():
        client, proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        client.sendto(b'x')
        exc = await proto.lost
        assert isinstance(exc, TypeError)
        assert contexts[0]['message'] == 'Fatal write error on datagram transport'

    run(loop, main())


def test_a_malformed_destination_is_a_fatal_error(loop):
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    async def main():
        client, proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        client.sendto(b'x', 'not an address')
        exc = await proto.lost
        assert isinstance(exc, TypeError)
        assert contexts[0]['message'] == 'Fatal write error on datagram transport'
        assert contexts[0]['exception'] is exc
        assert contexts[0]['transport'] is client

    run(loop, main())


def test_sendto_rejects_what_is_not_bytes(loop):
    async def main():
        client, proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        with pytest.raises(TypeError, match="data argument must be a bytes-like "
                                            "object, not 'str'"):
            client.sendto('text', ('127.0.0.1', 9))
        client.close()
        await proto.lost

    run(loop, main())


def test_datagram_received_errors_are_reported_and_receiving_goes_on(loop):
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    class FailingOnce(DatagramRecorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            if len(self.datagrams) == 1:
                raise ZeroDivisionError

    async def main():
        server, proto = await loop.create_datagram_endpoint(
            lambda: FailingOnce(loop), local_addr=('127.0.0.1', 0))
        client, client_proto = await endpoint(
            loop, remote_addr=server.get_extra_info('sockname'))
        client.sendto(b'1')
        await proto.wait(1)
        client.sendto(b'2')
        await proto.wait(2)
        assert [d for d, _ in proto.datagrams] == [b'1', b'2']
        assert [type(c['exception']) for c in contexts] == [ZeroDivisionError]
        client.close()
        server.close()
        await proto.lost

    run(loop, main())


def test_close_and_abort_call_connection_lost_once(loop):
    async def main():
        first, first_proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        first.close()
        first.close()
        assert first.is_closing()
        assert await first_proto.lost is None
        second, second_proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        second.abort()
        second.close()
        assert await second_proto.lost is None

    run(loop, main())


def test_extra_info_reports_the_socket(loop):
    async def main():
        transport, proto = await endpoint(loop, local_addr=('127.0.0.1', 0))
        sock = transport.get_extra_info('socket')
        assert sock.type == socket.SOCK_DGRAM
        assert sock.getsockname() == transport.get_extra_info('sockname')
        # asyncio does not turn address reuse on for datagram sockets.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
        transport.close()
        await proto.lost

    run(loop, main())


def test_allow_broadcast_and_reuse_port_set_their_options(loop):
    async def main():
        first, first_proto = await endpoint(loop, local_addr=('127.0.0.1', 0),
                                            reuse_port=True, allow_broadcast=True)
        port = first.get_extra_info('sockname')[1]
        sock = first.get_extra_info('socket')
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        second, second_proto = await endpoint(loop, local_addr=('127.0.0.1', port),
                                              reuse_port=True)
        first.close()
        second.close()
        await first_proto.lost
        await second_proto.lost

    run(loop, main())


def test_a_socket_can_be_passed_in(loop):
    async def main():
        sock = socket.socket(type=socket.SOCK_DGRAM)
        sock.bind(('127.0.0.1', 0))
        transport, proto = await endpoint(loop, sock=sock)
        peer = socket.socket(type=socket.SOCK_DGRAM)
        peer.bind(('127.0.0.1', 0))
        peer.sendto(b'hello', sock.getsockname())
        await proto.wait(1)
        assert proto.datagrams == [(b'hello', peer.getsockname())]
        peer.close()
        transport.close()
        await proto.lost
        assert sock.fileno() == -1          # the transport closed it

    run(loop, main())


def test_argument_errors_match_asyncio(loop):
    async def main():
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match='socket modifier keyword arguments '
                                                 'can not be used when sock is '
                                                 'specified'):
                await endpoint(loop, sock=sock, local_addr=('127.0.0.1', 0))
        with socket.socket() as stream:
            with pytest.raises(ValueError, match='(UDP|datagram) [Ss]ocket was '
                                                 'expected'):
                await endpoint(loop, sock=stream)
        with pytest.raises(ValueError, match='unexpected address family'):
            await endpoint(loop)
        with pytest.raises(TypeError, match='2-tuple is expected'):
            await endpoint(loop, local_addr='127.0.0.1')

    run(loop, main())


def test_unix_datagram_endpoints(loop, tmp_path):
    path = str(tmp_path / 'dgram')

    async def main():
        server, server_proto = await endpoint(loop, family=socket.AF_UNIX,
                                              local_addr=path)
        client, client_proto = await endpoint(loop, family=socket.AF_UNIX,
                                              remote_addr=path)
        client.sendto(b'over unix')
        await server_proto.wait(1)
        # The client socket has no name: the datagram has no source address.
        assert server_proto.datagrams == [(b'over unix', None)]
        client.close()
        server.close()
        await server_proto.lost

    run(loop, main())


def test_endpoints_leak_no_fd(loop):
    async def exchange():
        server, server_proto = await endpoint(loop, local_addr=('127.0.0.1', 0),
                                              echo=True)
        client, client_proto = await endpoint(
            loop, remote_addr=server.get_extra_info('sockname'))
        client.get_extra_info('socket')
        client.sendto(b'x')
        await client_proto.wait(1)
        client.close()
        server.abort()
        await client_proto.lost
        await server_proto.lost

    async def main():
        await exchange()
        before = open_fds()
        for _ in range(20):
            await exchange()
        assert open_fds() == before

    run(loop, main())


# ----- contexts -----------------------------------------------------------------------

class ContextRecorder(ContextSeen, DatagramRecorder):
    """Records the value of `current` each callback sees, in `seen`; connection_made()
    sets it to 'transport', which later callbacks see only in that same context."""

    def connection_made(self, transport):
        self._enter()
        super().connection_made(transport)

    def datagram_received(self, data, addr):
        self._see('datagram')
        super().datagram_received(data, addr)

    def error_received(self, exc):
        self._see('error')
        super().error_received(exc)

    def connection_lost(self, exc):
        self._see('lost')
        super().connection_lost(exc)


def test_received_datagrams_see_the_creating_context(loop):
    async def main():
        current.set('creating')
        server, proto = await loop.create_datagram_endpoint(
            lambda: ContextRecorder(loop), local_addr=('127.0.0.1', 0))
        current.set('changed after creating')
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            sock.sendto(b'hello', server.get_extra_info('sockname'))
            await proto.wait(1)
        server.close()
        await proto.lost
        return proto.seen

    # asyncio runs each callback in a copy of the creating context (the value set in
    # connection_made is not seen later), and connection_lost() after close() in the
    # closing task's; ours runs them all in one context.
    seen = run(loop, main())
    assert seen['made'] == {'creating'}
    assert seen['datagram'] <= {'creating', 'transport'}


def test_a_failed_sendto_of_another_task_is_reported_in_the_transport_context(
        uvloop_loop):
    # As upstream uvloop; asyncio calls error_received() in the sending task's
    # context.
    loop = uvloop_loop

    async def main():
        current.set('creating')
        client, proto = await loop.create_datagram_endpoint(
            lambda: ContextRecorder(loop), local_addr=('127.0.0.1', 0))

        async def send_too_large():
            current.set('another task')
            client.sendto(bytes(70000), ('127.0.0.1', 9))

        await asyncio.create_task(send_too_large())
        assert [e.errno for e in proto.errors] == [errno.EMSGSIZE]
        current.set('closing')
        client.close()
        await proto.lost
        return proto.seen

    seen = run(loop, main())
    assert seen == {'made': {'creating'}, 'error': {'transport'}, 'lost': {'transport'}}
