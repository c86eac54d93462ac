"""Our loop's two spawn paths: which child takes which (the fast one: vfork() and a
pidfd; the locked one: uv_spawn() under the spawn lock), the spawn lock and the forking
state, fork() and how libuv's calls are counted, spawning from many threads at once
(upstream uvloop's issue #508: "Racing with another loop to spawn a process", on
asyncio's loop too), and what many spawns leave behind.

What a child sees, whatever the path, is test_subprocess.py's."""

import asyncio
import gc
import os
import subprocess
import sys
import threading

import pytest

import uvloop

from loops import SPAWN_LOOP_KINDS, assert_no_leaks, debug_counters, loop_factory
from spawnutil import (NO_STDIO, assert_spawn_state_reset, environ_with_spawn_path,
                       exec_output, exec_wait, fail_next_spawn, fast_spawn_support,
                       fast_spawn_support_set_to, fork_calls, needs_fast_spawn,
                       sigign_mask, spawn_capabilities, spawn_path,
                       spawn_path_taken, spawn_state,
                       spawning_with_fork, vfork_shares_memory, zombie_children)

THREAD_TIMEOUT = 60    # a stuck spawn lock fails the test instead of hanging the run


async def spawn_many(programs):
    """Spawn each program in turn; (successes, failures, first unexpected error)."""
    ok = failed = 0
    unexpected = None
    for program in programs:
        try:
            rc = await exec_wait(program)
        except FileNotFoundError:
            failed += 1
        except Exception as exc:
            unexpected = unexpected or exc
        else:
            if rc == 0:
                ok += 1
            else:
                unexpected = unexpected or AssertionError(f'exit status {rc}')
    return ok, failed, unexpected


def run_in_threads(loop_kind, jobs, switch_interval=1e-6):
    """Run each coroutine function of `jobs` in its own thread with its own loop of
    `loop_kind` (asyncio.Runner, as asyncio.run does); return their results in order.
    A tiny switch interval forces thread switches in the middle of spawns; None keeps
    the interpreter's default."""
    with loop_factory(loop_kind) as factory:
        return _run_in_threads(factory, jobs, switch_interval)


def _run_in_threads(factory, jobs, switch_interval):
    results = [None] * len(jobs)

    def worker(i):
        try:
            with asyncio.Runner(loop_factory=factory) as runner:
                results[i] = runner.run(jobs[i]())
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(len(jobs))]
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval or old_interval)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(THREAD_TIMEOUT)
    finally:
        sys.setswitchinterval(old_interval)
    assert not any(t.is_alive() for t in threads), 'a spawning thread is stuck'
    return results


@pytest.fixture
def locked_spawn():
    """Every spawn of our loop takes the locked path."""
    with spawn_path('locked'):
        yield


# ----- which spawn path ----------------------------------------------------------------
# Ours only: asyncio's loop has one way to spawn.


@needs_fast_spawn
def test_a_child_that_runs_no_python_takes_the_fast_spawn(uvloop_loop):
    forks = fork_calls()
    assert spawn_path_taken(uvloop_loop, 'true') == 'fast'
    assert spawn_path_taken(uvloop_loop, 'true', cwd='/', umask=0o22,
                            start_new_session=True, restore_signals=False,
                            close_fds=False) == 'fast'
    assert fork_calls() == forks     # libuv never forked


def test_preexec_fn_takes_the_locked_spawn(uvloop_loop):
    assert spawn_path_taken(uvloop_loop, 'true', preexec_fn=lambda: None) == 'locked'


@needs_fast_spawn
def test_the_locked_spawn_can_be_forced_for_every_child(uvloop_loop):
    with spawn_path('locked'):
        assert spawn_path_taken(uvloop_loop, 'true') == 'locked'
    assert spawn_path_taken(uvloop_loop, 'true') == 'fast'


def test_without_fast_spawn_support_every_spawn_takes_the_locked_path(uvloop_loop):
    with fast_spawn_support_set_to(-1):     # as found on a kernel before 5.3
        assert spawn_path_taken(uvloop_loop, 'true') == 'locked'


@needs_fast_spawn
def test_fast_spawn_support_is_probed_once():
    with fast_spawn_support_set_to(0):
        assert uvloop.run(exec_wait('true')) == 0
        assert fast_spawn_support() == 1


