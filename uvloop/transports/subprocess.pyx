# The subprocess transport (asyncio.SubprocessTransport) over a ChildProcess (either
# spawn of handles/process.pyx: one transport for both), and the
# Popen-style argument handling behind loop.subprocess_exec/subprocess_shell.
#
# One mechanism for both: subprocess_shell is subprocess_exec of [/bin/sh, -c, cmd].
# Semantics follow asyncio's BaseSubprocessTransport: protocol callbacks in the order
# connection_made, pipe_data_received..., pipe_connection_lost (per pipe),
# process_exited, then connection_lost once the process exited AND every pipe closed;
# `_wait()` (asyncio.subprocess.Process.wait) completes after connection_lost.
#
# Pipes: each PIPE is an os.pipe() whose child end is given to the child and whose
# parent end, as a file object, goes to loop.connect_read_pipe/connect_write_pipe, as
# asyncio does with Popen's file objects. The pipe transports own those file objects.

import asyncio
import collections
import fcntl as fcntl_module
import functools
import os
import subprocess
import sys
import warnings


cdef object _POPEN_DEFAULTS = {
    'executable': None, 'preexec_fn': None, 'close_fds': True, 'pass_fds': (),
    'cwd': None, 'env': None, 'restore_signals': True, 'start_new_session': False,
    'process_group': None, 'umask': -1, 'pipesize': -1, 'user': None, 'group': None,
    'extra_groups': None, 'startupinfo': None, 'creationflags': 0,
}


cdef list _fsencode_all(items):
    out = []
    for item in items:
        b = os.fsencode(item)
        if b'\0' in b:
            raise ValueError('embedded null byte')
        out.append(b)
    return out


cdef _env_list(env):
    if env is None:
        return None
    out = []
    for k, v in env.items():
        k = os.fsencode(k)
        if b'=' in k:
            raise ValueError('illegal environment variable name')
        entry = k + b'=' + os.fsencode(v)
        if b'\0' in entry:
            raise ValueError('embedded null byte')
        out.append(entry)
    return out


# (program, $PATH) -> its _exec_paths() list, for children that inherit our environment:
# building the list costs more than the rest of the spawn's argument handling.
# Shared by the loops of all threads with no lock of ours: each get, set and clear is
# atomic on a dict (a per-object lock on free-threaded builds), and a lost race only
# builds a list twice.
cdef dict _exec_paths_cache = {}


cdef list _exec_paths(executable, env):
    # subprocess's executable_list: the program itself if it has a directory part,
    # else every PATH entry (of `env` when given), tried in order by the child.
    # The lists are shared: nobody changes them.
    executable = os.fsencode(executable)
    if os.path.dirname(executable):
        return [executable]
    if env is not None:
        return [os.path.join(os.fsencode(d), executable) for d in os.get_exec_path(env)]
    key = (executable, os.environ.get('PATH'))
    paths = _exec_paths_cache.get(key)
    if paths is None:
        paths = [os.path.join(os.fsencode(d), executable)
                 for d in os.get_exec_path(None)]
        if len(_exec_paths_cache) >= 256:
            _exec_paths_cache.clear()
        _exec_paths_cache[key] = paths
    return paths


cdef _group_id(group, str type_error):
    """A group name or id as an id; else TypeError(type_error naming the type)."""
    if isinstance(group, str):
        import grp
        return grp.getgrnam(group).gr_gid
    if isinstance(group, int):
        return group
    raise TypeError(type_error.format(type(group)))


cdef tuple _credentials(user, group, extra_groups):
    """(groups, gid, uid) for the child, each None when unchanged; names resolved and
    bad values rejected with subprocess.Popen's errors, before anything is created."""
    gid = groups = uid = None
    if group is not None:
        gid = _group_id(group, 'Group must be a string or an integer, not {}')
        if gid < 0:
            raise ValueError(f'Group ID cannot be negative, got {gid}')
    if extra_groups is not None:
        if isinstance(extra_groups, str):
            raise ValueError('Groups must be a list, not a string')
        groups = [_group_id(g, 'Items in extra_groups must be a string or integer, '
                               'not {}')
                  for g in extra_groups]
        for g in groups:
            if g < 0:
                raise ValueError(f'Group ID cannot be negative, got {g}')
    if user is not None:
        if isinstance(user, str):
            import pwd
            uid = pwd.getpwnam(user).pw_uid
        elif isinstance(user, int):
            uid = user
        else:
            raise TypeError('User must be a string or an integer')
        if uid < 0:
            raise ValueError(f'User ID cannot be negative, got {uid}')
    return groups, gid, uid


