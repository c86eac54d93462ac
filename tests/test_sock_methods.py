"""The sock_* methods: sock_recv, sock_recv_into, sock_recvfrom, sock_recvfrom_into,
sock_sendall, sock_sendto, sock_connect, sock_accept, sock_sendfile."""

import asyncio
import os
import socket
import tempfile

import pytest

from netutil import open_fds


def test_sock_recv_and_sock_sendall(loop, socket_pair):
    a, b = socket_pair
    payload = os.urandom(4 * 1024 * 1024)

    async def main():
        send = loop.create_task(loop.sock_sendall(a, payload))
        chunks, size = [], 0
        while size < len(payload):
            chunk = await loop.sock_recv(b, 65536)
            chunks.append(chunk)
            size += len(chunk)
        await send
        return b''.join(chunks)

    assert loop.run_until_complete(main()) == payload


def test_sock_recv_into(loop, socket_pair):
    a, b = socket_pair
    buf = bytearray(10)

    async def main():
        loop.call_later(0.01, a.send, b'hello')
        return await loop.sock_recv_into(b, buf)

    assert loop.run_until_complete(main()) == 5
    assert buf[:5] == b'hello'


def test_sock_recv_returns_empty_bytes_at_eof(loop, socket_pair):
    a, b = socket_pair

    async def main():
        loop.call_later(0.01, a.shutdown, socket.SHUT_WR)
        return await loop.sock_recv(b, 100)

    assert loop.run_until_complete(main()) == b''


def test_sock_recv_cancelled_stops_watching(loop, socket_pair):
    a, b = socket_pair

    async def main():
        task = loop.create_task(loop.sock_recv(b, 100))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The fd is free for a new watcher.
        a.send(b'x')
        return await loop.sock_recv(b, 100)

    assert loop.run_until_complete(main()) == b'x'


@pytest.fixture
def udp_pair():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (a, b):
        s.setblocking(False)
        s.bind(('127.0.0.1', 0))
    yield a, b
    a.close()
    b.close()


def test_sock_sendto_and_sock_recvfrom(loop, udp_pair):
    a, b = udp_pair

    async def main():
        receive = loop.create_task(loop.sock_recvfrom(b, 100))
        await asyncio.sleep(0.01)
        sent = await loop.sock_sendto(a, b'datagram', b.getsockname())
        return sent, await receive

    sent, (data, address) = loop.run_until_complete(main())
    assert sent == 8 and data == b'datagram' and address == a.getsockname()


def test_sock_recvfrom_into(loop, udp_pair):
    a, b = udp_pair
    buf = bytearray(100)

    async def main():
        loop.call_later(0.01, a.sendto, b'abc', b.getsockname())
        return await loop.sock_recvfrom_into(b, buf, 2)

    nbytes, address = loop.run_until_complete(main())
    assert nbytes == 2 and buf[:2] == b'ab' and address == a.getsockname()


def test_sock_connect_and_sock_accept(loop):
    listener = socket.socket()
    listener.setblocking(False)
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    client = socket.socket()
    client.setblocking(False)

    async def main():
        accept = loop.create_task(loop.sock_accept(listener))
        await loop.sock_connect(client, listener.getsockname())
        conn, address = await accept
        try:
            assert conn.gettimeout() == 0
            assert address == client.getsockname()
            await loop.sock_sendall(client, b'hi')
            return await loop.sock_recv(conn, 10)
        finally:
            conn.close()

    try:
        assert loop.run_until_complete(main()) == b'hi'
    finally:
        listener.close()
        client.close()


def test_sock_connect_resolves_host_names(loop):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    client = socket.socket()
    client.setblocking(False)
    try:
        loop.run_until_complete(
            loop.sock_connect(client, ('localhost', listener.getsockname()[1])))
        assert client.getpeername() == listener.getsockname()
    finally:
        listener.close()
        client.close()


def test_sock_connect_refused_raises_connection_refused(loop):
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    address = probe.getsockname()
    probe.close()
    client = socket.socket()
    client.setblocking(False)
    try:
        with pytest.raises(ConnectionRefusedError):
            loop.run_until_complete(loop.sock_connect(client, address))
    finally:
        client.close()


@pytest.mark.parametrize('method, args', [
    ('sock_recv', (10,)),
    ('sock_recv_into', (bytearray(10),)),
    ('sock_recvfrom', (10,)),
    ('sock_recvfrom_into', (bytearray(10),)),
    ('sock_sendall', (b'x',)),
    ('sock_sendto', (b'x', ('127.0.0.1', 9))),
    ('sock_connect', (('127.0.0.1', 9),)),
    ('sock_accept', ()),
])
def test_blocking_socket_raises_value_error(loop, method, args):
    # asyncio checks this in debug mode; uvloop always.
    loop.set_debug(True)
    sock = socket.socket()
    try:
        with pytest.raises(ValueError, match='the socket must be non-blocking'):
            loop.run_until_complete(getattr(loop, method)(sock, *args))
    finally:
        sock.close()


def test_sock_sendfile_sends_a_slice_of_a_file(loop, socket_pair):
    a, b = socket_pair
    content = os.urandom(300_000)
    with tempfile.TemporaryFile() as f:
        f.write(content)
        f.seek(0)

        async def receive_all():
            chunks = []
            while chunk := await loop.sock_recv(b, 65536):
                chunks.append(chunk)
            return b''.join(chunks)

        async def main():
            receiver = loop.create_task(receive_all())
            sent = await loop.sock_sendfile(a, f, 1000, 200_000)
            a.shutdown(socket.SHUT_WR)
            return sent, await receiver

        sent, received = loop.run_until_complete(main())
        assert sent == 200_000 and received == content[1000:201_000]
        assert f.tell() == 201_000


def test_sock_operations_do_not_leak_fds(loop):
    # A first run creates the loop's own fds (e.g. its signal wakeup socket).
    loop.run_until_complete(asyncio.sleep(0))
    before = open_fds()

    async def main():
        for _ in range(50):
            a, b = socket.socketpair()
            a.setblocking(False)
            b.setblocking(False)
            task = loop.create_task(loop.sock_recv(b, 10))
            await asyncio.sleep(0)
            await loop.sock_sendall(a, b'x')
            assert await task == b'x'
            a.close()
            b.close()

    loop.run_until_complete(main())
    assert open_fds() == before
