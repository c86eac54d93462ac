"""The sock_* methods: sock_recv, sock_recv_into, sock_recvfrom, sock_recvfrom_into,
sock_sendall, sock_sendto, sock_connect, sock_accept, sock_sendfile."""

import asyncio
import errno
import io
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
    ('sock_sendfile', (io.BytesIO(b'x'),)),
])
def test_blocking_socket_in_debug_mode_raises_value_error(loop, method, args):
    loop.set_debug(True)
    sock = socket.socket()
    try:
        with pytest.raises(ValueError, match='the socket must be non-blocking'):
            loop.run_until_complete(getattr(loop, method)(sock, *args))
    finally:
        sock.close()


def test_blocking_sockets_are_accepted_outside_debug_mode(loop, tmp_path):
    # As in asyncio: each call runs the socket operation as it is (here every one is
    # ready, so none blocks the loop) and leaves the socket blocking.
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    client = socket.socket()
    udp_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_a.bind(('127.0.0.1', 0))
    udp_b.bind(('127.0.0.1', 0))
    data_file = tmp_path / 'data'
    data_file.write_bytes(b'file')

    async def main():
        await loop.sock_connect(client, listener.getsockname())
        conn, _ = await loop.sock_accept(listener)
        with conn:
            await loop.sock_sendall(client, b'hello')
            assert await loop.sock_recv(conn, 5) == b'hello'
            with open(data_file, 'rb') as f:
                assert await loop.sock_sendfile(client, f) == 4
            buf = bytearray(4)
            assert await loop.sock_recv_into(conn, buf) == 4 and buf == b'file'
        assert await loop.sock_sendto(udp_a, b'dgram', udp_b.getsockname()) == 5
        assert await loop.sock_recvfrom(udp_b, 10) == (b'dgram', udp_a.getsockname())
        await loop.sock_sendto(udp_a, b'dgram', udp_b.getsockname())
        assert await loop.sock_recvfrom_into(udp_b, buf) == (4, udp_a.getsockname())

    sockets = (listener, client, udp_a, udp_b)
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 10))
        assert all(s.getblocking() for s in sockets)
    finally:
        for s in sockets:
            s.close()


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


def stalled_connect(listener):
    """A non-blocking socket whose connect() to `listener` stays in progress: the
    listener's accept queue (backlog 0) is full, so its SYN goes unanswered."""
    filler = socket.socket()
    filler.connect(listener.getsockname())
    client = socket.socket()
    client.setblocking(False)
    assert client.connect_ex(listener.getsockname()) != 0
    return filler, client


async def pending_call(loop, kind, peer, listener, to_close):
    """(socket, pending sock_* task on it) for the case `kind`; sockets made on the
    way go to `to_close`."""
    if kind == 'recv':
        sock = peer
        task = loop.create_task(loop.sock_recv(sock, 10))
    elif kind == 'recv_into':
        sock = peer
        task = loop.create_task(loop.sock_recv_into(sock, bytearray(10)))
    elif kind == 'sendall':
        sock = peer
        task = loop.create_task(loop.sock_sendall(sock, b'x' * 50_000_000))
    elif kind == 'accept':
        sock = listener
        task = loop.create_task(loop.sock_accept(sock))
    else:
        filler, sock = stalled_connect(listener)
        to_close.append(filler)
        task = loop.create_task(loop.sock_connect(sock, listener.getsockname()))
    await asyncio.sleep(0.05)
    assert not task.done()
    return sock, task


@pytest.mark.parametrize('kind', ['recv', 'recv_into', 'sendall', 'accept', 'connect'])
def test_closing_a_socket_while_a_call_waits_on_it(uvloop_loop, kind):
    """The call fails with EBADF, as the closed socket does, and the fd number is
    free at once: a new socket that gets it works on the same loop.

    asyncio (3.11-3.13): the call never ends and the loop keeps the number watched,
    so on the new socket sock_recv never returns (sock_sendall raises
    FileNotFoundError). Upstream uvloop 0.23: the fd stays open until the call ends,
    which it does only if the peer acts, so the new socket gets another number."""
    loop = uvloop_loop
    a, b = socket.socketpair()
    a.setblocking(False)
    listener = socket.socket()
    listener.setblocking(False)
    listener.bind(('127.0.0.1', 0))
    listener.listen(0)
    to_close = [a, b, listener]

    async def main():
        sock, task = await pending_call(loop, kind, a, listener, to_close)
        fd = sock.fileno()
        sock.close()
        with pytest.raises(OSError) as info:
            await asyncio.wait_for(task, 2)
        assert info.value.errno == errno.EBADF
        c, d = socket.socketpair()
        with c, d:
            assert fd in (c.fileno(), d.fileno())
            c.setblocking(False)
            d.setblocking(False)
            receive = loop.create_task(loop.sock_recv(c, 10))
            await asyncio.sleep(0.01)
            await loop.sock_sendall(d, b'echo')
            assert await asyncio.wait_for(receive, 2) == b'echo'
            await loop.sock_sendall(c, b'back')
            assert await asyncio.wait_for(loop.sock_recv(d, 10), 2) == b'back'

    try:
        loop.run_until_complete(main())
        if kind in ('recv', 'recv_into', 'sendall'):
            # The socket is really closed: its peer sees EOF.
            b.setblocking(True)
            b.settimeout(2)
            while b.recv(1 << 20):
                pass
    finally:
        for s in to_close:
            s.close()


def test_a_call_waiting_on_a_socket_closed_in_the_same_iteration_fails_with_ebadf(
        uvloop_loop):
    loop = uvloop_loop
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main():
        task = loop.create_task(loop.sock_recv(a, 10))
        await asyncio.sleep(0)
        a.close()
        with pytest.raises(OSError) as info:
            await asyncio.wait_for(task, 2)
        assert info.value.errno == errno.EBADF

    try:
        loop.run_until_complete(main())
    finally:
        b.close()
