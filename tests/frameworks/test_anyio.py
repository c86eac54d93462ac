"""anyio's asyncio backend on our loop (through its loop_factory option): TCP with
and without TLS, Unix stream and datagram sockets (anyio drives those itself with
add_reader/add_writer), UDP, wait_readable and closing a socket another task waits on,
task groups and cancellation, subprocesses, threads."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import anyio
import pytest
import uvloop
from anyio.streams.tls import TLSListener


@pytest.fixture
def anyio_run(loop_kind, loop_factory):
    """anyio_run(main): anyio.run(main) on a loop of `loop_kind`."""
    def anyio_run(main):
        async def checked():
            running = asyncio.get_running_loop()
            assert isinstance(running, uvloop.Loop) == (loop_kind == 'uvloop')
            with anyio.fail_after(60):
                return await main()
        return anyio.run(checked, backend='asyncio',
                         backend_options={'loop_factory': loop_factory})
    return anyio_run


class Echo:
    """A stream handler that echoes until the client closes; `done` once it has."""

    def __init__(self):
        self.done = anyio.Event()

    async def __call__(self, stream):
        async with stream:
            try:
                while True:
                    await stream.send(await stream.receive())
            except anyio.EndOfStream:
                pass
        self.done.set()


async def exchange(stream):
    """Many small messages one by one, then 4 MiB sent while it is read back."""
    for n in range(300):
        message = b'message %d' % n
        await stream.send(message)
        assert await stream.receive() == message
    payload = os.urandom(4 * 1024 * 1024)
    received = bytearray()

    async def receive_all():
        while len(received) < len(payload):
            received.extend(await stream.receive())

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(receive_all)
        await stream.send(payload)
    assert received == payload


@pytest.mark.parametrize('tls', [False, True], ids=['plain', 'tls'])
def test_tcp(anyio_run, tls, server_ssl, client_ssl):
    async def main():
        listener = await anyio.create_tcp_listener(local_host='127.0.0.1')
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        if tls:
            listener = TLSListener(listener, server_ssl, standard_compatible=False)
        async with listener, anyio.create_task_group() as tasks:
            echo = Echo()
            tasks.start_soon(listener.serve, echo)
            options = {'ssl_context': client_ssl, 'tls_standard_compatible': False,
                       'tls_hostname': 'localhost'} if tls else {}
            async with await anyio.connect_tcp('127.0.0.1', port, **options) as stream:
                await exchange(stream)
            await echo.done.wait()
            tasks.cancel_scope.cancel()
    anyio_run(main)


def test_unix_stream(anyio_run, tmp_path):
    path = tmp_path / 'anyio.sock'

    async def main():
        listener = await anyio.create_unix_listener(path)
        async with listener, anyio.create_task_group() as tasks:
            echo = Echo()
            tasks.start_soon(listener.serve, echo)
            async with await anyio.connect_unix(path) as stream:
                await exchange(stream)
            await echo.done.wait()
            tasks.cancel_scope.cancel()
    anyio_run(main)


def test_closing_a_unix_stream_with_a_receive_pending(anyio_run):
    # anyio closes the socket, then the waiting receive removes its reader.
    async def main():
        for _ in range(10):
            a, b = socket.socketpair(socket.AF_UNIX)
            outcome = []
            stream = await anyio.abc.UNIXSocketStream.from_socket(a)

            async def receive():
                with pytest.raises(anyio.ClosedResourceError):
                    await stream.receive()
                outcome.append('closed')

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(receive)
                await anyio.wait_all_tasks_blocked()
                await stream.aclose()
            assert outcome == ['closed']
            b.close()
    anyio_run(main)


def test_closing_a_unix_datagram_socket_with_a_receive_pending(anyio_run, tmp_path):
    async def main():
        for n in range(10):
            sock = await anyio.create_unix_datagram_socket(local_path=tmp_path / f'{n}')
            peer = await anyio.create_connected_unix_datagram_socket(tmp_path / f'{n}')
            await peer.send(b'first')
            assert (await sock.receive())[0] == b'first'

            async def receive():
                with pytest.raises(anyio.ClosedResourceError):
                    await sock.receive()

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(receive)
                await anyio.wait_all_tasks_blocked()
                await sock.aclose()
            await peer.aclose()
    anyio_run(main)


def test_udp(anyio_run):
    async def main():
        async with await anyio.create_udp_socket(local_host='127.0.0.1') as server:
            port = server.extra(anyio.abc.SocketAttribute.local_port)
            async with await anyio.create_connected_udp_socket(
                    '127.0.0.1', port, local_host='127.0.0.1') as client:
                for n in range(300):
                    await client.send(b'datagram %d' % n)
                    data, address = await server.receive()
                    assert data == b'datagram %d' % n
                    await server.sendto(data.upper(), *address)
                    assert await client.receive() == b'DATAGRAM %d' % n
    anyio_run(main)


def test_wait_readable_and_notify_closing(anyio_run):
    # The pattern of issue 16: a socket closed while a task waits for it.
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        with a, b:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(anyio.wait_readable, a)
                await anyio.wait_all_tasks_blocked()
                b.send(b'x')
            assert a.recv(10) == b'x'

            async def wait_closed():
                with pytest.raises(anyio.ClosedResourceError):
                    await anyio.wait_readable(a)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(wait_closed)
                await anyio.wait_all_tasks_blocked()
                anyio.notify_closing(a)
                a.close()
            # The fd number is free again; a new socket may take it and be watched.
            c, d = socket.socketpair()
            with c, d:
                d.send(b'y')
                with anyio.fail_after(5):
                    await anyio.wait_readable(c)
    anyio_run(main)


def test_task_groups_and_cancellation(anyio_run):
    async def main():
        with anyio.move_on_after(0.05) as scope:
            await anyio.sleep(10)
        assert scope.cancelled_caught
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.02):
                await anyio.sleep(10)

        # One child fails: the others are cancelled, the failure comes out.
        cancelled = []

        async def sleeper():
            try:
                await anyio.sleep(10)
            except anyio.get_cancelled_exc_class():
                cancelled.append(1)
                raise

        async def failing():
            await anyio.sleep(0.01)
            raise ValueError('child failed')

        with pytest.raises(ExceptionGroup) as caught:
            async with anyio.create_task_group() as tasks:
                for _ in range(100):
                    tasks.start_soon(sleeper)
                tasks.start_soon(failing)
        assert [type(exc) for exc in caught.value.exceptions] == [ValueError]
        assert len(cancelled) == 100

        # A shielded scope finishes its work inside a cancelled one.
        finished = []
        with anyio.CancelScope() as outer:
            outer.cancel()
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)
                finished.append('shielded')
            await anyio.sleep(10)
        assert finished == ['shielded']

        # Timers fire in the order of their deadlines.
        order = []
        start = anyio.current_time()

        async def after(delay):
            await anyio.sleep_until(start + delay)
            order.append(delay)

        async with anyio.create_task_group() as tasks:
            for delay in [0.009, 0.001, 0.005, 0.002, 0.008, 0.003]:
                tasks.start_soon(after, delay)
        assert order == sorted(order)
    anyio_run(main)


def test_subprocesses(anyio_run):
    async def main():
        result = await anyio.run_process(
            ['sh', '-c', 'echo out; echo err >&2; exit 3'], check=False)
        assert (result.returncode, result.stdout, result.stderr) == (3, b'out\n', b'err\n')
        with pytest.raises(subprocess.CalledProcessError):
            await anyio.run_process(['false'])
        results = []

        async def run(n):
            results.append((await anyio.run_process(['echo', str(n)])).stdout)

        async with anyio.create_task_group() as tasks:
            for n in range(30):
                tasks.start_soon(run, n)
        assert sorted(results) == sorted(b'%d\n' % n for n in range(30))

        # Stream a few MiB through `cat` while reading it back.
        payload = os.urandom(3 * 1024 * 1024)
        async with await anyio.open_process(['cat']) as process:
            received = bytearray()

            async def read_all():
                async for chunk in process.stdout:
                    received.extend(chunk)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read_all)
                await process.stdin.send(payload)
                await process.stdin.aclose()
            assert await process.wait() == 0
        assert received == payload
    anyio_run(main)


def test_threads(anyio_run):
    async def main():
        def work(n):
            # Back on the loop from the worker thread.
            anyio.from_thread.run(anyio.sleep, 0.001)
            return anyio.from_thread.run_sync(lambda: n * 2)

        results = []

        async def call(n):
            results.append(await anyio.to_thread.run_sync(work, n))

        async with anyio.create_task_group() as tasks:
            for n in range(50):
                tasks.start_soon(call, n)
        assert sorted(results) == [n * 2 for n in range(50)]
    anyio_run(main)
