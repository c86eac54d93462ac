"""Run anyio's, aiohttp's and uvicorn's own test suites (from their sdists, at the
versions this venv has) on our loop, as `make test-frameworks` does after
tests/frameworks/.

anyio's suite runs every async test on ('asyncio', loop_factory=uvloop.new_event_loop)
among its backends; only those ids ('asyncio+uvloop') are run here. aiohttp's runs its
functional tests (web and client, sendfile, websockets) with --aiohttp-loop=uvloop. Both
have blockbuster active (their conftests), so a blocking call of ours fails them.
uvicorn's runs on asyncio's default loop, made ours by the event loop policy
(uvloop_policy.py).

Deselected, each with its reason below: the tests that fail on upstream uvloop as well
for being about asyncio's own loop (one asserts that the policy's loop is asyncio's),
and, on a machine whose `localhost` has no IPv6 address, the anyio tests that bind
`localhost` over IPv6 (they fail on every loop)."""

import os
import socket
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / '.cache' / 'frameworks'

AIOHTTP_FILES = ['tests/test_web_functional.py', 'tests/test_client_functional.py',
                 'tests/test_web_sendfile_functional.py',
                 'tests/test_client_ws_functional.py',
                 'tests/test_web_websocket_functional.py']

ANYIO_DESELECT = {
    'tests/test_to_thread.py::TestBlockingPortalProvider::test_single_thread[asyncio+uvloop]':
        'counts the threads of the whole process: a thread an earlier test left ending '
        'during it fails it (seen on asyncio\'s loop too)',
}

# Each fails on upstream uvloop 0.23.0 too.
AIOHTTP_DESELECT = {
    'tests/test_web_functional.py::test_keepalive_expires_on_time[uvloop]':
        'patches the loop object\'s time(), which a libuv loop\'s timers never call',
    'tests/test_client_ws_functional.py::test_heartbeat_connection_closed[uvloop]':
        'patches write() on the transport object, read-only on a compiled type',
    'tests/test_web_websocket_functional.py::test_heartbeat_connection_closed[uvloop]':
        'patches write() on the transport object, read-only on a compiled type',
    'tests/test_client_ws_functional.py::test_concurrent_close_multiple_tasks[uvloop]':
        'races the server\'s reply against a close() task: on libuv loops (ours and '
        'upstream) the reply wins',
}

UVICORN_DESELECT = {
    # Fails on upstream uvloop too.
    'tests/protocols/test_websocket.py::test_server_keepalive_ping_timeout':
        'patches write() on the transport object, read-only on a compiled type',
    'tests/test_compat.py::test_asyncio_run__default_loop_factory':
        'asserts that the policy\'s loop is asyncio\'s own: here it is ours, by design',
}


def sdist(name):
    """The unpacked sdist of the installed version of `name` (downloaded once)."""
    release = f'{name}-{version(name)}'
    tree = CACHE / release
    if not tree.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                        '--no-binary', ':all:', '--dest', str(CACHE), f'{name}=={version(name)}'],
                       check=True)
        with tarfile.open(CACHE / f'{release}.tar.gz') as archive:
            archive.extractall(CACHE, filter='data')
    return tree


def localhost_has_ipv6():
    try:
        socket.getaddrinfo('localhost', 0, socket.AF_INET6)
    except socket.gaierror:
        return False
    return True


def pytest(tree, args, env=None):
    # The `pytest` script, not `python -m pytest`, so that the sdist's own package
    # directory (aiohttp's has no compiled parts) never shadows the installed one.
    command = [str(Path(sys.executable).with_name('pytest')), '-q', '-p', 'no:cacheprovider',
               *args]
    print(f'--- {tree.name}: {" ".join(command[1:])}', flush=True)
    return subprocess.run(command, cwd=tree, env=env).returncode


def deselect(reasons):
    """pytest's arguments that deselect the tests in `reasons` (node ids, or prefixes
    of them for every parameter), each said why."""
    args = []
    for test_id, reason in reasons.items():
        print(f'deselected {test_id}: {reason}')
        args += ['--deselect', test_id]
    return args


def main():
    anyio_select = 'uvloop'
    if not localhost_has_ipv6():
        print('localhost has no IPv6 address here: anyio\'s TCP tests over IPv6 are left out')
        anyio_select += ' and not (TestTCPStream and (ipv6 or dualstack or multi))'
    anyio_args = ['-m', 'not network', '-k', anyio_select, *deselect(ANYIO_DESELECT)]
    failed = pytest(sdist('anyio'), anyio_args)
    aiohttp_args = ['-o', 'addopts=', '-m', 'not dev_mode and not autobahn and not internal',
                    '--aiohttp-loop=uvloop', *AIOHTTP_FILES, *deselect(AIOHTTP_DESELECT)]
    failed |= pytest(sdist('aiohttp'), aiohttp_args)
    uvicorn_args = ['-o', 'addopts=-rfE', '-p', 'uvloop_policy', '--ignore=tests/benchmarks',
                    *deselect(UVICORN_DESELECT)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    failed |= pytest(sdist('uvicorn'), uvicorn_args, env)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