def test_spawn_capabilities_name_the_path_a_child_takes_and_why(uvloop_loop):
    caps = spawn_capabilities()
    assert set(caps) == {'fast_spawn_compiled', 'pidfd', 'vfork_shares_memory', 'path',
                         'reason'}
    assert caps['path'] == spawn_path_taken(uvloop_loop, 'true')
    assert isinstance(caps['reason'], str) and caps['reason']
    if caps['fast_spawn_compiled']:
        assert isinstance(caps['pidfd'], bool)
        if caps['path'] == 'fast':
            assert caps['pidfd'] and caps['vfork_shares_memory'] is True
    else:
        # The portable build (or ThreadSanitizer's): nothing Linux-only is asked.
        assert caps['path'] == 'locked'
        assert caps['pidfd'] is None and caps['vfork_shares_memory'] is None
        assert caps['reason'].startswith('this build has no fast spawn: ')


@needs_fast_spawn
def test_spawn_capabilities_say_when_the_locked_spawn_is_forced(uvloop_loop):
    with spawn_path('locked'):
        caps = spawn_capabilities()
        assert caps['path'] == spawn_path_taken(uvloop_loop, 'true') == 'locked'
        assert 'UVLOOP_SPAWN_LOCKED=1' in caps['reason']
    assert spawn_capabilities()['path'] == 'fast'


@needs_fast_spawn
def test_a_vfork_child_shares_our_memory_here():
    # The fast spawn reads a child's exec error from shared memory; the probe is what
    # sends every spawn to the locked path where vfork() is a fork() in disguise.
    assert vfork_shares_memory() == 1


SIGCHLD_PROBE = """
import asyncio, signal, uvloop

def print_sigchld_caught():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('SigCgt:'):
                print(bool(int(line.split()[1], 16) & (1 << (signal.SIGCHLD - 1))))

async def main():
    proc = await asyncio.create_subprocess_exec('sleep', '30', stdin=None,
                                                stdout=None, stderr=None)
    print_sigchld_caught()      # while the child runs
    proc.kill()
    assert await proc.wait() == -signal.SIGKILL
    await asyncio.sleep(0)      # the exit's handle closes
    print_sigchld_caught()      # once it is gone

uvloop.run(main())
"""


@pytest.mark.parametrize('path', [pytest.param('fast', marks=needs_fast_spawn),
                                  'locked'])
def test_only_the_locked_spawn_catches_sigchld_and_only_while_children_run(path):
    # The fast spawn learns of the exit from the child's pidfd, in this loop alone;
    # libuv's uv_spawn() catches SIGCHLD process-wide while locked children run, and
    # stops once they are gone.
    out = subprocess.run([sys.executable, '-c', SIGCHLD_PROBE],
                         env=environ_with_spawn_path(path),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(path == 'locked'), 'False']


def test_credentials_take_the_locked_spawn(uvloop_loop):
    assert spawn_path_taken(uvloop_loop, 'true', user=os.geteuid()) == 'locked'


# ----- spawning from many threads at once ----------------------------------------------


@pytest.mark.parametrize('switch_interval', [1e-6, None],
                         ids=['switch-interval-1us', 'default-switch-interval'])
@pytest.mark.parametrize('loop_kind', SPAWN_LOOP_KINDS)
def test_issue_508_ten_threads_spawn_100_processes_each(loop_kind, switch_interval):
    results = run_in_threads(loop_kind,
                             [lambda: spawn_many(['true'] * 100)] * 10,
                             switch_interval)
    assert results == [(100, 0, None)] * 10
    assert_spawn_state_reset()


def test_issue_508_with_uvloop_run(spawn_path_kind):
    results = [None] * 4

    def worker(i):
        results[i] = uvloop.run(spawn_many(['true'] * 25))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(THREAD_TIMEOUT)
    assert results == [(25, 0, None)] * 4


@pytest.mark.parametrize('loop_kind', SPAWN_LOOP_KINDS)
def test_half_the_spawns_fail_and_the_other_half_all_succeed(loop_kind):
    programs = ['true', 'uvloop-no-such-program'] * 50
    results = run_in_threads(loop_kind,
                             [lambda: spawn_many(programs)] * 10)
    assert results == [(50, 50, None)] * 10
    assert_spawn_state_reset()


