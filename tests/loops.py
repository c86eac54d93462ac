"""The loops every behavioural test runs on, and the debug build's live counters.

Loop kinds: 'uvloop' and 'asyncio'; the subprocess tests add 'uvloop-locked', our loop
with every spawn forced through the locked path (spawnutil.spawn_path). The debug
counters are read here only, so that the test-only hook behind them has one user."""

import asyncio
import contextlib
import functools
import gc

import pytest

import uvloop

from spawnutil import spawn_path

LOOP_FACTORIES = {
    'uvloop': uvloop.new_event_loop,
    'asyncio': asyncio.new_event_loop,
}

# For test modules about subprocesses: override `loop_kind` with these.
SPAWN_LOOP_KINDS = ['asyncio', 'uvloop', 'uvloop-locked']


@contextlib.contextmanager
def loop_factory(loop_kind):
    """The factory of `loop_kind`'s loops; its spawn path ('uvloop-locked') holds
    until the block ends."""
    kind, _, variant = loop_kind.partition('-')
    with spawn_path(variant or 'fast'):
        yield LOOP_FACTORIES[kind]


def is_debug_build():
    """Whether this uvloop keeps the live counters (UVLOOP_DEBUG=1, `make test`)."""
    return uvloop.loop._debug_counters() is not None


def debug_counters():
    """The debug build's live counters after a full collection, or None."""
    gc.collect()
    return uvloop.loop._debug_counters()


def debug_counters_or_skip():
    """For tests of the counters themselves: skip on a release build (the installed
    wheel CI tests); `make test` needs the debug build (UVLOOP_REQUIRE_DEBUG), so
    there they run."""
    counters = debug_counters()
    if counters is None:
        pytest.skip('needs the debug build (make test builds it)')
    return counters


LIVE_COUNTERS = ('handles_live', 'requests_live', 'timers_scheduled',
                 'callback_handles_live')


def assert_no_leaks(before):
    """Assert that the live counters are back where `before` recorded them."""
    if before is None:
        return
    after = debug_counters()
    for name in LIVE_COUNTERS:
        assert after[name] == before[name], (
            f'{name}: {before[name]} before, {after[name]} after')


def run_until(loop, condition, timeout=5.0):
    """Run `loop` until condition() holds, polling it from a task; fail after
    `timeout` seconds."""
    async def wait():
        deadline = loop.time() + timeout
        while not condition():
            assert loop.time() < deadline, 'condition never held'
            await asyncio.sleep(0.002)
    loop.run_until_complete(wait())


def run(loop, coro, timeout=30.0):
    """Run `coro` to completion on `loop`; fail after `timeout` seconds instead of
    hanging."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def keep_busy(loop, python_callbacks=True):
    """Keep `loop` running callbacks, each scheduling the next one; with
    python_callbacks=False they run no bytecode at all (a partial that calls
    loop.call_soon(itself))."""
    if python_callbacks:
        def tick():
            loop.call_soon(tick)
        loop.call_soon(tick)
    else:
        again = functools.partial(loop.call_soon)
        again.__setstate__((loop.call_soon, (again,), None, None))
        loop.call_soon(again)