class _ProcessInfo:
    """What get_extra_info('subprocess') returns: the Popen-like view of the child
    (pid, args, returncode, stdin/stdout/stderr, poll, send_signal, terminate, kill).
    It never waits for the child itself: the loop reaps it."""

    def __init__(self, transport, args, stdin, stdout, stderr):
        self._transport = transport
        self.args = args
        self.pid = transport._pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr

    @property
    def returncode(self):
        return self._transport._returncode

    def poll(self):
        return self._transport._returncode

    def send_signal(self, sig):
        if self._transport._returncode is None:
            (<ChildProcess>self._transport._uvprocess).send_signal(sig)

    def terminate(self):
        self.send_signal(SIGTERM)

    def kill(self):
        self.send_signal(SIGKILL)

    def __repr__(self):
        return f'<{type(self).__name__}: returncode: {self.returncode} args: {self.args!r}>'


class _PipeProtocol(asyncio.Protocol):
    """Forwards one pipe's events to the subprocess transport (like asyncio's
    WriteSubprocessPipeProto/ReadSubprocessPipeProto)."""

    def __init__(self, proc, fd):
        self.proc = proc
        self.fd = fd
        self.pipe = None
        self.disconnected = False

    def connection_made(self, transport):
        self.pipe = transport

    def __repr__(self):
        return f'<{type(self).__name__} fd={self.fd} pipe={self.pipe!r}>'

    def connection_lost(self, exc):
        self.disconnected = True
        self.proc._pipe_connection_lost(self.fd, exc)
        self.proc = None

    def pause_writing(self):
        self.proc._protocol.pause_writing()

    def resume_writing(self):
        self.proc._protocol.resume_writing()

    def data_received(self, data):
        self.proc._pipe_data_received(self.fd, data)


