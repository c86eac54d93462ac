"""Helpers for the subprocess and spawn-path tests: running a program and reading what
it did, the children of this process, and every test-only hook of our loop's spawn.

The hooks (uvloop.loop._force_locked_spawn and the others) are called from here only,
so that moving them inside the package changes this file alone."""

import asyncio
import contextlib
import os

import pytest

from uvloop import loop as uvloop_ext

NO_STDIO = dict(stdin=None, stdout=None, stderr=None)

# The environment switch that sends every spawn of a process to the locked path.
LOCKED_SPAWN_ENV = 'UVLOOP_SPAWN_LOCKED'


# ----- running a program ---------------------------------------------------------------


async def exec_wait(*args, **kwargs):
    """Run a program (stdio inherited unless given); its exit status."""
    for name, value in NO_STDIO.items():
        kwargs.setdefault(name, value)
    proc = await asyncio.create_subprocess_exec(*args, **kwargs)
    return await proc.wait()


async def exec_output(tmp_path, *args, **kwargs):
    """Run a program with stdout to a file; (returncode, what it wrote)."""
    out = tmp_path / 'out'
    with open(out, 'wb') as f:
        rc = await exec_wait(*args, stdout=f, **kwargs)
    return rc, out.read_bytes()


def sigign_mask(out):
    """The SigIgn mask in `out`, what `grep SigIgn /proc/self/status` printed."""
    for line in out.decode().splitlines():
        if line.startswith('SigIgn:'):
            return int(line.split()[1], 16)
    raise AssertionError(out)


# ----- the children of this process -------------------------------------------------------


def our_children():
    """(pid, state letter, program name) of each child of this process."""
    me = str(os.getpid())
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        fields = stat.rsplit(')', 1)[1].split()
        if fields[1] == me:
            yield int(name), fields[0], comm


def zombie_children():
    """pids of our children that exited and were never waited for."""
    return [pid for pid, state, _ in our_children() if state == 'Z']


def running_children(program):
    """pids of our children running `program` (not yet exited)."""
    return [pid for pid, state, comm in our_children()
            if comm == program and state != 'Z']


# ----- our loop's spawn paths (test-only hooks) -------------------------------------------

# For tests that need the fast spawn. A build without it (UVLOOP_PORTABLE_SPAWN=1, `make
# test-portable`; a ThreadSanitizer build, `make test-tsan`) sends every spawn to the
# locked path: conftest.py skips these there, saying why (spawn_capabilities()).
needs_fast_spawn = pytest.mark.needs_fast_spawn


def spawn_capabilities():
    """Which spawn path this process gets and why: uvloop.loop._spawn_capabilities()
    (fast_spawn_compiled, pidfd, vfork_shares_memory, path, reason)."""
    return uvloop_ext._spawn_capabilities()


@contextlib.contextmanager
def spawn_path(path):
    """'locked': every spawn of our loop takes the locked path (uv_spawn under the spawn
    lock); 'fast': spawns take the fast path when they can (the default, unless
    UVLOOP_SPAWN_LOCKED=1 forces the locked path for the whole run)."""
    if path == 'fast':
        yield
        return
    assert path == 'locked', path
    previous = uvloop_ext._force_locked_spawn(True)
    try:
        yield
    finally:
        uvloop_ext._force_locked_spawn(previous)


def environ_with_spawn_path(path):
    """os.environ for a child Python whose uvloop spawns by `path` ('fast', 'locked')."""
    return dict(os.environ, **{LOCKED_SPAWN_ENV: '1' if path == 'locked' else '0'})


# The class of the process handle behind a subprocess transport of our loop, by path.
_PROCESS_CLASS_PATHS = {'PidfdProcess': 'fast', 'UVProcess': 'locked'}


def spawn_path_taken(loop, *args, **kwargs):
    """Spawn a child on our `loop` and wait for it; the path it took ('fast', 'locked')."""
    async def main():
        transport, protocol = await loop.subprocess_exec(
            asyncio.SubprocessProtocol, *args, **NO_STDIO, **kwargs)
        kind = type(transport._uvprocess).__name__
        await transport._wait()
        transport.close()
        return kind

    kind = loop.run_until_complete(asyncio.wait_for(main(), 10))
    return _PROCESS_CLASS_PATHS[kind]


@contextlib.contextmanager
def spawning_with_fork():
    """Locked spawns make the child with fork() instead of vfork() (the child set-up
    then runs from the at-fork child handler)."""
    previous = uvloop_ext._spawn_with_fork(True)
    try:
        yield
    finally:
        uvloop_ext._spawn_with_fork(previous)


@contextlib.contextmanager
def fast_spawn_support_set_to(value):
    """The fast spawn's support flag set to `value` (1 yes, -1 no, 0 not probed yet)."""
    previous = uvloop_ext._fast_spawn_support(value)
    try:
        yield
    finally:
        uvloop_ext._fast_spawn_support(previous)


def fast_spawn_support():
    """1 if the fast spawn works here, -1 if not, 0 if not probed yet."""
    return uvloop_ext._fast_spawn_support()


def vfork_shares_memory():
    """1 if a vfork() child shares this process's memory (the probe's answer)."""
    return uvloop_ext._vfork_shares_memory()


def fail_next_spawn():
    """Make the next uv_spawn() (in any thread) fail with UV_EINVAL, through libuv's
    own error path."""
    uvloop_ext._fail_next_spawn()


def fork_calls():
    """How many times libuv has called fork() (routed to uvloop_fork) so far."""
    return uvloop_ext._fork_calls()


def spawn_state():
    """(a thread is forking, the spawn lock is held) as seen right now."""
    return uvloop_ext._spawn_state()


def assert_spawn_state_reset():
    if hasattr(uvloop_ext, '_spawn_state'):
        assert spawn_state() == (False, False)
