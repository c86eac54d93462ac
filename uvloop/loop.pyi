# Typing stubs for the extension module uvloop.loop.
import asyncio
from typing import Any

class Loop(asyncio.AbstractEventLoop):
    """The event loop implementation (uvloop.Loop adds asyncio.AbstractEventLoop as a
    base at run time; for type checkers it is one already)."""
    slow_callback_duration: float

def libuv_get_loop_t_ptr(loop: Loop) -> Any:
    """A PyCapsule holding the loop's uv_loop_t* (for C libraries)."""

def libuv_get_version() -> int:
    """libuv's version as uv_version() returns it: (major << 16) | (minor << 8) | patch."""

def libuv_version_string() -> str:
    """libuv's version as 'major.minor.patch'."""
