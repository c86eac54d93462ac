"""add_reader/add_writer and the sock_* methods."""

import asyncio
import errno
import os
import socket
import tempfile
import threading

import pytest

from loops import LOOP_FACTORIES


@pytest.fixture
def socket_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def open_fd_count():
    return len(os.listdir('/proc/self/fd'))


def test_add_reader_fires_when_readable_and_remove_reader(loop, socket_pair):
    a, b = socket_pair
    got = []

    def on_readable():
        got.append(a.recv(100))
        assert loop.remove_reader(a) is True
        loop.stop()

    loop.add_reader(a.fileno(), on_readable)
    loop.call_soon(b.send, b'ping')
    loop.run_forever()
    assert got == [b'ping']
    assert loop.remove_reader(a) is False


def test_add_reader_accepts_objects_with_fileno(loop, socket_pair):
    a, b = socket_pair
    loop.add_reader(a, loop.stop)
    b.send(b'x')
    loop.run_forever()
    assert loop.remove_reader(a)


def test_add_writer_fires_when_writable(loop, socket_pair):
    a, _ = socket_pair
    fired = []

    def on_writable():
        fired.append(True)
        loop.remove_writer(a.fileno())
        loop.stop()

    loop.add_writer(a.fileno(), on_writable)
    loop.run_forever()
    assert fired == [True]
    assert loop.remove_writer(a.fileno()) is False


def test_reader_and_writer_on_the_same_fd(loop, socket_pair):
    a, b = socket_pair
    events = []

    def on_writable():
        events.append('w')
        loop.remove_writer(a)
        b.send(b'x')

    def on_readable():
        events.append('r')
        a.recv(10)
        loop.remove_reader(a)
        loop.stop()

    loop.add_reader(a, on_readable)
    loop.add_writer(a, on_writable)
    loop.run_forever()
    assert events == ['w', 'r']


def test_add_reader_replaces_the_previous_callback(loop, socket_pair):
    a, b = socket_pair
    calls = []
    loop.add_reader(a, calls.append, 'old')

    def new():
        calls.append('new')
        loop.remove_reader(a)
        loop.stop()

    loop.add_reader(a, new)
    b.send(b'x')
    loop.run_forever()
    assert calls == ['new']


def test_add_reader_keeps_the_blocking_mode(loop):
    a, b = socket.socketpair()
    try:
        assert a.getblocking()
        loop.add_reader(a, print)
        assert a.getblocking()
        loop.remove_reader(a)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize('bad', ['not a file', -1, 1.5])
def test_add_reader_with_an_invalid_fd_raises_value_error(loop, bad):
    with pytest.raises(ValueError):
        loop.add_reader(bad, print)


def test_add_reader_with_a_closed_fd_raises_os_error(loop):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        loop.add_reader(r, print)
    assert info.value.errno == errno.EBADF


def test_add_reader_on_a_regular_file_raises_permission_error(loop):
    with tempfile.TemporaryFile() as f:
        with pytest.raises(PermissionError):
            loop.add_reader(f.fileno(), print)


def test_closing_a_watched_fd_before_the_loop_runs_does_not_crash(loop):
    a, b = socket.socketpair()
    loop.add_reader(a.fileno(), print)
    loop.add_writer(b.fileno(), print)
    a.close()
    b.close()
    loop.call_later(0.01, loop.stop)
    loop.run_forever()


def test_closing_a_watched_fd_and_reusing_its_number(uvloop_loop):
    # A user error (asyncio's selector raises FileNotFoundError here); libuv would
    # abort the process if we let it modify a stale epoll entry, so this must work.
    loop = uvloop_loop
    a, b = socket.socketpair()
    fd = a.fileno()
    loop.add_reader(fd, print)
    loop.call_soon(loop.stop)
    loop.run_forever()
    a.close()
    c, d = socket.socketpair()
    fired = []
    try:
        # The number may be reused by the new socket; watching it must work.
        loop.add_writer(c.fileno(), lambda: (fired.append(1), loop.stop()))
        loop.run_forever()
        assert fired
        loop.remove_writer(c.fileno())
        loop.remove_reader(fd)
    finally:
        for s in (b, c, d):
            s.close()


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
    before = open_fd_count()

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
    assert open_fd_count() == before


def test_add_reader_from_another_loop_thread_is_independent(loop_kind):
    # Two loops in two threads watching their own fds never see each other's events.
    results = {}

    def worker(name):
        lp = LOOP_FACTORIES[loop_kind]()
        a, b = socket.socketpair()
        try:
            lp.add_reader(a, lambda: (results.setdefault(name, a.recv(10)), lp.stop()))
            lp.call_later(0.01, b.send, name.encode())
            lp.run_forever()
            lp.remove_reader(a)
        finally:
            a.close()
            b.close()
            lp.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ('one', 'two')]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {'one': b'one', 'two': b'two'}
