"""Shared fixtures: every behavioural test runs on our loop and on asyncio's loop.

`loop` is parametrized over both, so a test that passes on both proves "same as
asyncio". With the debug build (`make test`), each test on our loop also checks that
no libuv handle, timer or callback handle outlived the loop.

Subprocess tests run our loop twice (loops.SPAWN_LOOP_KINDS): 'uvloop' spawns the fast
way whenever it can, 'uvloop-locked' forces every spawn through the locked path; both
must behave as asyncio's loop does.

Only fixtures and hooks live here; what tests share otherwise is in the helper modules
(loops.py, netutil.py, spawnutil.py), which test modules import.
"""

import os
import socket
import sys
import sysconfig

import pytest

import uvloop

from loops import LOOP_FACTORIES, assert_no_leaks, debug_counters, is_debug_build, \
    loop_factory
from spawnutil import spawn_capabilities, spawn_path

# Real frameworks from PyPI on the release build: `make test-frameworks` runs them.
collect_ignore = ['frameworks']


def pytest_configure(config):
    if os.environ.get('UVLOOP_REQUIRE_DEBUG') and not is_debug_build():
        raise pytest.UsageError(
            'this run needs the debug build of uvloop (UVLOOP_DEBUG=1): `make test`')
    if sysconfig.get_config_var('Py_GIL_DISABLED') and sys._is_gil_enabled():
        raise pytest.UsageError(
            'free-threaded CPython, but the GIL is on: importing uvloop (or another '
            'extension) re-enabled it')
    if os.environ.get('UVLOOP_REQUIRE_PORTABLE_SPAWN') and \
            spawn_capabilities()['fast_spawn_compiled']:
        raise pytest.UsageError(
            'this run needs the portable build of uvloop (UVLOOP_PORTABLE_SPAWN=1): '
            '`make test-portable`')


def pytest_collection_modifyitems(config, items):
    # A build without the fast spawn runs every spawn on the locked path: the tests of
    # the fast one are skipped there, and say so.
    capabilities = spawn_capabilities()
    if capabilities['fast_spawn_compiled']:
        return
    skip = pytest.mark.skip(reason=f"needs the fast spawn: {capabilities['reason']}")
    for item in items:
        if item.get_closest_marker('needs_fast_spawn'):
            item.add_marker(skip)


def close_loop(loop):
    if not loop.is_closed():
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    # pytest still holds the loop while fixtures are torn down: drop the hooks a test
    # installed, so what they captured (handles in exception contexts) can be freed.
    loop.set_exception_handler(None)
    loop.set_task_factory(None)


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def loop_kind(request):
    return request.param


@pytest.fixture
def loop(loop_kind):
    """A new loop of each kind; closed after the test, then checked for leaks."""
    before = debug_counters() if loop_kind.startswith('uvloop') else None
    with loop_factory(loop_kind) as factory:
        new_loop = factory()
        yield new_loop
        close_loop(new_loop)
    del new_loop
    assert_no_leaks(before)


@pytest.fixture
def socket_pair():
    """A connected pair of non-blocking stream sockets, closed after the test."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture(params=['fast', 'locked'])
def spawn_path_kind(request):
    """For tests of our loop only: run them with each spawn path."""
    with spawn_path(request.param):
        yield request.param


@pytest.fixture
def uvloop_loop():
    """Our loop only: for uvloop's own API and guarantees asyncio does not make."""
    before = debug_counters()
    new_loop = uvloop.new_event_loop()
    yield new_loop
    close_loop(new_loop)
    del new_loop
    assert_no_leaks(before)
