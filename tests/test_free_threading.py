"""Free-threaded CPython: the extension keeps the GIL off, and loops in many threads
run truly in parallel without sharing state."""

import asyncio
import os
import subprocess
import sys
import sysconfig
import threading

import pytest

import uvloop

FREE_THREADED_BUILD = bool(sysconfig.get_config_var('Py_GIL_DISABLED'))


def run_in_threads(count, worker):
    """Run worker(index) in `count` threads at once; raise the first error raised."""
    errors = []

    def guarded(index):
        try:
            worker(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.mark.skipif(not FREE_THREADED_BUILD,
                    reason='only a free-threaded CPython can run without the GIL')
def test_importing_uvloop_keeps_the_gil_disabled():
    # A fresh interpreter: an extension not marked free-threading compatible would
    # re-enable the GIL at import (with a RuntimeWarning).
    code = ('import sys, warnings; warnings.simplefilter("error"); import uvloop; '
            'print(sys._is_gil_enabled())')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON_GIL'}
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True, env=env)
    assert out.stdout.strip() == 'False'


def test_loops_in_8_threads_stop_and_close_while_others_run():
    # Each thread runs its own loop for a different time, then stops and closes it
    # while the other loops are still running callbacks and timers.
    results = {}
    barrier = threading.Barrier(8)

    def worker(index):
        loop = uvloop.new_event_loop()
        counter = [0]

        def tick():
            counter[0] += 1
            loop.call_soon(tick)

        barrier.wait()
        loop.call_soon(tick)
        loop.call_later(0.02 * (index + 1), loop.stop)
        loop.run_forever()
        loop.close()
        results[index] = counter[0]

    run_in_threads(8, worker)
    assert sorted(results) == list(range(8))
    assert all(count > 0 for count in results.values())


def test_threadsafe_calls_between_loops_in_many_threads():
    # 4 loops, each in its own thread, send 10,000 calls to each other loop.
    loops_count, calls = 4, 10_000
    loops = [None] * loops_count
    recorders = [None] * loops_count
    received = [[] for _ in range(loops_count)]
    ready = threading.Barrier(loops_count)

    def worker(index):
        async def main():
            loops[index] = asyncio.get_running_loop()
            done = asyncio.Event()
            expected = (loops_count - 1) * calls

            def record(sender, seq):
                received[index].append((sender, seq))
                if len(received[index]) == expected:
                    done.set()

            recorders[index] = record
            await asyncio.to_thread(ready.wait)
            for seq in range(calls):
                for other in range(loops_count):
                    if other != index:
                        loops[other].call_soon_threadsafe(recorders[other], index, seq)
            await asyncio.wait_for(done.wait(), 60)
            # Keep running until every loop got everything, so no sender hits a
            # closed loop.
            await asyncio.to_thread(finished.wait)

        uvloop.run(main())

    finished = threading.Barrier(loops_count)
    run_in_threads(loops_count, worker)
    for index, got in enumerate(received):
        for sender in range(loops_count):
            if sender != index:
                assert [seq for s, seq in got if s == sender] == list(range(calls))


def test_8_threads_each_with_a_tcp_echo_server_and_client_keep_every_byte():
    payload_size = 1024 * 1024
    results = {}
    start = threading.Barrier(8)

    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def exchange(index):
        server = await asyncio.start_server(echo, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        payload = os.urandom(payload_size)
        await asyncio.to_thread(start.wait)

        async def send():
            for offset in range(0, payload_size, 10_000):
                writer.write(payload[offset:offset + 10_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = await reader.read(-1)
        await sender
        writer.close()
        server.close()
        await server.wait_closed()
        return received == payload

    def worker(index):
        results[index] = uvloop.run(exchange(index))

    run_in_threads(8, worker)
    assert results == {i: True for i in range(8)}
