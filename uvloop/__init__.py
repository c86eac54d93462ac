"""uvloop: a fast asyncio event loop over libuv, safe to spawn from many threads."""

import asyncio as _asyncio
import sys as _sys
import warnings as _warnings

from . import loop as _loop
from ._version import __version__

__all__ = ('new_event_loop', 'install', 'run', 'EventLoopPolicy', 'Loop')


class Loop(_loop.Loop, _asyncio.AbstractEventLoop):
    """The event loop: asyncio.AbstractEventLoop implemented over libuv."""


def new_event_loop() -> Loop:
    """Return a new event loop."""
    return Loop()


def install() -> None:
    """Make uvloop the default event loop through the event loop policy.

    Deprecated on Python 3.12 and newer, like asyncio's own policy functions:
    prefer ``uvloop.run()``.
    """
    if _sys.version_info >= (3, 12):
        _warnings.warn(
            'uvloop.install() is deprecated in favor of uvloop.run() '
            'starting with Python 3.12.',
            DeprecationWarning, stacklevel=1)
    _asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, loop_factory=None, debug=None, **run_kwargs):
    """Run the coroutine ``main`` in a new uvloop loop and return its result.

    Like ``asyncio.run()``: the loop is created for this call, async generators
    and the default executor are shut down, and the loop is closed at the end.
    A ``loop_factory`` must make uvloop loops (TypeError otherwise, as upstream).
    """
    if loop_factory is None:
        loop_factory = new_event_loop

    def uvloop_factory():
        loop = loop_factory()
        if not isinstance(loop, _loop.Loop):
            if isinstance(loop, _asyncio.AbstractEventLoop):
                loop.close()
            if _asyncio.iscoroutine(main):
                main.close()        # never to run: no "never awaited" warning
            raise TypeError('uvloop.run() uses a non-uvloop event loop')
        return loop

    with _asyncio.Runner(loop_factory=uvloop_factory, debug=debug) as runner:
        return runner.run(main, **run_kwargs)


def _base_policy():
    # Renamed with a leading underscore in Python 3.14.
    return getattr(_asyncio.events, 'BaseDefaultEventLoopPolicy', None) or \
        getattr(_asyncio.events, '_BaseDefaultEventLoopPolicy')


class EventLoopPolicy(_base_policy()):
    """An event loop policy whose loops are uvloop loops.

    >>> import asyncio, uvloop
    >>> asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    """

    def _loop_factory(self):
        return new_event_loop()

    def __repr__(self):
        return f'<{type(self).__module__}.{type(self).__name__}>'
