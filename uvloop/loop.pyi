# Typing stubs for the extension module uvloop.loop.
import asyncio
import enum
import os
from typing import Any, Callable

class Loop(asyncio.AbstractEventLoop):
    """The event loop implementation (uvloop.Loop adds asyncio.AbstractEventLoop as a
    base at run time; for type checkers it is one already)."""
    slow_callback_duration: float

    def _monitor_fs(self, path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
                    callback: Callable[[bytes, FileSystemEvent], object]) -> UVFSEvent:
        """Watch a file or directory: callback(filename, flags) on each change,
        until cancel() on the returned handle."""

class FileSystemEvent(enum.IntEnum):
    RENAME = 1
    CHANGE = 2
    RENAME_CHANGE = 3

class UVFSEvent:
    """A watch made by Loop._monitor_fs()."""
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...

def libuv_get_loop_t_ptr(loop: Loop) -> Any:
    """A PyCapsule holding the loop's uv_loop_t* (for C libraries); unnamed, as
    upstream's."""

def libuv_get_version() -> int:
    """libuv's version as uv_version() returns it: (major << 16) | (minor << 8) | patch."""

def libuv_version_string() -> str:
    """libuv's version as 'major.minor.patch'."""
