"""Real frameworks from PyPI (aiohttp, uvicorn + starlette + httpx, websockets,
anyio) running apps on our loop, and on asyncio's for reference.

`make test-frameworks` runs this directory with the release build and the framework
versions pinned in the Makefile. Each test gets its loop from `loop_factory`, which
records every call of the loop's exception handler; a test fails if there was one, or
if anything was logged at ERROR (a framework's "Unhandled exception", a failed
callback), or if its code did not run on the kind of loop it asked for."""

import asyncio
import logging

import pytest

import tlsutil
import uvloop

LOOP_FACTORIES = {
    'uvloop': uvloop.new_event_loop,
    'asyncio': asyncio.new_event_loop,
}


def pytest_configure(config):
    # A framework that depends on upstream uvloop could have replaced ours in the venv.
    counters = getattr(uvloop.loop, '_debug_counters', None)
    if counters is None:
        raise pytest.UsageError(f'{uvloop.__file__} is not this project\'s uvloop')
    if counters() is not None:
        raise pytest.UsageError('the frameworks run on the release build (UVLOOP_DEBUG=0)')


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def loop_kind(request):
    return request.param


@pytest.fixture
def loop_factory(loop_kind, caplog):
    """A factory of `loop_kind` loops whose exception handler calls fail the test."""
    handler_calls = []

    def new_loop():
        loop = LOOP_FACTORIES[loop_kind]()
        loop.set_exception_handler(lambda loop, context: handler_calls.append(context))
        return loop

    yield new_loop
    assert handler_calls == []
    errors = [record.getMessage() for record in caplog.get_records('call')
              if record.levelno >= logging.ERROR]
    assert errors == []


@pytest.fixture
def run(loop_kind, loop_factory):
    """run(main, *args): await main(*args) in a new loop of `loop_kind`, at most
    `timeout` seconds, and return its result."""
    def run(main, *args, timeout=60):
        async def checked():
            running = asyncio.get_running_loop()
            assert isinstance(running, uvloop.Loop) == (loop_kind == 'uvloop')
            async with asyncio.timeout(timeout):
                return await main(*args)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(checked())
    return run


@pytest.fixture(scope='session')
def server_ssl():
    return tlsutil.server_context()


@pytest.fixture(scope='session')
def client_ssl():
    return tlsutil.client_context()
