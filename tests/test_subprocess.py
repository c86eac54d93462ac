"""Subprocesses: loop.subprocess_exec/shell, the subprocess transport and
asyncio.create_subprocess_*; each behaviour checked on asyncio's loop and on ours with
both spawn paths (the fast one, and the locked one forced: 'uvloop-locked').

Which path a spawn takes, the spawn lock and spawning from many threads are
test_spawn_paths.py's."""

import asyncio
import collections
import errno
import grp
import os
import pwd
import signal
import subprocess
import sys
import threading
import time

import blockbuster
import pytest

import uvloop

from loops import SPAWN_LOOP_KINDS, run
from netutil import ContextSeen, current, out_of_fds
from spawnutil import (NO_STDIO, exec_output, exec_wait,
                       sigign_mask, zombie_children)


@pytest.fixture(params=SPAWN_LOOP_KINDS)
def loop_kind(request):
    return request.param


class RecordingProtocol(asyncio.SubprocessProtocol):
    def __init__(self, loop):
        self.events = []
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.events.append('connection_made')

    def pipe_data_received(self, fd, data):
        self.events.append(('data', fd))

    def pipe_connection_lost(self, fd, exc):
        self.events.append(('pipe_lost', fd))

    def process_exited(self):
        self.events.append('process_exited')

    def connection_lost(self, exc):
        self.events.append('connection_lost')
        self.done.set_result(None)


# ----- exit status ------------------------------------------------------------------


def test_exec_returns_the_exit_status(loop):
    assert run(loop, exec_wait('sh', '-c', 'exit 3')) == 3


def test_shell_runs_the_command_with_sh(loop):
    async def main():
        proc = await asyncio.create_subprocess_shell('exit 7', **NO_STDIO)
        return await proc.wait()

    assert run(loop, main()) == 7


