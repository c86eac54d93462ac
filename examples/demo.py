"""uvloop demo: many threads, each running its own event loop, spawning processes.

This is the case upstream uvloop fails (its issue #508: "Racing with another loop to
spawn a process"). Each thread runs its own loop (asyncio.Runner with a loop factory,
as asyncio.run does) and spawns processes of `true` one after another, with
sys.setswitchinterval(1e-6) to force thread switches in the middle of spawns. The same
run is made on uvloop and on asyncio's default loop, side by side.

    python examples/demo.py [--threads N] [--spawns M]      (or: make demo)
"""

import argparse
import asyncio
import platform
import sys
import threading
import time

import uvloop

LOOPS = {
    'uvloop': uvloop.new_event_loop,
    'asyncio': asyncio.new_event_loop,
}


# ----- spawning from many threads ------------------------------------------------------


async def spawn_processes(count):
    """Spawn `true` `count` times, one after another; (successes, failures, error)."""
    ok = failed = 0
    first_error = None
    for _ in range(count):
        try:
            proc = await asyncio.create_subprocess_exec(
                'true', stdin=None, stdout=None, stderr=None)
            if await proc.wait() == 0:
                ok += 1
            else:
                failed += 1
        except Exception as exc:
            failed += 1
            first_error = first_error or f'{type(exc).__name__}: {exc}'
    return ok, failed, first_error


def spawn_from_threads(loop_factory, threads, spawns):
    """Per-thread (successes, failures, spawns/s, first error), and the total rate."""
    results = [None] * threads

    def worker(i):
        start = time.perf_counter()
        try:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                ok, failed, error = runner.run(spawn_processes(spawns))
        except Exception as exc:
            ok, failed, error = 0, spawns, f'{type(exc).__name__}: {exc}'
        results[i] = (ok, failed, ok / (time.perf_counter() - start), error)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    start = time.perf_counter()
    try:
        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        sys.setswitchinterval(old_interval)
    total_ok = sum(r[0] for r in results)
    return results, total_ok / (time.perf_counter() - start)


def spawn_demo(threads, spawns):
    print(f'Spawning: {threads} threads, each with its own loop, each spawning '
          f'{spawns} processes of `true` (sys.setswitchinterval(1e-6))\n')
    runs = {name: spawn_from_threads(factory, threads, spawns)
            for name, factory in LOOPS.items()}
    header = f'{"thread":>6}'
    for name in LOOPS:
        header += f' | {name + " ok/failed":>18} {"spawns/s":>9}'
    print(header)
    print('-' * len(header))
    for i in range(threads):
        line = f'{i:>6}'
        for name in LOOPS:
            ok, failed, rate, _ = runs[name][0][i]
            line += f' | {f"{ok}/{failed}":>18} {rate:>9.0f}'
        print(line)
    print('-' * len(header))
    line = f'{"all":>6}'
    for name in LOOPS:
        results, rate = runs[name]
        ok = sum(r[0] for r in results)
        failed = sum(r[1] for r in results)
        line += f' | {f"{ok}/{failed}":>18} {rate:>9.0f}'
    print(line)
    for name in LOOPS:
        errors = [r[3] for r in runs[name][0] if r[3]]
        if errors:
            print(f'\n{name}: {len(errors)} threads had failures, first: {errors[0]}')


# ----- a short TCP echo server on each loop ------------------------------------------------


async def echo_round_trips(messages, size):
    """Serve echo on 127.0.0.1 and make `messages` round trips of `size` bytes;
    return round trips per second."""
    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    payload = b'x' * size
    start = time.perf_counter()
    for _ in range(messages):
        writer.write(payload)
        await reader.readexactly(size)
    elapsed = time.perf_counter() - start
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return messages / elapsed


def echo_server_demo(messages=5000, size=100):
    print(f'\nTCP echo: {messages} round trips of {size} bytes on 127.0.0.1\n')
    for name, factory in LOOPS.items():
        with asyncio.Runner(loop_factory=factory) as runner:
            rate = runner.run(echo_round_trips(messages, size))
        print(f'{name:>8}: {rate:8.0f} round trips/s')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=10)
    parser.add_argument('--spawns', type=int, default=100,
                        help='processes spawned by each thread')
    args = parser.parse_args()
    print(f'uvloop {uvloop.__version__} (libuv {uvloop.loop.libuv_version_string()}), '
          f'Python {platform.python_version()}\n')
    spawn_demo(args.threads, args.spawns)
    echo_server_demo()


if __name__ == '__main__':
    main()
