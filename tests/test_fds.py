"""add_reader/add_writer/remove_reader/remove_writer (the sock_* methods are
test_sock_methods.py's)."""

import asyncio
import errno
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest

from loops import LOOP_FACTORIES


def assert_sees_eof(sock):
    """`sock`'s peer is closed: a read returns EOF (within 5 s, not never)."""
    sock.settimeout(5)
    assert sock.recv(10) == b''


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


def test_a_reader_fires_again_after_a_socket_error(loop):
    # A refused UDP datagram is an EPOLLERR on the socket (libuv stops the watch); the
    # reader takes the error, and must still fire for the next datagram.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(('127.0.0.1', 0))
        port = peer.getsockname()[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect(('127.0.0.1', port))
    events = []

    def on_readable():
        try:
            events.append(sock.recv(100))
        except OSError as exc:
            events.append(type(exc))

    async def main():
        loop.add_reader(sock, on_readable)
        sock.send(b'anyone?')
        async with asyncio.timeout(5):
            while not events:
                await asyncio.sleep(0.01)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.bind(('127.0.0.1', port))
                peer.sendto(b'now', sock.getsockname())
                while len(events) < 2:
                    await asyncio.sleep(0.01)
        assert loop.remove_reader(sock)

    try:
        loop.run_until_complete(main())
    finally:
        sock.close()
    assert events == [ConnectionRefusedError, b'now']


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


def run_isolated(loop_kind, body):
    """Run `body` in a fresh interpreter, with `loop` a new loop of `loop_kind`, so
    that a libuv abort() fails the test instead of killing pytest. Returns what it
    printed, as a list of words."""
    code = textwrap.dedent('''
        import asyncio, socket, sys, tempfile
        from loops import LOOP_FACTORIES
        loop = LOOP_FACTORIES[sys.argv[1]]()
        def run_briefly():
            loop.call_later(0.05, loop.stop)
            loop.run_forever()
    ''') + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, '-c', code, loop_kind], capture_output=True,
                          text=True, timeout=60, cwd=os.path.dirname(__file__))
    assert proc.returncode == 0, f'exit status {proc.returncode}: {proc.stderr}'
    return proc.stdout.split()


def test_watched_fd_reused_by_a_regular_file_before_the_loop_runs(loop_kind):
    # libuv registers a watch with epoll at the next loop iteration: by then the
    # number names a regular file, which epoll refuses (libuv used to abort). As in
    # asyncio, the watch of the closed socket never fires and is still removable.
    printed = run_isolated(loop_kind, '''
        a, b = socket.socketpair()
        fd = a.fileno()
        loop.add_writer(fd, print, 'fired')
        a.close()
        f = tempfile.TemporaryFile()
        assert f.fileno() == fd
        run_briefly()
        print(loop.remove_writer(fd))
    ''')
    assert printed == ['True']


def test_watching_a_number_that_names_a_regular_file_now_raises(loop_kind):
    # The socket watched closed, its number reused by a regular file: watching the
    # number raises PermissionError as asyncio's selector does (libuv used to abort).
    printed = run_isolated(loop_kind, '''
        a, b = socket.socketpair()
        fd = a.fileno()
        loop.add_reader(fd, print, 'fired')
        run_briefly()
        a.close()
        f = tempfile.TemporaryFile()
        assert f.fileno() == fd
        run_briefly()
        try:
            loop.add_writer(fd, print, 'fired')
        except PermissionError:
            print('PermissionError')
        run_briefly()
    ''')
    assert printed == ['PermissionError']


def test_transport_on_the_number_of_a_watched_socket_closed_without_removing():
    # A user error: asyncio's create_connection() raises FileNotFoundError here (its
    # selector still holds the stale number). libuv allows one watcher per number and
    # used to abort; our watch of the closed socket ends and the connection works.
    printed = run_isolated('uvloop', '''
        class Echo(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport
            def data_received(self, data):
                self.transport.write(data)

        class Client(asyncio.Protocol):
            def __init__(self):
                self.received = loop.create_future()
            def data_received(self, data):
                self.received.set_result(data)

        async def main():
            server = await loop.create_server(Echo, '127.0.0.1', 0)
            a, b = socket.socketpair()
            loop.add_reader(a, print, 'fired')
            await asyncio.sleep(0)
            a.close()
            transport, client = await loop.create_connection(
                Client, *server.sockets[0].getsockname())
            transport.write(b'echoed')
            print((await asyncio.wait_for(client.received, 5)).decode())
            transport.close()
            server.close()
            await server.wait_closed()

        loop.run_until_complete(main())
    ''')
    assert printed == ['echoed']


