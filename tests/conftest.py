"""Shared fixtures: every behavioural test runs on our loop and on asyncio's loop.

`loop` is parametrized over both, so a test that passes on both proves "same as
asyncio". With the debug build (`make test`), each test on our loop also checks that
no libuv handle, timer or callback handle outlived the loop.

Subprocess tests run our loop twice (SPAWN_LOOP_KINDS): 'uvloop' spawns the fast way
whenever it can, 'uvloop-locked' forces every spawn through the locked path
(handles/process.pyx); both must behave as asyncio's loop does.
"""

import asyncio
import contextlib
import gc
import os
import sys
import sysconfig

import pytest

import uvloop

LOOP_FACTORIES = {
    'uvloop': uvloop.new_event_loop,
    'asyncio': asyncio.new_event_loop,
}

# For test modules about subprocesses: override `loop_kind` with these.
SPAWN_LOOP_KINDS = ['asyncio', 'uvloop', 'uvloop-locked']


@contextlib.contextmanager
def spawn_path(path):
    """'locked': every spawn of our loop takes the locked path (uv_spawn under the spawn
    lock); 'fast': spawns take the fast path when they can (the default, unless
    UVLOOP_SPAWN_LOCKED=1 forces the locked path for the whole run)."""
    if path == 'fast':
        yield
        return
    assert path == 'locked', path
    previous = uvloop.loop._force_locked_spawn(True)
    try:
        yield
    finally:
        uvloop.loop._force_locked_spawn(previous)


def pytest_configure(config):
    if os.environ.get('UVLOOP_REQUIRE_DEBUG') and uvloop.loop._debug_counters() is None:
        raise pytest.UsageError(
            'this run needs the debug build of uvloop (UVLOOP_DEBUG=1): `make test`')
    if sysconfig.get_config_var('Py_GIL_DISABLED') and sys._is_gil_enabled():
        raise pytest.UsageError(
            'free-threaded CPython, but the GIL is on: importing uvloop (or another '
            'extension) re-enabled it')


def debug_counters():
    """The debug build's live counters after a full collection, or None."""
    gc.collect()
    return uvloop.loop._debug_counters()


def debug_counters_or_skip():
    """For tests of the counters themselves: skip on a release build (the wheel CI
    tests); `make test` needs the debug build (UVLOOP_REQUIRE_DEBUG), so there they run."""
    counters = debug_counters()
    if counters is None:
        pytest.skip('needs the debug build (make test builds it)')
    return counters


def assert_no_leaks(before):
    """Assert that the live counters are back where `before` recorded them."""
    if before is None:
        return
    after = debug_counters()
    for name in ('handles_live', 'requests_live', 'timers_scheduled',
                 'callback_handles_live'):
        assert after[name] == before[name], (
            f'{name}: {before[name]} before, {after[name]} after')


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
    kind, _, variant = loop_kind.partition('-')
    before = debug_counters() if kind == 'uvloop' else None
    with spawn_path(variant or 'fast'):
        new_loop = LOOP_FACTORIES[kind]()
        yield new_loop
        close_loop(new_loop)
    del new_loop
    assert_no_leaks(before)


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
