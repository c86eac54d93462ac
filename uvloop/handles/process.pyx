# Child processes: the handles that spawn and watch one child each, the base shared by
# the two spawn paths (ChildProcess), the fast spawn's PidfdProcess and the locked
# spawn's UVProcess (which path takes a child, and why there are two: spawn/spawn.pyx).
#
# Needs: ChildPlan (spawn/plan.pyx), the spawn lock and forking state helpers and the
# child's report (spawn/spawn.pyx), the C side (spawn/spawn.c).
#
# Life of a PidfdProcess's uv_poll_t (base rules in handle.pyx):
# - `_init()` makes the child first (uvloop_spawn_clone: the child and its pidfd in one
#   system call, so the pidfd names our child even if someone else reaps it at once). A
#   child that failed before exec is reaped at once and its error raised, with no
#   handle; one that exec'd gets the handle.
# - When the pidfd turns readable the child exited: waitid(P_PIDFD) reaps it (or finds
#   it reaped elsewhere: returncode 255), the handle is closed, then the exit callback
#   runs. The pidfd is closed with the handle. Signals go through the pidfd: never to
#   a process that got the pid number later.
# - A handle closed while its child runs (the loop closed first) hands the pidfd to a
#   daemon thread that waits through it (and closes it).
#
# Life of a UVProcess's uv_process_t:
# - `_init()` allocates it and calls uv_spawn() inside the spawn critical section.
#   uv_spawn() registers the handle with the loop whether it succeeds or not, so it is
#   attached (and later closed) either way.
# - While the child runs, libuv keeps its pid in this loop's process queue; this loop's
#   own SIGCHLD watcher reaps it and calls `_on_exit`, which closes the handle. Loops in
#   other threads never wait for our pids, nor we for theirs. A child reaped by someone
#   else is reported as exited with status 255 (spawn.c's uvloop_waitpid), where libuv
#   alone would wait for it forever.
# - A child that failed before exec (bad cwd, missing program, preexec_fn raised) is
#   taken away from libuv (the handle is closed) and reaped at once by `_init`, so the
#   error is raised with no zombie left.
# - A handle closed while its child still runs (the loop closed first) hands the pid to
#   a daemon thread that waits for it, as asyncio's threaded child watcher would.

from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset
from posix.signal cimport SIG_BLOCK

import os
import subprocess
import threading


cdef _warn_exit_status_lost(pid_t pid):
    # A child reaped by someone else (SIGCHLD set to SIG_IGN, a waitpid(-1) in another
    # thread): its exit status is gone. asyncio's child watchers report 255, so do we.
    aio_logger.warning('Unknown child process pid %d, will report returncode 255', pid)