def test_watch_of_an_fd_closed_and_reused_before_the_loop_runs_never_fires(loop):
    # The number names a new socket when the loop runs: the old watch is the closed
    # socket's, and never fires (it did, for the new socket), as in asyncio.
    a, b = socket.socketpair()
    fd = a.fileno()
    fired = []
    loop.add_writer(fd, fired.append, 'old')
    a.close()
    c, d = socket.socketpair()
    try:
        assert c.fileno() == fd
        loop.call_later(0.05, loop.stop)
        loop.run_forever()
        assert fired == []
        assert loop.remove_writer(fd) is True
    finally:
        for s in (b, c, d):
            s.close()


@pytest.mark.parametrize('loop_runs_first', [False, True])
@pytest.mark.parametrize('for_write', [False, True])
def test_remove_the_watch_of_a_closed_socket(loop, for_write, loop_runs_first):
    # asyncio finds the watch by the socket object (its fileno() is -1 now); the
    # file is really closed once removed (the peer sees EOF) and the number is free.
    add, remove = ((loop.add_writer, loop.remove_writer) if for_write else
                   (loop.add_reader, loop.remove_reader))
    # The loop's own fds first: they would reuse the closed socket's number.
    loop.run_until_complete(asyncio.sleep(0))
    a, b = socket.socketpair()
    fd = a.fileno()
    fired = []
    add(a, fired.append, 'old')
    a.close()
    if loop_runs_first:
        # Long enough for our loop to see the closed socket by itself.
        loop.run_until_complete(asyncio.sleep(0.3))
    assert remove(a) is True
    with pytest.raises(ValueError, match='Invalid file descriptor: -1'):
        remove(a)
    assert fired == []
    assert_sees_eof(b)
    c, d = socket.socketpair()
    try:
        assert c.fileno() == fd
        loop.add_reader(c, lambda: (fired.append(c.recv(10)), loop.stop()))
        d.send(b'new')
        loop.run_forever()
        assert fired == [b'new']
        assert loop.remove_reader(c) is True
    finally:
        for s in (b, c, d):
            s.close()


def test_removing_the_reader_of_a_socket_closed_while_a_receive_waits(loop):
    # anyio's Unix socket streams: closing cancels a pending receive, whose cleanup
    # then removes the reader of the closed socket.
    a, b = socket.socketpair()
    a.setblocking(False)

    async def receive():
        readable = loop.create_future()
        loop.add_reader(a, readable.set_result, None)
        try:
            await readable
        finally:
            assert loop.remove_reader(a) is True

    async def main():
        task = loop.create_task(receive())
        await asyncio.sleep(0.01)
        a.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        loop.run_until_complete(main())
        assert_sees_eof(b)
    finally:
        b.close()


def test_a_watched_socket_closed_and_never_removed_is_really_closed(loop):
    # The peer sees the close (our loop: at its next check of watched objects).
    a, b = socket.socketpair()
    loop.add_reader(a, print)
    loop.run_until_complete(asyncio.sleep(0))
    a.close()
    loop.run_until_complete(asyncio.sleep(0.3))
    try:
        assert_sees_eof(b)
    finally:
        b.close()


def test_watching_a_closed_socket(loop):
    a, b = socket.socketpair()
    b.close()
    a.close()
    with pytest.raises(ValueError, match='Invalid file descriptor: -1'):
        loop.add_reader(a, print)
    with pytest.raises(ValueError, match='Invalid file descriptor: -1'):
        loop.remove_writer(a)


def test_watching_a_watched_socket_after_it_was_closed_raises_ebadf(loop):
    a, b = socket.socketpair()
    loop.add_reader(a, print)
    a.close()
    try:
        with pytest.raises(OSError) as info:
            loop.add_writer(a, print)
        assert info.value.errno == errno.EBADF
        # The failed call dropped the watch, as in asyncio.
        with pytest.raises(ValueError):
            loop.remove_reader(a)
        assert_sees_eof(b)
    finally:
        b.close()


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