class ProcessTransport(asyncio.SubprocessTransport):
    """asyncio.SubprocessTransport for uvloop; made by loop.subprocess_exec/shell."""

    def __init__(self, loop, protocol, args, shell, stdin, stdout, stderr,
                 waiter, extra, popen_kwargs):
        super().__init__(extra)
        self._closed = False
        self._protocol = protocol
        self._loop = loop
        self._uvprocess = None
        self._proc = None
        self._pid = None
        self._returncode = None
        self._exit_waiters = []
        self._pending_calls = collections.deque()
        self._pipes = {}
        self._finished = False
        self._pipe_files = (None, None, None)
        self._connecting = None
        self._connection_made = False
        try:
            self._start(args, shell, stdin, stdout, stderr, popen_kwargs)
        except:
            self.close()
            raise
        self._extra['subprocess'] = self._proc
        if loop.get_debug():
            program = args if isinstance(args, (bytes, str)) else args[0]
            aio_logger.debug('process %r created: pid %s', program, self._pid)
        if self._pipes:
            loop.create_task(self._connect_pipes(waiter))
        else:
            # Nothing to connect: no task, no loop iteration to wait for.
            self._connected()
            waiter.set_result(None)

    # ----- spawning ---------------------------------------------------------------

    def _start(self, args, shell, stdin, stdout, stderr, popen_kwargs):
        for name in popen_kwargs:
            if name not in _POPEN_DEFAULTS:
                raise TypeError(
                    f"Popen.__init__() got an unexpected keyword argument '{name}'")
        kw = dict(_POPEN_DEFAULTS)
        kw.update(popen_kwargs)
        if kw['startupinfo'] is not None:
            raise ValueError('startupinfo is only supported on Windows platforms')
        if kw['creationflags'] != 0:
            raise ValueError('creationflags is only supported on Windows platforms')
        pass_fds = kw['pass_fds']
        close_fds = kw['close_fds']
        if pass_fds and not close_fds:
            warnings.warn('pass_fds overriding close_fds.', RuntimeWarning)
            close_fds = True
        process_group = kw['process_group']
        pgid = -1 if process_group is None else int(process_group)
        groups, gid, uid = _credentials(kw['user'], kw['group'], kw['extra_groups'])
        umask = int(kw['umask'])
        env = kw['env']

        # argv and the program, as Popen._execute_child builds them.
        if isinstance(args, (str, bytes)):
            args = [args]
        elif isinstance(args, os.PathLike):
            if shell:
                raise TypeError('path-like args is not allowed when shell is true')
            args = [args]
        else:
            args = list(args)
        executable = kw['executable']
        if shell:
            args = ['/bin/sh', '-c'] + args
            if executable:
                args[0] = executable
        if executable is None:
            executable = args[0]
        sys.audit('subprocess.Popen', executable, args, kw['cwd'], env)
        cwd = kw['cwd']

        to_close = []       # our fds to close after the spawn (the child ends)
        parent_files = []   # our file objects, closed if the spawn fails
        try:
            child_fds = []
            files = []
            for i, spec in enumerate((stdin, stdout, stderr)):
                child_fd, parent_fd = self._child_stdio(i, spec, child_fds, to_close)
                child_fds.append(child_fd)
                if parent_fd is not None:
                    if kw['pipesize'] > 0 and hasattr(fcntl_module, 'F_SETPIPE_SZ'):
                        fcntl_module.fcntl(parent_fd, fcntl_module.F_SETPIPE_SZ,
                                           kw['pipesize'])
                    f = open(parent_fd, 'wb' if i == 0 else 'rb', buffering=0)
                    parent_files.append(f)
                    files.append(f)
                else:
                    files.append(None)

            child = ChildPlan(
                _fsencode_all(args), _exec_paths(executable, env), _env_list(env),
                child_fds, [int(fd) for fd in pass_fds], close_fds,
                None if cwd is None else _fsencode_all((cwd,))[0], umask,
                kw['restore_signals'], kw['start_new_session'], pgid,
                groups, gid, uid, kw['preexec_fn'], executable, cwd)
            uvprocess = _spawn_process(self._loop, child, self._process_exited)
        except:
            for f in parent_files:
                f.close()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        self._uvprocess = uvprocess
        self._pid = (<ChildProcess>uvprocess).pid
        self._pipe_files = tuple(files)
        for i, f in enumerate(files):
            if f is not None:
                self._pipes[i] = None
        self._proc = _ProcessInfo(self, args, *files)

    def _child_stdio(self, int i, spec, list child_fds, list to_close):
        """(fd for the child's fd i or -1 to inherit, our end of a new pipe or None)."""
        if spec is None:
            return -1, None
        if spec == subprocess.PIPE:
            r, w = os.pipe()
            if i == 0:
                to_close.append(r)
                return r, w
            to_close.append(w)
            return w, r
        if spec == subprocess.DEVNULL:
            fd = os.open(os.devnull, os.O_RDWR)
            to_close.append(fd)
            return fd, None
        if spec == subprocess.STDOUT:
            if i != 2:
                raise ValueError('STDOUT can only be used for stderr')
            if child_fds[1] != -1:
                return child_fds[1], None
            return sys.__stdout__.fileno(), None
        if isinstance(spec, int):
            if spec < 0:
                raise ValueError(f'invalid file descriptor: {spec}')
            return spec, None
        return spec.fileno(), None

    # ----- asyncio.SubprocessTransport ------------------------------------------------

    def __repr__(self):
        info = [type(self).__name__]
        if self._closed:
            info.append('closed')
        if self._pid is not None:
            info.append(f'pid={self._pid}')
        if self._returncode is not None:
            info.append(f'returncode={self._returncode}')
        elif self._pid is not None:
            info.append('running')
        else:
            info.append('not started')
        for fd, name in ((0, 'stdin'), (1, 'stdout'), (2, 'stderr')):
            proto = self._pipes.get(fd)
            if proto is not None:
                info.append(f'{name}={proto.pipe}')
        return '<{}>'.format(' '.join(info))

    def set_protocol(self, protocol):
        self._protocol = protocol

    def get_protocol(self):
        return self._protocol

    def is_closing(self):
        return self._closed

    def close(self):
        """Close the pipes; kill the child if it still runs (as asyncio does)."""
        if self._closed:
            return
        self._closed = True
        for fd, proto in list(self._pipes.items()):
            if proto is not None:
                proto.pipe.close()
            elif fd != self._connecting:
                # Never connected (connecting failed, or close() came first): close
                # our end here and stop waiting for it, or the transport would never
                # finish. The one being connected is closed by _connect_pipes.
                del self._pipes[fd]
                f = self._pipe_files[fd]
                if f is not None:
                    f.close()
        if self._uvprocess is not None and self._returncode is None:
            if self._loop.get_debug():
                aio_logger.warning('Close running child process: kill %r', self)
            try:
                (<ChildProcess>self._uvprocess).send_signal(SIGKILL)
            except ProcessLookupError:
                pass
        self._try_finish()

    def __del__(self, _warn=warnings.warn):
        if not self._closed:
            _warn(f'unclosed transport {self!r}', ResourceWarning, source=self)
            self.close()

    def get_pid(self):
        return self._pid

    def get_returncode(self):
        return self._returncode

    def get_pipe_transport(self, fd):
        if fd in self._pipes:
            return self._pipes[fd].pipe
        return None

    def _check_proc(self):
        # asyncio's rule: ProcessLookupError once the transport finished (after
        # connection_lost); a signal to a process that exited but whose pipes are
        # still open is silently dropped (Popen.send_signal does the same).
        if self._proc is None:
            raise ProcessLookupError()

    def send_signal(self, signal):
        self._check_proc()
        self._proc.send_signal(signal)

    def terminate(self):
        self._check_proc()
        self._proc.terminate()

    def kill(self):
        self._check_proc()
        self._proc.kill()

    # ----- events -------------------------------------------------------------------

    async def _connect_pipes(self, waiter):
        try:
            loop = self._loop
            for fd, f in enumerate(self._pipe_files):
                if f is None or fd not in self._pipes:
                    continue    # no pipe, or close() already dropped it
                connect = loop.connect_write_pipe if fd == 0 else \
                    loop.connect_read_pipe
                self._connecting = fd
                try:
                    _, proto = await connect(
                        functools.partial(_PipeProtocol, self, fd), f)
                except BaseException:
                    if self._closed:
                        del self._pipes[fd]
                        f.close()
                        self._try_finish()
                    raise
                finally:
                    self._connecting = None
                self._pipes[fd] = proto
                if self._closed:
                    # close() ran while we waited: it left this one to us.
                    proto.pipe.close()
            self._connected()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            # The protocol will not be connected: drop what was queued for it, so
            # that the transport can still finish (and _wait() return) once the
            # caller closed it.
            self._pending_calls = None
            if waiter is not None and not waiter.cancelled():
                waiter.set_exception(exc)
        else:
            if waiter is not None and not waiter.cancelled():
                waiter.set_result(None)

    def _connected(self):
        """Every pipe is connected: connection_made(), then what happened meanwhile."""
        assert self._pending_calls is not None
        self._try_finish()
        self._connection_made = True
        loop = self._loop
        loop.call_soon(self._protocol.connection_made, self)
        for callback, data in self._pending_calls:
            loop.call_soon(callback, *data)
        self._pending_calls = None

    def _call(self, cb, *data):
        if self._pending_calls is not None:
            self._pending_calls.append((cb, data))
        elif cb != self._call_connection_lost and not self._connection_made:
            return      # the protocol was never connected (see _connect_pipes)
        else:
            self._loop.call_soon(cb, *data)

    def _pipe_connection_lost(self, fd, exc):
        self._call(self._protocol.pipe_connection_lost, fd, exc)
        self._try_finish()

    def _pipe_data_received(self, fd, data):
        self._call(self._protocol.pipe_data_received, fd, data)

    def _process_exited(self, returncode):
        if self._loop is None or self._returncode is not None:
            return
        if self._loop.get_debug():
            aio_logger.info('%r exited with return code %r', self, returncode)
        self._returncode = returncode
        self._call(self._protocol.process_exited)
        self._try_finish()

    async def _wait(self):
        """Wait until the process exits; return its return code."""
        if self._returncode is not None:
            return self._returncode
        waiter = self._loop.create_future()
        self._exit_waiters.append(waiter)
        return await waiter

    def _try_finish(self):
        if self._finished or self._returncode is None or self._loop is None:
            return
        if all(p is not None and p.disconnected for p in self._pipes.values()):
            self._finished = True
            self._call(self._call_connection_lost, None)

    def _call_connection_lost(self, exc):
        try:
            if self._connection_made:
                self._protocol.connection_lost(exc)
        finally:
            for waiter in self._exit_waiters:
                if not waiter.cancelled():
                    waiter.set_result(self._returncode)
            self._exit_waiters = None
            self._loop = None
            self._proc = None
            self._protocol = None


async def _make_subprocess_transport(loop, protocol, args, shell, stdin, stdout,
                                     stderr, extra, popen_kwargs):
    waiter = loop.create_future()
    transport = ProcessTransport(loop, protocol, args, shell, stdin, stdout, stderr,
                                 waiter, extra, popen_kwargs)
    try:
        await waiter
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transport.close()
        await transport._wait()
        raise
    return transport


cdef _check_subprocess_args(universal_newlines, bufsize, text, encoding, errors):
    # asyncio's checks and messages (base_events.subprocess_exec/shell).
    if universal_newlines:
        raise ValueError('universal_newlines must be False')
    if bufsize != 0:
        raise ValueError('bufsize must be 0')
    if text:
        raise ValueError('text must be False')
    if encoding is not None:
        raise ValueError('encoding must be None')
    if errors is not None:
        raise ValueError('errors must be None')


cdef _log_subprocess(msg, stdin, stdout, stderr):
    aio_log_subprocess(None, msg, stdin, stdout, stderr)