def _wait_for_orphan(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _wait_for_orphan_pidfd(int pidfd):
    cdef int returncode
    with nogil:
        # uv_poll_init() made it non-blocking: waitid() would not wait on it.
        fcntl(pidfd, F_SETFL, fcntl(pidfd, F_GETFL) & ~O_NONBLOCK)
        uvloop_pidfd_reap(pidfd, 0, &returncode)
        close(pidfd)


cdef _start_orphan_reaper(target, int pid, int pid_or_pidfd):
    # A daemon thread, as asyncio's threaded child watcher: nobody else reaps the
    # child of a closed loop.
    threading.Thread(target=target, args=(pid_or_pidfd,), name=f'uvloop-reap-{pid}',
                     daemon=True).start()


cdef class ChildProcess(UVHandle):
    """One child process: spawns it, signals it, reports its exit (base of the two
    ways to spawn)."""

    def __cinit__(self):
        self.pid = 0
        self.returncode = None

    def __repr__(self):
        return f'<{type(self).__name__} pid={self.pid} returncode={self.returncode}>'

    cdef _init(self, Loop loop, ChildPlan child_plan, exit_callback):
        """Spawn the child (raise if it failed before exec); `exit_callback` gets the
        returncode once it exited."""
        raise NotImplementedError

    cdef _exited(self, int returncode):
        # asyncio's convention: a negative signal number for a child killed by one.
        self.returncode = returncode
        self.close()
        callback = self._exit_callback
        self._exit_callback = None
        if callback is not None:
            callback(returncode)

    cdef _reap_failed_child(self):
        # The child exited (or is about to) before exec: wait for it here, so the error
        # is raised with no zombie left.
        try:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            self.returncode = 255

    cdef _on_closed(self):
        self._exit_callback = None
        if self.returncode is None and self.pid > 0:
            # Closed while the child runs (the loop closed): nobody reaps it now.
            self._reap_orphan()

    cdef _reap_orphan(self):
        _start_orphan_reaper(_wait_for_orphan, self.pid, self.pid)

    cdef int _kill(self, int signum):
        """Send the signal; 0 or -errno."""
        raise NotImplementedError

    cdef send_signal(self, int signum):
        """Signal the child; ProcessLookupError once it exited."""
        if self.returncode is not None or not self.is_open():
            raise ProcessLookupError()
        err = self._kill(signum)
        if err < 0:
            raise convert_error(err)


# ----- the fast spawn ------------------------------------------------------------------


cdef void _on_pidfd_event(uv.uv_poll_t* handle, int status,
                          int events) noexcept:
    cdef PidfdProcess proc = <PidfdProcess>handle.data
    try:
        proc._on_pidfd_readable()
    except BaseException as exc:
        proc._loop._handle_callback_error(exc, proc)


cdef class PidfdProcess(ChildProcess):
    """A child of the fast spawn: made by the loop itself (clone() with vfork()'s
    semantics), watched and reaped through its pidfd."""

    def __cinit__(self):
        self._pidfd = -1

    cdef _init(self, Loop loop, ChildPlan child_plan, exit_callback):
        cdef pid_t pid
        cdef int pidfd = -1
        cdef int err, returncode
        self._exit_callback = exit_callback
        child_plan.report.err = 0
        child_plan.plan.errpipe = -1       # the child reports through .report
        # The new program gets this thread's signal mask.
        pthread_sigmask(SIG_BLOCK, NULL, &child_plan.plan.sigmask)
        with nogil:
            # Without the GIL: other threads and loops run while this one is suspended
            # until the child exec'd. A child that failed is reaped here.
            pid = uvloop_spawn_clone(&child_plan.plan, &pidfd)
            if pid > 0 and child_plan.report.err != 0:
                uvloop_pidfd_reap(pidfd, 0, &returncode)
                close(pidfd)
        if pid < 0:
            raise convert_error(pid)
        self.pid = pid
        if child_plan.report.err != 0:
            self.returncode = 255
            raise _child_os_error(child_plan, child_plan.report.err,
                                  child_plan.report.stage)
        # From here on the program runs: what goes wrong is ours, and the pidfd
        # names our child whatever happened to it meanwhile.
        self._pidfd = pidfd
        try:
            self._alloc(loop, sizeof(uv.uv_poll_t))
        except BaseException:
            self._abandon_child()
            raise
        err = uv.uv_poll_init(loop.uvloop, <uv.uv_poll_t*>self._handle, pidfd)
        if err < 0:
            self._free_unattached()
            self._abandon_child()
            raise convert_error(err)
        self._attach()
        err = uv.uv_poll_start(<uv.uv_poll_t*>self._handle, uv.UV_READABLE,
                               _on_pidfd_event)
        if err < 0:
            # Closing the handle hands the killed child to the orphan reaper.
            self._kill(SIGKILL)
            self.close()
            raise convert_error(err)

    cdef _abandon_child(self):
        # The child runs but cannot be watched: kill it, reap it, forget the pidfd.
        cdef int returncode = 255
        uvloop_pidfd_send_signal(self._pidfd, SIGKILL)
        with nogil:
            uvloop_pidfd_reap(self._pidfd, 0, &returncode)
        self.returncode = returncode
        close(self._pidfd)
        self._pidfd = -1

    cdef _on_pidfd_readable(self):
        cdef int returncode = 0
        cdef int reaped
        if self.returncode is not None:
            return
        reaped = uvloop_pidfd_reap(self._pidfd, WNOHANG, &returncode)
        if reaped == 0:
            return         # not yet (the pidfd said otherwise): wait for the next event
        if reaped == -ECHILD:
            _warn_exit_status_lost(self.pid)
            returncode = 255
        elif reaped < 0:
            raise convert_error(reaped)
        self._exited(returncode)

    cdef int _kill(self, int signum):
        # Through the pidfd: it names this child even if its pid was reused meanwhile.
        return uvloop_pidfd_send_signal(self._pidfd, signum)

    cdef _on_closed(self):
        # uv_close() stopped the watch at once; the pidfd is ours to close, or the
        # orphan reaper's.
        ChildProcess._on_closed(self)
        if self._pidfd >= 0:
            close(self._pidfd)
            self._pidfd = -1

    cdef _reap_orphan(self):
        # Through the pidfd, never a process that got the pid number later.
        cdef int pidfd = self._pidfd
        self._pidfd = -1
        try:
            _start_orphan_reaper(_wait_for_orphan_pidfd, self.pid, pidfd)
        except BaseException:
            close(pidfd)
            raise


# ----- the locked spawn ----------------------------------------------------------------


cdef void _on_process_exit(uv.uv_process_t* handle, int64_t exit_status,
                           int term_signal) noexcept:
    cdef UVProcess proc = <UVProcess>handle.data
    try:
        proc._on_exit(exit_status, term_signal)
    except BaseException as exc:
        proc._loop._handle_callback_error(exc, proc)


cdef _refuse_reentrant_spawn(Loop loop):
    # Checked before taking the spawn lock, so a re-entrant spawn raises instead of
    # waiting forever for a lock its own thread holds. It can only come from code that
    # runs inside the critical section: an os.register_at_fork() hook.
    if loop.active_process_handler is not None:
        raise RuntimeError(
            f'cannot spawn a process from within the spawn of another process '
            f'on the same event loop ({loop.active_process_handler!r} is being '
            f'spawned; was subprocess_exec/subprocess_shell called from an '
            f'os.register_at_fork() hook?)')
    if uvloop_thread_in_spawn:
        # This thread holds the spawn lock, so reading the forking state is safe.
        raise RuntimeError(
            f'cannot spawn a process from within the spawn of another process '
            f'in the same thread (on {<object>uvloop_forking.loop!r}; was a '
            f'process spawned from an os.register_at_fork() hook?)')


cdef class UVProcess(ChildProcess):
    """A child of the locked spawn: uv_spawn() inside the spawn critical section."""

    cdef _init(self, Loop loop, ChildPlan child_plan, exit_callback):
        cdef uv.uv_process_options_t options
        cdef int errpipe[2]
        cdef int err

        _refuse_reentrant_spawn(loop)
        self._exit_callback = exit_callback
        err = uvloop_spawn_errpipe(errpipe)
        if err < 0:
            raise convert_error(err)
        try:
            child_plan.set_errpipe(errpipe[1])
            memset(&options, 0, sizeof(options))
            options.exit_cb = _on_process_exit
            options.file = child_plan.plan.exec_paths[0] if child_plan.plan.exec_count \
                else child_plan.plan.argv[0]
            options.args = <char**>child_plan.plan.argv
            # No stdio for libuv: our child code sets the child's fds up itself.
            options.stdio_count = 0
            options.stdio = NULL
            # The forking thread's signal mask, for the new program (libuv forks with
            # most signals blocked).
            pthread_sigmask(SIG_BLOCK, NULL, &child_plan.plan.sigmask)

            err = self._uv_spawn_locked(loop, &options, child_plan)
            # uv_spawn() registered the handle with the loop even if it failed.
            self._attach()
            close(errpipe[1])
            errpipe[1] = -1
            if err < 0:
                self.close()
                raise convert_error(err)
            self.pid = (<uv.uv_process_t*>self._handle).pid
            report = _read_child_report(errpipe[0])
        finally:
            close(errpipe[0])
            if errpipe[1] >= 0:
                close(errpipe[1])

        if report != b'S':
            self._raise_child_failure(child_plan, report)

    cdef object _uv_spawn_locked(self, Loop loop, uv.uv_process_options_t* options,
                                 ChildPlan child_plan):
        """uv_spawn() inside the spawn critical section, the only one: the spawn lock
        is held around the fork handler's set-up and uv_spawn(), and released, with
        the forking state reset, on every path. Returns uv_spawn()'s result."""
        cdef uv.uv_stdio_container_t bad_stdio
        cdef int err = 0
        cdef bint spawned = False
        self._alloc(loop, sizeof(uv.uv_process_t))
        loop.active_process_handler = self
        try:
            _spawn_lock.acquire()
            try:
                _forking_begin(loop, child_plan)
                _test_inject_spawn_failure(options, &bad_stdio)
                PyOS_BeforeFork()
                if child_plan.preexec_fn is not None or UVLOOP_FORK_HOLDS_RUNTIME_LOCK:
                    # The child needs the GIL to run preexec_fn: fork while holding
                    # it, so that the child's copy of this thread holds it. From
                    # Python 3.13 PyOS_BeforeFork() also holds the runtime's lock
                    # until PyOS_AfterFork_Parent(): a thread given the GIL meanwhile
                    # could wait for that lock while holding the GIL, and this thread
                    # would wait for the GIL forever.
                    err = uv.uv_spawn(loop.uvloop, <uv.uv_process_t*>self._handle,
                                      options)
                else:
                    # No Python runs in the child: let other threads run during fork()
                    # and the wait for exec.
                    with nogil:
                        err = uv.uv_spawn(loop.uvloop, <uv.uv_process_t*>self._handle,
                                          options)
                spawned = True
                PyOS_AfterFork_Parent()
            finally:
                _forking_end()
                _spawn_lock.release()
        finally:
            loop.active_process_handler = None
            if not spawned:
                self._free_unattached()
        return err

    cdef _raise_child_failure(self, ChildPlan child_plan, bytes report):
        cdef int errnum
        if not report:
            # The child code never ran: this libuv did not fork (posix_spawn?), so close_fds,
            # pass_fds, preexec_fn, ... were not honoured. Refuse the child.
            uv.uv_process_kill(<uv.uv_process_t*>self._handle, SIGKILL)
            self._reap_failed_child()
            raise RuntimeError(
                'the child process was started without running uvloop\'s child '
                'set-up (libuv did not spawn with fork()); it was killed')
        self._reap_failed_child()
        kind = report[1:2]
        if kind == b'O' and len(report) >= 3 + <Py_ssize_t>sizeof(int):
            memcpy(&errnum, <char*>report + 2, sizeof(int))
            raise _child_os_error(child_plan, errnum, report[2 + sizeof(int)])
        if kind == b'P':
            raise _preexec_failure(report[2:])
        raise subprocess.SubprocessError(f'Bad report from the child: {report!r}')

    cdef _reap_failed_child(self):
        # Take the child from libuv first (closing the handle removes it from the loop's
        # process queue), so that only we wait for it.
        self.close()
        ChildProcess._reap_failed_child(self)

    cdef _on_exit(self, int64_t exit_status, int term_signal):
        if uvloop_exit_status_lost(self.pid):
            # Reaped by someone else: libuv's waitpid() is spawn.c's uvloop_waitpid,
            # which reported it as exit status 255.
            _warn_exit_status_lost(self.pid)
        self._exited(-term_signal if term_signal else <int>exit_status)

    cdef int _kill(self, int signum):
        return uv.uv_process_kill(<uv.uv_process_t*>self._handle, signum)