def test_killed_process_has_a_negative_returncode(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec('sleep', '30', **NO_STDIO)
        proc.send_signal(signal.SIGUSR1)
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGUSR1


def test_returncode_attribute_is_set_after_wait(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec('true', **NO_STDIO)
        await proc.wait()
        return proc.returncode

    assert run(loop, main()) == 0


# ----- a child reaped by someone else -----------------------------------------------
# Another thread's os.waitpid(-1), or SIGCHLD set to SIG_IGN, can take a child's exit
# status before the loop reads it. A spawn whose program ran never fails for that and
# wait() never hangs: the loop reports returncode 255 with a warning, as asyncio's
# child watchers do.

LOST_STATUS_WARNING = 'will report returncode 255'


def test_a_child_reaped_by_someone_else_exits_with_255_and_a_warning(loop, loop_kind,
                                                                     caplog):
    async def main():
        proc = await asyncio.create_subprocess_exec('sh', '-c', 'exit 3', **NO_STDIO)
        try:
            os.waitpid(proc.pid, 0)      # holds the loop until the child exited
        except ChildProcessError:
            return False, await proc.wait()
        return True, await proc.wait()

    stolen, rc = run(loop, main())
    if stolen:
        assert rc == 255
        assert LOST_STATUS_WARNING in caplog.text
    else:
        # asyncio's child watcher thread (Python < 3.12) may reap it first.
        assert loop_kind == 'asyncio' and rc == 3


async def exit_statuses(count):
    """How often each exit status (or error) came from `count` spawns of `exit 3`."""
    outcomes = collections.Counter()
    for _ in range(count):
        try:
            outcomes[await exec_wait('sh', '-c', 'exit 3')] += 1
        except OSError as exc:
            outcomes[type(exc).__name__] += 1
    return outcomes


def assert_no_false_failure(loop_kind, outcomes):
    allowed = {3, 255}
    if loop_kind == 'asyncio':
        # asyncio's pidfd child watcher (Python 3.12+) opens the pidfd after the spawn:
        # a child reaped by then makes a spawn whose program ran raise
        # ProcessLookupError. Our fast spawn gets its pidfd from clone() itself.
        allowed.add('ProcessLookupError')
    assert set(outcomes) <= allowed, outcomes


def test_spawns_while_another_thread_reaps_any_child_never_fail_or_hang(loop,
                                                                        loop_kind):
    stop = threading.Event()

    def reap_any_child():
        while not stop.is_set():
            try:
                os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.0002)

    reaper = threading.Thread(target=reap_any_child, daemon=True)
    reaper.start()
    try:
        outcomes = run(loop, exit_statuses(60), timeout=60)
    finally:
        stop.set()
        reaper.join()
    assert_no_false_failure(loop_kind, outcomes)


def test_spawns_with_sigchld_ignored_never_fail_or_hang(loop, loop_kind):
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        outcomes = run(loop, exit_statuses(60), timeout=60)
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert_no_false_failure(loop_kind, outcomes)


# ----- errors -------------------------------------------------------------------------


def test_missing_executable_raises_file_not_found(loop):
    with pytest.raises(FileNotFoundError) as info:
        run(loop, exec_wait('uvloop-no-such-program'))
    assert info.value.errno == 2
    assert info.value.filename == 'uvloop-no-such-program'
    assert zombie_children() == []


def test_bad_cwd_raises_file_not_found_naming_the_cwd(loop, tmp_path):
    missing = str(tmp_path / 'missing')
    with pytest.raises(FileNotFoundError) as info:
        run(loop, exec_wait('true', cwd=missing))
    assert info.value.filename == missing
    assert zombie_children() == []


def test_no_file_descriptor_left_raises_emfile_and_runs_nothing(loop, tmp_path):
    # Each spawn needs an fd before the child exists: the fast spawn's pidfd comes
    # with the child from clone(); the locked one and asyncio's need an error pipe.
    # Either way: EMFILE, the program never ran, no child left.
    marker = tmp_path / 'ran'

    async def main():
        assert await exec_wait('true') == 0     # whatever is done once is done
        with out_of_fds(), pytest.raises(OSError) as info:
            await exec_wait('touch', str(marker))
        return info.value.errno

    assert run(loop, main()) == errno.EMFILE
    assert not marker.exists()
    assert zombie_children() == []


def test_program_that_is_not_executable_raises_permission_error(loop, tmp_path):
    script = tmp_path / 'script'
    script.write_text('#!/bin/sh\n')
    script.chmod(0o644)
    with pytest.raises(PermissionError):
        run(loop, exec_wait(str(script)))


TEXT_MODE_ARGUMENTS = [
    (dict(universal_newlines=True), 'universal_newlines must be False'),
    (dict(text=True), 'text must be False'),
    (dict(encoding='utf-8'), 'encoding must be None'),
    (dict(errors='strict'), 'errors must be None'),
    (dict(bufsize=1), 'bufsize must be 0'),
]


@pytest.mark.parametrize('kwargs, message', TEXT_MODE_ARGUMENTS + [
    (dict(shell=True), 'shell must be False'),
])
def test_exec_rejects_text_mode_arguments_as_asyncio(loop, kwargs, message):
    coro = loop.subprocess_exec(asyncio.SubprocessProtocol, 'true', **kwargs)
    with pytest.raises(ValueError, match=f'^{message}$'):
        run(loop, coro)


@pytest.mark.parametrize('kwargs, message', TEXT_MODE_ARGUMENTS + [
    (dict(shell=False), 'shell must be True'),
])
def test_shell_rejects_text_mode_arguments_as_asyncio(loop, kwargs, message):
    coro = loop.subprocess_shell(asyncio.SubprocessProtocol, 'true', **kwargs)
    with pytest.raises(ValueError, match=f'^{message}$'):
        run(loop, coro)


def test_shell_command_must_be_a_string(loop):
    coro = loop.subprocess_shell(asyncio.SubprocessProtocol, ['true'])
    with pytest.raises(ValueError, match='^cmd must be a string$'):
        run(loop, coro)


def test_unknown_keyword_argument_raises_type_error(loop):
    coro = loop.subprocess_exec(asyncio.SubprocessProtocol, 'true', no_such_arg=1,
                                **NO_STDIO)
    with pytest.raises(TypeError, match='no_such_arg'):
        run(loop, coro)


def test_environment_name_with_equal_sign_raises_value_error(loop):
    with pytest.raises(ValueError, match='illegal environment variable name'):
        run(loop, exec_wait('true', env={'A=B': '1'}))


def test_argument_with_null_byte_raises_value_error(loop):
    with pytest.raises(ValueError, match='embedded null byte'):
        run(loop, exec_wait('echo', 'a\0b'))


@pytest.mark.parametrize('stdio', [
    dict(stdin=-5), dict(stdout=-5), dict(stderr=-7), dict(stdin=subprocess.STDOUT),
], ids=['stdin=-5', 'stdout=-5', 'stderr=-7', 'stdin=STDOUT'])
def test_a_negative_or_misplaced_stdio_fd_raises_ebadf_as_asyncio(loop, stdio):
    # asyncio's Popen hands the fd to its child, whose dup2() fails; we refuse it
    # before anything is made, with the same error.
    kwargs = dict(NO_STDIO, **stdio)
    coro = loop.subprocess_exec(asyncio.SubprocessProtocol, 'true', **kwargs)
    with pytest.raises(OSError) as info:
        run(loop, coro)
    assert type(info.value) is OSError
    assert info.value.errno == errno.EBADF
    assert str(info.value) == f'[Errno {errno.EBADF}] {os.strerror(errno.EBADF)}'
    assert zombie_children() == []


def test_stdout_to_stdout_raises_as_asyncio(loop):
    # Python 3.13's Popen refuses it itself; before, it was one more bad fd.
    coro = loop.subprocess_exec(asyncio.SubprocessProtocol, 'true', stdin=None,
                                stdout=subprocess.STDOUT, stderr=None)
    if sys.version_info >= (3, 13):
        with pytest.raises(ValueError, match='^STDOUT can only be used for stderr$'):
            run(loop, coro)
    else:
        with pytest.raises(OSError) as info:
            run(loop, coro)
        assert type(info.value) is OSError and info.value.errno == errno.EBADF


@pytest.mark.parametrize('pass_fds', [[-1], [5, -3]])
def test_a_negative_pass_fd_raises_value_error_as_asyncio(loop, pass_fds):
    with pytest.raises(ValueError, match=r'^bad value\(s\) in fds_to_keep$'):
        run(loop, exec_wait('true', pass_fds=pass_fds))
    assert zombie_children() == []


@pytest.mark.parametrize('name', ['start_new_session', 'restore_signals'])
@pytest.mark.parametrize('value', ['yes', None, 1.5], ids=['str', 'None', 'float'])
def test_a_session_or_signals_flag_that_is_not_an_int_raises_type_error(
        loop, loop_kind, name, value):
    # Python 3.11's Popen (and so asyncio's loop) takes ints (bool included) and raises
    # this TypeError for anything else; later Pythons' Popen may take any truthy
    # object, so there asyncio's loop is only held to the same error when it raises.
    message = f"'{type(value).__name__}' object cannot be interpreted as an integer"
    try:
        run(loop, exec_wait('true', **{name: value}))
    except TypeError as exc:
        assert str(exc) == message
    else:
        assert loop_kind == 'asyncio' and sys.version_info >= (3, 12), \
            f'{name}={value!r} was accepted'


# ----- preexec_fn ---------------------------------------------------------------------


def test_preexec_fn_runs_in_the_child_before_exec(loop, tmp_path):
    marker = tmp_path / 'marker'

    def preexec():
        # Proves the child-side handler ran: only our child set-up calls it.
        with open(marker, 'w') as f:
            f.write(str(os.getpid()))

    async def main():
        proc = await asyncio.create_subprocess_exec('true', preexec_fn=preexec,
                                                    **NO_STDIO)
        await proc.wait()
        return proc.pid

    pid = run(loop, main())
    assert marker.read_text() == str(pid)


def test_preexec_fn_failure_raises_subprocess_error(loop, loop_kind):
    def preexec():
        raise ValueError('refused in the child')

    with pytest.raises(subprocess.SubprocessError,
                       match='^Exception occurred in preexec_fn.$') as info:
        run(loop, exec_wait('true', preexec_fn=preexec))
    if loop_kind.startswith('uvloop'):
        # asyncio's loop loses the child's exception; ours keeps it as the cause.
        assert isinstance(info.value.__cause__, ValueError)
        assert str(info.value.__cause__) == 'refused in the child'
    assert zombie_children() == []


def test_preexec_fn_unpicklable_exception_still_reports(uvloop_loop):
    class Local(Exception):
        pass

    def preexec():
        raise Local('not picklable: a local class')

    with pytest.raises(subprocess.SubprocessError) as info:
        run(uvloop_loop, exec_wait('true', preexec_fn=preexec))
    assert 'not picklable: a local class' in str(info.value.__cause__)
    assert zombie_children() == []


# ----- blocking-call detectors ----------------------------------------------------------


def test_spawns_make_no_call_a_blocking_call_detector_reports(loop, tmp_path):
    # Tools such as blockbuster (used by aiohttp's and anyio's test suites) patch os.read
    # and friends and fail a call made on the loop's thread. Reading a child's report
    # must not be one (asyncio's own is exempted by name).

    def fail():
        raise RuntimeError('preexec_fn failed')

    async def main():
        assert await exec_wait('true') == 0
        with pytest.raises(FileNotFoundError):
            await exec_wait(str(tmp_path / 'missing'))
        with pytest.raises(subprocess.SubprocessError):
            await exec_wait('true', preexec_fn=fail)
        proc = await asyncio.create_subprocess_exec(
            'sh', '-c', 'cat; echo err >&2', stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert await proc.communicate(b'out') == (b'out', b'err\n')

    with blockbuster.blockbuster_ctx():
        # Proof that the detector is on: the same read, made by the test, is reported.
        async def read_a_pipe():
            r, w = os.pipe()
            try:
                os.write(w, b'x')
                os.read(r, 1)
            finally:
                os.close(r)
                os.close(w)

        with pytest.raises(blockbuster.BlockingError):
            run(loop, read_a_pipe())
        run(loop, main())


# ----- the child's environment ----------------------------------------------------------


def test_cwd_sets_the_working_directory(loop, tmp_path):
    (tmp_path / 'sub').mkdir()
    rc, out = run(loop, exec_output(tmp_path, 'pwd', cwd=tmp_path / 'sub'))
    assert rc == 0
    assert out.decode().strip() == str(tmp_path / 'sub')


def test_env_replaces_the_environment(loop, tmp_path):
    rc, out = run(loop, exec_output(tmp_path, '/usr/bin/env',
                                    env={'UVLOOP_TEST': 'value'}))
    assert rc == 0
    assert out == b'UVLOOP_TEST=value\n'


def test_program_is_searched_in_the_path_of_env(loop, tmp_path):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    program = bindir / 'uvloop-test-program'
    program.write_text('#!/bin/sh\necho found\n')
    program.chmod(0o755)
    rc, out = run(loop, exec_output(tmp_path, 'uvloop-test-program',
                                    env={'PATH': str(bindir)}))
    assert (rc, out) == (0, b'found\n')


def test_executable_overrides_the_program_but_not_argv0(loop, tmp_path):
    rc, out = run(loop, exec_output(tmp_path, 'whatever', '-c', 'echo $0',
                                    executable='/bin/sh'))
    assert (rc, out) == (0, b'whatever\n')


def test_start_new_session_makes_the_child_a_session_leader(loop, tmp_path):
    script = 'read -r line < /proc/$$/stat; set -- ${line##*) }; echo $$ $4'
    for new_session in (True, False, 1, 0):     # ints too, as Popen takes them
        rc, out = run(loop, exec_output(tmp_path, 'sh', '-c', script,
                                        start_new_session=new_session))
        pid, sid = out.split()
        assert (pid == sid) is bool(new_session)


def test_process_group_zero_makes_a_new_group(loop, tmp_path):
    script = 'read -r line < /proc/$$/stat; set -- ${line##*) }; echo $$ $3'
    rc, out = run(loop, exec_output(tmp_path, 'sh', '-c', script,
                                    process_group=0))
    pid, pgid = out.split()
    assert pid == pgid


def test_umask_is_applied_in_the_child(loop, tmp_path):
    rc, out = run(loop, exec_output(tmp_path, 'sh', '-c', 'umask', umask=0o027))
    assert out.strip() == b'0027'


ID_SCRIPT = 'echo $(id -u) $(id -g) $(id -G)'
NOBODY = 65534    # Debian's nobody and nogroup


def credentials_of_this_process():
    return os.getresuid(), os.getresgid(), os.getgroups()


def test_user_group_and_extra_groups_by_id(loop, tmp_path):
    credentials = dict(user=NOBODY, group=NOBODY, extra_groups=[NOBODY])
    ours = credentials_of_this_process()
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            run(loop, exec_output(tmp_path, 'sh', '-c', ID_SCRIPT, **credentials))
        return
    rc, out = run(loop, exec_output(tmp_path, 'sh', '-c', ID_SCRIPT, **credentials))
    assert (rc, out) == (0, b'65534 65534 65534\n')
    # Only the child changed: glibc's set*id() act on every thread of a process, and
    # a vfork() child would have taken ours along.
    assert credentials_of_this_process() == ours


def test_user_and_group_by_name_are_looked_up(loop, tmp_path):
    me = pwd.getpwuid(os.geteuid()).pw_name
    my_group = grp.getgrgid(os.getegid()).gr_name
    rc, out = run(loop, exec_output(tmp_path, 'sh', '-c', 'echo $(id -u) $(id -g)',
                                    user=me, group=my_group))
    assert out.split() == [str(os.geteuid()).encode(), str(os.getegid()).encode()]


@pytest.mark.parametrize('kwargs, error', [
    (dict(user=1.5), TypeError),
    (dict(user=-1), ValueError),
    (dict(user='no-such-user-here'), KeyError),
    (dict(group=[0]), TypeError),
    (dict(group=-2), ValueError),
    (dict(group='no-such-group-here'), KeyError),
    (dict(extra_groups='wheel'), ValueError),
    (dict(extra_groups=[None]), TypeError),
    (dict(extra_groups=[0, -1]), ValueError),
])
def test_bad_credentials_raise_as_asyncio(loop, kwargs, error):
    with pytest.raises(error) as info:
        run(loop, exec_wait('true', **kwargs))
    # The same words as subprocess.Popen (asyncio's loop goes through it).
    with pytest.raises(error) as popen_info:
        subprocess.Popen(['true'], **kwargs)
    assert str(info.value) == str(popen_info.value)


def test_restore_signals_gives_the_child_default_sigpipe(loop, tmp_path):
    # Python ignores SIGPIPE; the program must get it back as default.
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    rc, out = run(loop, exec_output(tmp_path, 'grep', 'SigIgn', '/proc/self/status'))
    assert not sigign_mask(out) & (1 << (signal.SIGPIPE - 1))


def test_restore_signals_false_keeps_sigpipe_ignored(loop, tmp_path):
    # Only the child set-up run from our fork handler can do this: libuv's own child
    # code resets every signal to default. A libuv that spawned without fork() fails.
    rc, out = run(loop, exec_output(tmp_path, 'grep', 'SigIgn', '/proc/self/status',
                                    restore_signals=False))
    assert sigign_mask(out) & (1 << (signal.SIGPIPE - 1))


def test_caught_signals_are_default_in_the_child(loop, tmp_path):
    old = signal.signal(signal.SIGUSR2, lambda *args: None)
    try:
        rc, out = run(loop, exec_output(tmp_path, 'grep', 'SigCgt',
                                        '/proc/self/status'))
    finally:
        signal.signal(signal.SIGUSR2, old)
    caught = int(out.split()[1], 16)
    assert not caught & (1 << (signal.SIGUSR2 - 1))


# ----- file descriptors -------------------------------------------------------------------


def test_stdio_file_objects_and_fds(loop, tmp_path):
    src = tmp_path / 'in'
    src.write_bytes(b'from a file\n')
    dst = tmp_path / 'out'
    with open(src, 'rb') as fin, open(dst, 'wb') as fout:
        rc = run(loop, exec_wait('cat', stdin=fin, stdout=fout.fileno()))
    assert rc == 0
    assert dst.read_bytes() == b'from a file\n'


def test_stderr_to_stdout(loop, tmp_path):
    rc, out = run(loop, exec_output(tmp_path, 'sh', '-c', 'echo out; echo err >&2',
                                    stderr=subprocess.STDOUT))
    assert out == b'out\nerr\n'


def test_devnull_stdio(loop, tmp_path):
    rc, out = run(loop, exec_output(
        tmp_path, 'sh', '-c', 'cat; echo err >&2; readlink /proc/self/fd/0',
        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert rc == 0
    assert out == b'/dev/null\n'


def test_pass_fds_keeps_the_fd_open_in_the_child(loop):
    r, w = os.pipe()
    try:
        rc = run(loop, exec_wait('sh', '-c', f'echo passed > /proc/self/fd/{w}',
                                 pass_fds=[w]))
        os.close(w)
        w = -1
        assert rc == 0
        assert os.read(r, 100) == b'passed\n'
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_close_fds_closes_inheritable_fds(loop):
    r, w = os.pipe()
    os.set_inheritable(w, True)
    try:
        assert run(loop, exec_wait('sh', '-c', f'echo x > /proc/self/fd/{w}')) != 0
        assert run(loop, exec_wait('sh', '-c', f'echo kept > /proc/self/fd/{w}',
                                   close_fds=False)) == 0
        os.close(w)
        w = -1
        assert os.read(r, 100) == b'kept\n'
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_pass_fds_overrides_close_fds_with_a_warning(loop):
    r, w = os.pipe()
    try:
        with pytest.warns(RuntimeWarning, match='pass_fds overriding close_fds'):
            run(loop, exec_wait('true', pass_fds=[w], close_fds=False))
    finally:
        os.close(r)
        os.close(w)


# ----- signals and the transport ------------------------------------------------------


def test_signal_to_an_exited_process_raises_process_lookup_error(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec('true', **NO_STDIO)
        await proc.wait()
        with pytest.raises(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with pytest.raises(ProcessLookupError):
            proc.terminate()
        with pytest.raises(ProcessLookupError):
            proc.kill()

    run(loop, main())


def wait_until_ignored(pid, signum, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('SigIgn:') and \
                        int(line.split()[1], 16) & (1 << (signum - 1)):
                    return
        time.sleep(0.01)
    raise AssertionError(f'process {pid} never ignored signal {signum}')


def test_kill_stops_a_process_that_ignores_sigterm(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            'sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done', **NO_STDIO)
        wait_until_ignored(proc.pid, signal.SIGTERM)
        proc.terminate()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), 0.3)
        proc.kill()
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGKILL


def test_transport_api_and_callback_order_without_pipes(loop):
    async def main():
        transport, protocol = await loop.subprocess_exec(
            lambda: RecordingProtocol(loop), 'sh', '-c', 'exit 5', **NO_STDIO)
        assert isinstance(transport, asyncio.SubprocessTransport)
        pid = transport.get_pid()
        assert isinstance(pid, int) and pid > 0
        assert transport.get_extra_info('subprocess').pid == pid
        assert transport.get_pipe_transport(0) is None
        assert transport.get_pipe_transport(1) is None
        await protocol.done
        assert transport.get_returncode() == 5
        transport.close()
        assert transport.is_closing()
        return protocol.events

    assert run(loop, main()) == ['connection_made', 'process_exited',
                                 'connection_lost']


def test_close_kills_a_running_process(loop):
    async def main():
        transport, protocol = await loop.subprocess_exec(
            lambda: RecordingProtocol(loop), 'sleep', '30', **NO_STDIO)
        transport.close()
        await protocol.done
        return transport.get_returncode()

    assert run(loop, main()) == -signal.SIGKILL


def test_process_still_running_when_the_loop_closes_is_reaped(spawn_path_kind):
    # Ours only: asyncio's loop reaps it on 3.11/3.12 (a thread per child) but leaves
    # a zombie on 3.13 (its pidfd watcher dies with the loop).
    loop = uvloop.new_event_loop()
    try:
        async def main():
            proc = await asyncio.create_subprocess_exec('sleep', '0.2', **NO_STDIO)
            return proc.pid

        pid = run(loop, main())
    finally:
        loop.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not os.path.exists(f'/proc/{pid}'):
            break
        time.sleep(0.02)
    assert not os.path.exists(f'/proc/{pid}'), 'the child was left a zombie'


def test_many_concurrent_processes_on_one_loop(loop):
    async def main():
        return await asyncio.gather(*[
            exec_wait('sh', '-c', f'exit {i}') for i in range(40)])

    assert run(loop, main()) == list(range(40))


# ----- pipes ---------------------------------------------------------------------------
# The child's PIPEs go through loop.connect_read_pipe/connect_write_pipe.

PIPE = subprocess.PIPE


def test_communicate_returns_stdout_and_stderr(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            'sh', '-c', 'cat; echo err >&2', stdin=PIPE, stdout=PIPE, stderr=PIPE)
        out, err = await proc.communicate(b'hello')
        return out, err, proc.returncode

    assert run(loop, main()) == (b'hello', b'err\n', 0)


def test_10_mb_through_the_pipes_arrive_intact(loop):
    data = os.urandom(10 * 1024 * 1024)

    async def main():
        proc = await asyncio.create_subprocess_exec('cat', stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(data)
        return out, proc.returncode

    out, rc = run(loop, main(), timeout=30)
    assert rc == 0
    assert len(out) == len(data) and out == data


def test_stdin_closed_early_by_the_child(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            'sh', '-c', 'exec 0<&-; echo closed', stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(b'x' * (1024 * 1024))
        return out, proc.returncode

    assert run(loop, main()) == (b'closed\n', 0)


def test_stderr_to_stdout_pipe(loop):
    async def main():
        proc = await asyncio.create_subprocess_shell(
            'echo out; echo err >&2', stdout=PIPE, stderr=subprocess.STDOUT)
        out, err = await proc.communicate()
        return out, err

    assert run(loop, main()) == (b'out\nerr\n', None)


def test_readline_streams_output_as_it_comes(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            'sh', '-c', 'echo one; read x; echo $x', stdin=PIPE, stdout=PIPE)
        first = await proc.stdout.readline()
        proc.stdin.write(b'two\n')
        await proc.stdin.drain()
        second = await proc.stdout.readline()
        await proc.wait()
        return first, second

    assert run(loop, main()) == (b'one\n', b'two\n')


def test_callback_order_with_pipes(loop):
    async def main():
        transport, protocol = await loop.subprocess_exec(
            lambda: RecordingProtocol(loop), 'sh', '-c', 'echo out; echo err >&2',
            stdin=PIPE, stdout=PIPE, stderr=PIPE)
        assert callable(transport.get_pipe_transport(0).write)
        assert callable(transport.get_pipe_transport(1).pause_reading)
        assert callable(transport.get_pipe_transport(2).pause_reading)
        transport.get_pipe_transport(0).close()
        await protocol.done
        transport.close()
        return protocol.events

    events = run(loop, main())
    assert events[0] == 'connection_made'
    assert events[-1] == 'connection_lost'
    assert events.count('process_exited') == 1
    for fd in (0, 1, 2):
        assert events.count(('pipe_lost', fd)) == 1
    for fd in (1, 2):
        assert events.index(('data', fd)) < events.index(('pipe_lost', fd))


def test_spawns_with_pipes_leave_no_fd_behind(loop):
    async def one():
        proc = await asyncio.create_subprocess_exec(
            'cat', stdin=PIPE, stdout=PIPE, stderr=PIPE)
        out, _ = await proc.communicate(b'data')
        assert out == b'data'

    async def main():
        for _ in range(10):
            await asyncio.gather(*[one() for _ in range(20)])

    run(loop, main())       # warm-up: lazily created fds (the executor, ...)
    fds = sorted(os.listdir('/proc/self/fd'))
    run(loop, main())
    assert sorted(os.listdir('/proc/self/fd')) == fds
    assert zombie_children() == []


# ----- contexts ---------------------------------------------------------------------

class ContextRecorder(ContextSeen, asyncio.SubprocessProtocol):
    """Records, per callback, the values of `current` it saw (ContextSeen)."""

    def __init__(self, loop):
        self.output = loop.create_future()
        self.done = loop.create_future()

    def connection_made(self, transport):
        self._enter()

    def pipe_data_received(self, fd, data):
        self._see('pipe_data')
        if not self.output.done():
            self.output.set_result(data)

    def pipe_connection_lost(self, fd, exc):
        self._see('pipe_lost')

    def pause_writing(self):
        self._see('pause_writing')

    def resume_writing(self):
        self._see('resume_writing')

    def process_exited(self):
        self._see('process_exited')

    def connection_lost(self, exc):
        self._see('lost')
        self.done.set_result(None)


def test_pipe_callbacks_see_the_spawning_context(loop):
    async def main():
        current.set('spawning')
        transport, protocol = await loop.subprocess_exec(
            lambda: ContextRecorder(loop), 'echo', 'out', stdin=None, stderr=None)
        current.set('changed after spawning')
        await protocol.done
        transport.close()
        return protocol.seen

    seen = run(loop, main())
    assert seen['made'] == {'spawning'}
    for name in ('pipe_data', 'pipe_lost'):
        assert seen[name] <= {'spawning', 'transport'}, name


def test_every_callback_runs_in_the_transport_context(uvloop_loop, spawn_path_kind):
    # As upstream uvloop, whoever triggers them: the exit watcher (asyncio runs
    # process_exited, and so connection_lost, in its child watcher's context) or
    # another task writing to stdin (asyncio: pause_writing in that task's context).
    loop = uvloop_loop

    async def main():
        current.set('spawning')
        transport, protocol = await loop.subprocess_exec(
            lambda: ContextRecorder(loop), 'sh', '-c',
            'read line; echo "$line"; exec cat >/dev/null', stderr=None)
        stdin = transport.get_pipe_transport(0)

        async def write_from_another_task():
            current.set('another task')
            stdin.write(b'first line\n' + bytes(1024 * 1024))

        await asyncio.create_task(write_from_another_task())
        assert await protocol.output == b'first line\n'
        while stdin.get_write_buffer_size():
            await asyncio.sleep(0.01)
        stdin.close()
        await protocol.done
        transport.close()
        return protocol.seen

    seen = run(loop, main())
    assert seen.pop('made') == {'spawning'}
    assert seen == {name: {'transport'} for name in (
        'pause_writing', 'resume_writing', 'pipe_data', 'pipe_lost',
        'process_exited', 'lost')}
