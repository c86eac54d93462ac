"""`python -m uvloop`: what this install is, and whether it works on this machine.

`python -m uvloop --version` prints one line. Without arguments: the versions, the Python
build, which spawn path this machine gets and why, then a short self-check (a loop, a TCP
echo, spawns from 4 threads with a loop each); the exit status is 1 if a check failed.
"""

import asyncio
import os
import platform
import sys
import sysconfig
import threading
import time

from . import __version__, run
from . import loop as _ext

SPAWN_THREADS = 4
SPAWNS_PER_THREAD = 3
TIMEOUT = 30.0


class CheckFailed(Exception):
    pass


def expect(condition, message):
    # Not `assert`: the checks must still check under `python -O`.
    if not condition:
        raise CheckFailed(message)


def version_line():
    return f'uvloop {__version__} (libuv {_ext.libuv_version_string()})'


def python_build():
    name = f'{platform.python_implementation()} {platform.python_version()}'
    if not sysconfig.get_config_var('Py_GIL_DISABLED'):
        return f'{name}, with the GIL'
    gil = 'on: an extension re-enabled it' if sys._is_gil_enabled() else 'off'
    return f'{name}, free-threaded build, GIL {gil}'


def describe_spawn_path(path):
    return ('fast (vfork() by the loop, no lock, exit seen through a pidfd)'
            if path == 'fast' else "locked (libuv's uv_spawn() under the spawn lock)")


async def check_loop():
    loop = asyncio.get_running_loop()
    expect(isinstance(loop, _ext.Loop), f'the running loop is a {type(loop)}')
    calls = []
    future = loop.create_future()
    loop.call_later(0.01, future.set_result, 'timer')
    loop.call_soon(calls.append, 'callback')
    calls.append(await asyncio.wait_for(future, TIMEOUT))
    expect(calls == ['callback', 'timer'], f'ran in this order: {calls}')
    return 'in order'


async def check_tcp_echo():
    async def echo(reader, writer):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, '127.0.0.1', 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        payload = os.urandom(32 * 1024)
        writer.write(payload)
        writer.write_eof()
        received = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        await writer.wait_closed()
    expect(received == payload, f'{len(received)} of {len(payload)} bytes came back')
    return f'{len(payload)} bytes through 127.0.0.1:{port}'


async def spawn_echo(token):
    process = await asyncio.create_subprocess_exec(
        sys.executable, '-c', 'import sys; sys.stdout.write(sys.argv[1])', token,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
    expect(process.returncode == 0, f'exit status {process.returncode}')
    expect(out.decode() == token, f'the child wrote {out!r}, not {token!r}')


def check_spawn_from_threads():
    errors = []

    def worker(index):
        async def spawns():
            await asyncio.gather(*[spawn_echo(f'thread {index} child {n}')
                                   for n in range(SPAWNS_PER_THREAD)])
        try:
            run(spawns())
        except BaseException as exc:
            errors.append(f'thread {index}: {exc!r}')

    threads = [threading.Thread(target=worker, args=(index,), daemon=True)
               for index in range(SPAWN_THREADS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    expect(not stuck, f'{stuck} thread(s) still spawning after {TIMEOUT:.0f} s')
    expect(not errors, '; '.join(errors))
    return f'{SPAWN_THREADS} threads, {SPAWNS_PER_THREAD} children each, every output intact'


def check_spawn_path():
    # The path the loop chose (by probing, at its first spawn) against the facts the
    # extension reports.
    spawn = _ext._spawn_capabilities()
    if _ext._force_locked_spawn():
        expect(spawn['path'] == 'locked', 'the fast spawn was taken although forced off')
        return 'locked, as forced'
    facts_say_fast = bool(spawn['fast_spawn_compiled'] and spawn['pidfd']
                          and spawn['vfork_shares_memory'])
    expect((spawn['path'] == 'fast') == facts_say_fast,
           f'the loop chose the {spawn["path"]} path, but: {spawn["reason"]}')
    return f'the loop chose the {spawn["path"]} path, as expected'


SELF_CHECKS = [
    ('a loop runs callbacks, a timer and a future', lambda: run(check_loop())),
    ('TCP echo', lambda: run(check_tcp_echo())),
    ('spawn from threads, one loop each', check_spawn_from_threads),
    # After the spawns above: the loop has probed the fast spawn by now.
    ('spawn path', check_spawn_path),
]


def self_check(out):
    failed = 0
    for title, check in SELF_CHECKS:
        started = time.monotonic()
        try:
            detail = check()
        except Exception as exc:
            failed += 1
            print(f'  FAILED {title}: {type(exc).__name__}: {exc}', file=out)
        else:
            took = time.monotonic() - started
            print(f'  ok     {title}: {detail} ({took:.2f} s)', file=out)
    return failed


def main(argv, out=sys.stdout):
    if argv[1:] == ['--version']:
        print(version_line(), file=out)
        return 0
    if argv[1:]:
        print('usage: python -m uvloop [--version]', file=sys.stderr)
        return 2
    spawn = _ext._spawn_capabilities()
    print(f'{version_line()}, at {os.path.dirname(os.path.abspath(__file__))}', file=out)
    print(f'Python: {python_build()}, {sys.executable}', file=out)
    print(f'spawn path: {describe_spawn_path(spawn["path"])}', file=out)
    print(f'  why: {spawn["reason"]}', file=out)
    print('  (children with preexec_fn, user, group or extra_groups always take the '
          'locked path)', file=out)
    print('self-check:', file=out)
    failed = self_check(out)
    print(f'{failed} check(s) FAILED' if failed else 'all checks passed', file=out)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