# ----- the spawn lock ------------------------------------------------------------------


def failing_preexec():
    raise ValueError('refused')


FAILING_SPAWNS = {
    'missing executable': (FileNotFoundError, ['uvloop-no-such-program'], {}),
    'bad cwd': (FileNotFoundError, ['true'], dict(cwd='/nonexistent/dir')),
    'preexec_fn raises': (subprocess.SubprocessError, ['true'],
                          dict(preexec_fn=failing_preexec)),
    'bad argument': (ValueError, ['true'], dict(env={'A=B': ''})),
}


@pytest.mark.parametrize('failure', sorted(FAILING_SPAWNS))
@pytest.mark.parametrize('loop_kind', SPAWN_LOOP_KINDS)
def test_a_failing_spawn_releases_the_lock_for_other_threads(loop_kind, failure):
    exc_type, args, kwargs = FAILING_SPAWNS[failure]

    async def fail():
        with pytest.raises(exc_type):
            await exec_wait(*args, **kwargs)
        return 'failed as expected'

    async def succeed():
        return await exec_wait('true')

    assert run_in_threads(loop_kind, [fail]) == ['failed as expected']
    assert run_in_threads(loop_kind, [succeed, succeed]) == [0, 0]
    assert_spawn_state_reset()


def test_a_uv_spawn_error_releases_the_lock_and_leaks_nothing(locked_spawn):
    async def fail():
        fail_next_spawn()
        with pytest.raises(OSError) as info:
            await exec_wait('true')
        assert info.value.errno == 22      # libuv's UV_EINVAL
        assert spawn_state() == (False, False)
        return 'failed as expected'

    async def succeed():
        return await exec_wait('true')

    fds = len(os.listdir('/proc/self/fd'))
    assert run_in_threads('uvloop-locked', [fail]) == ['failed as expected']
    assert run_in_threads('uvloop-locked', [succeed, succeed]) == [0, 0]
    gc.collect()
    assert len(os.listdir('/proc/self/fd')) == fds


# ----- re-entrant spawns -------------------------------------------------------------------

# os.register_at_fork() hooks run inside the spawn critical section (PyOS_BeforeFork)
# and cannot be unregistered: one hook, armed by the tests that need it. Only the locked
# path runs them (the fast one, like subprocess without preexec_fn, does not): these
# tests force it.
_at_fork_action = None


def _before_fork_hook():
    if _at_fork_action is not None:
        _at_fork_action()


os.register_at_fork(before=_before_fork_hook)


def spawn_from_fork_hook(target_loop):
    """Arm the fork hook to start a spawn on `target_loop` synchronously; return the
    list that receives what that inner spawn raised."""
    global _at_fork_action
    raised = []

    def action():
        global _at_fork_action
        _at_fork_action = None      # once
        coro = target_loop.subprocess_exec(asyncio.SubprocessProtocol, 'true',
                                           **NO_STDIO)
        try:
            coro.send(None)     # runs up to the spawn, synchronously
        except BaseException as exc:
            raised.append(exc)
        finally:
            coro.close()

    _at_fork_action = action
    return raised


def test_spawn_on_the_same_loop_inside_a_spawn_raises_runtime_error(uvloop_loop,
                                                                     locked_spawn):
    async def main():
        raised = spawn_from_fork_hook(asyncio.get_running_loop())
        rc = await exec_wait('true')
        return rc, raised

    rc, raised = uvloop_loop.run_until_complete(main())
    assert rc == 0                      # the outer spawn went on
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)
    message = str(raised[0])
    assert 'same event loop' in message
    assert 'racing' not in message.lower()
    assert_spawn_state_reset()


def test_spawn_on_another_loop_of_the_same_thread_inside_a_spawn_raises(uvloop_loop,
                                                                        locked_spawn):
    other = uvloop.new_event_loop()
    try:
        async def main():
            raised = spawn_from_fork_hook(other)
            rc = await exec_wait('true')
            return rc, raised

        rc, raised = uvloop_loop.run_until_complete(main())
    finally:
        other.close()
    assert rc == 0
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)
    assert 'same thread' in str(raised[0])
    assert_spawn_state_reset()


