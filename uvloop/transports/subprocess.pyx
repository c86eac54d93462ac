# The subprocess transport (asyncio.SubprocessTransport) over a ChildProcess (either
# spawn path, handles/process.pyx: one transport for both) and its stdio pipes.
#
# Needs: ChildPlan (spawn/plan.pyx), _spawn_process (spawn/spawn.pyx), the pipe
# transports (pipe.pyx).
#
# One mechanism for both: subprocess_shell is subprocess_exec of [/bin/sh, -c, cmd]
# (the plan says which). Semantics follow asyncio's BaseSubprocessTransport: protocol
# callbacks in the order connection_made, pipe_data_received..., pipe_connection_lost
# (per pipe), process_exited, then connection_lost once the process exited AND every
# pipe closed; `_wait()` (asyncio.subprocess.Process.wait) completes after
# connection_lost. All of them run in the context the transport was made in (as
# upstream uvloop; asyncio runs process_exited in its child watcher's context).
#
# Pipes: each PIPE is an os.pipe() whose child end is given to the child and whose
# parent end, as a file object, goes to a pipe transport of ours, as asyncio does with
# Popen's file objects. The pipe transports own those file objects. They are made
# right after the spawn, so their protocols' connection_made() run first; the
# subprocess protocol's connection_made() follows, then what happened meanwhile.

import asyncio
import collections
import fcntl as fcntl_module
import os
import subprocess
import sys
import warnings


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

    def __init__(self, loop, protocol, ChildPlan plan, waiter, extra):
        super().__init__(extra)
        self._closed = False
        self._protocol = protocol
        self._loop = loop
        # Every protocol callback runs here, whoever triggers it (the exit watcher,
        # a pipe): the context current when the transport was made.
        self._context = PyContext_CopyCurrent()
        self._uvprocess = None
        self._proc = None
        self._pid = None
        self._returncode = None
        self._exit_waiters = []
        self._pending_calls = collections.deque()
        self._pipes = {}
        self._finished = False
        self._connection_made = False
        try:
            files = self._spawn(plan)
        except:
            self.close()
            raise
        self._extra['subprocess'] = self._proc
        if loop.get_debug():
            aio_logger.debug('process %r created: pid %s', plan.args[0], self._pid)
        try:
            self._open_pipes(files)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            # The protocol will not be connected: drop what was queued for it, so
            # that the transport can still finish (and _wait() return) once the
            # caller closed it.
            self._pending_calls = None
            waiter.set_exception(exc)
            return
        if self._pipes:
            # After the pipe protocols' connection_made(), queued by their transports.
            loop.call_soon(self._connected, waiter)
        else:
            # Nothing to connect: no loop iteration to wait for.
            self._connected(waiter)

    # ----- spawning ---------------------------------------------------------------

    def _spawn(self, ChildPlan plan):
        """Make the child's stdio, spawn it; our ends of its pipes, as file objects
        (None where there is no pipe)."""
        to_close = []       # our fds to close after the spawn (the child ends)
        files = []          # our file objects, closed if the spawn fails
        try:
            for i, spec in enumerate(plan.stdio_specs):
                child_fd, parent_fd = _child_stdio(i, spec, plan, to_close)
                plan.set_stdio(i, child_fd)
                if parent_fd is None:
                    files.append(None)
                    continue
                # Our end becomes a file first: closed with the others if what
                # follows fails.
                files.append(open(parent_fd, 'wb' if i == 0 else 'rb', buffering=0))
                if plan.pipesize > 0 and hasattr(fcntl_module, 'F_SETPIPE_SZ'):
                    fcntl_module.fcntl(parent_fd, fcntl_module.F_SETPIPE_SZ,
                                       plan.pipesize)
            uvprocess = _spawn_process(self._loop, plan, self._process_exited)
        except:
            for f in files:
                if f is not None:
                    f.close()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        self._uvprocess = uvprocess
        self._pid = (<ChildProcess>uvprocess).pid
        self._proc = _ProcessInfo(self, plan.args, *files)
        return files

    def _open_pipes(self, list files):
        """A pipe transport over each of our pipe ends (all closed if one fails)."""
        cdef Loop loop = self._loop
        for fd, f in enumerate(files):
            if f is None:
                continue
            proto = _PipeProtocol(self, fd)
            try:
                proto.pipe = _new_pipe_transport(loop, fd == 0, f, proto, None,
                                                 self._context)
            except BaseException:
                f.close()
                for other in files[fd + 1:]:
                    if other is not None:
                        other.close()
                raise
            self._pipes[fd] = proto

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
        for proto in self._pipes.values():
            proto.pipe.close()
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

    def _connected(self, waiter):
        """Every pipe is connected: connection_made(), then what happened meanwhile."""
        if self._pending_calls is None:
            return      # connecting failed meanwhile (see __init__)
        self._try_finish()
        self._connection_made = True
        loop = self._loop
        loop.call_soon(self._protocol.connection_made, self, context=self._context)
        for callback, data in self._pending_calls:
            loop.call_soon(callback, *data, context=self._context)
        self._pending_calls = None
        if not waiter.cancelled():
            waiter.set_result(None)

    def _call(self, cb, *data):
        if self._pending_calls is not None:
            self._pending_calls.append((cb, data))
        elif cb != self._call_connection_lost and not self._connection_made:
            return      # the protocol was never connected (see _connected)
        else:
            self._loop.call_soon(cb, *data, context=self._context)

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
        if all(p.disconnected for p in self._pipes.values()):
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


async def _make_subprocess_transport(Loop loop, protocol, ChildPlan plan, extra):
    waiter = loop.create_future()
    transport = ProcessTransport(loop, protocol, plan, waiter, extra)
    try:
        await waiter
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transport.close()
        await transport._wait()
        raise
    return transport


cdef tuple _child_stdio(int i, spec, ChildPlan plan, list to_close):
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
    if spec == subprocess.STDOUT:     # stderr only (spawn/plan.pyx checked it)
        if plan.plan.stdio[1] != -1:
            return plan.plan.stdio[1], None
        return sys.__stdout__.fileno(), None
    return spec, None                 # an fd >= 0 (spawn/plan.pyx)