@needs_fast_spawn
def test_a_fast_spawn_never_waits_for_the_spawn_lock():
    # Thread A's locked spawn (preexec_fn) stops inside its critical section, holding
    # the spawn lock; a fast spawn in this thread completes meanwhile.
    global _at_fork_action
    in_lock = threading.Event()
    release = threading.Event()

    def action():
        global _at_fork_action
        _at_fork_action = None
        in_lock.set()
        release.wait(THREAD_TIMEOUT)

    results = []

    def locked_spawner():
        results.append(uvloop.run(exec_wait('true', preexec_fn=lambda: None)))

    _at_fork_action = action
    thread = threading.Thread(target=locked_spawner, daemon=True)
    thread.start()
    try:
        assert in_lock.wait(THREAD_TIMEOUT)
        assert spawn_state() == (True, True)
        assert uvloop.run(asyncio.wait_for(exec_wait('true'), 10)) == 0
    finally:
        release.set()
        _at_fork_action = None
        thread.join(THREAD_TIMEOUT)
    assert results == [0]
    assert_spawn_state_reset()


# ----- nothing leaks --------------------------------------------------------------------------


def test_2000_spawns_leave_no_fd_handle_or_zombie_behind(spawn_path_kind):
    async def one(i):
        if i % 10 == 1:
            with pytest.raises(FileNotFoundError):
                await exec_wait('uvloop-no-such-program')
        elif i % 100 == 2:
            with pytest.raises(subprocess.SubprocessError):
                await exec_wait('true', preexec_fn=failing_preexec)
        else:
            assert await exec_wait('true') == 0

    async def main():
        for start in range(0, 2000, 50):
            await asyncio.gather(*[one(i) for i in range(start, start + 50)])

    gc.collect()
    fds = sorted(os.listdir('/proc/self/fd'))
    counters = debug_counters()
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    del loop
    gc.collect()
    assert sorted(os.listdir('/proc/self/fd')) == fds
    assert_no_leaks(counters)
    if counters is not None:
        # One handle per child that exec'd (the fast path makes none for a child
        # that failed before exec).
        assert debug_counters()['handles_total'] >= counters['handles_total'] + 1800
    assert zombie_children() == []
    assert_spawn_state_reset()


# ----- the two ways of making the child ----------------------------------------------------


@pytest.fixture
def forced_fork(locked_spawn):
    """Locked spawns with fork() and the at-fork child handler instead of vfork()."""
    with spawning_with_fork():
        yield


def test_libuv_fork_is_routed_to_uvloop(locked_spawn):
    # setup.py compiles libuv with -Dfork=uvloop_fork; if libuv stopped calling fork()
    # (posix_spawn), neither vfork() nor our child set-up would run: caught here, and
    # by the restore_signals/preexec_fn tests of test_subprocess.py.
    before = fork_calls()
    assert uvloop.run(spawn_many(['true'] * 3)) == (3, 0, None)
    assert fork_calls() == before + 3


def test_fork_path_spawns_from_many_threads(forced_fork):
    programs = ['true', 'uvloop-no-such-program'] * 20
    results = run_in_threads('uvloop-locked', [lambda: spawn_many(programs)] * 4)
    assert results == [(20, 20, None)] * 4
    assert_spawn_state_reset()


def test_fork_path_child_set_up(forced_fork, tmp_path):
    async def main():
        rc, out = await exec_output(tmp_path, 'grep', 'SigIgn', '/proc/self/status',
                                    restore_signals=False)
        assert sigign_mask(out) & (1 << 12)          # SIGPIPE stays ignored
        r, w = os.pipe()
        try:
            assert await exec_wait('sh', '-c', f'echo ok > /proc/self/fd/{w}',
                                        pass_fds=[w]) == 0
            assert os.read(r, 10) == b'ok\n'
        finally:
            os.close(r)
            os.close(w)
        with pytest.raises(FileNotFoundError) as info:
            await exec_wait('true', cwd=str(tmp_path / 'missing'))
        assert info.value.filename == str(tmp_path / 'missing')

    uvloop.run(main())
