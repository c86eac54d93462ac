# Child processes: the two ways of spawning one, and the handles that watch them.
#
# Which way (`_spawn_process()`, called by the subprocess transport):
# - The fast spawn, `PidfdProcess`, for every child that runs no Python before exec (no
#   preexec_fn) and keeps our credentials (no user, group, extra_groups): the loop
#   vfork()s the child itself (spawn.h, uvloop_spawn_vfork), outside libuv, without the
#   GIL and without any lock: the child's plan lives in the spawning thread's own
#   memory, and no process-wide state is read or written. The loop learns of the exit
#   from the child's pidfd (pidfd_open) watched by a uv_poll_t, and reaps that pid alone
#   with waitpid(). No SIGCHLD handler is involved.
# - The locked spawn, `UVProcess`, for the rest: a child that needs a real fork()
#   (`ChildPlan.needs_fork`: it runs Python with the GIL, or changes credentials, see
#   spawn.h), a kernel without pidfd_open or a vfork() that does not share memory (both
#   detected once), or tests forcing it (UVLOOP_SPAWN_LOCKED=1, `_force_locked_spawn()`).
#   libuv's uv_spawn() inside the spawn critical section described below.
# Both run the same child code (spawn.h, uvloop_spawn_child) from the same ChildPlan and
# raise the same exceptions; the transport sees the same ChildProcess interface.
#
# Life of a PidfdProcess's uv_poll_t (base rules in handle.pyx):
# - `_init()` vfork()s first; only a child that exec'd gets a pidfd and a handle. A child
#   that failed before exec is reaped at once and its error raised, with no handle.
# - When the pidfd turns readable the child exited: waitpid(pid) reaps it, the handle is
#   closed, then the exit callback runs. The pidfd is closed with the handle.
# - A handle closed while its child runs (the loop closed first) hands the pid to a
#   daemon thread that waits for it, as for a UVProcess.
#
# Life of a UVProcess's uv_process_t:
# - `_init()` allocates it and calls uv_spawn(). uv_spawn() registers the handle with
#   the loop whether it succeeds or not, so it is attached (and later closed) either way.
# - While the child runs, libuv keeps its pid in this loop's process queue; this loop's
#   own SIGCHLD watcher reaps it and calls `_on_exit`, which closes the handle. Loops in
#   other threads never wait for our pids, nor we for theirs.
# - A child that failed before exec (bad cwd, missing program, preexec_fn raised) is
#   taken away from libuv (the handle is closed) and reaped at once by `_init`, so the
#   error is raised with no zombie left.
# - A handle closed while its child still runs (the loop closed first) hands the pid to
#   a daemon thread that waits for it, as asyncio's threaded child watcher would.
#
# The spawn critical section of the locked spawn (why it exists: uvloop issue #508): the
# child side of a spawn runs from a pthread_atfork child handler that reads module-level
# state (the `__forking` state below). PyOS_BeforeFork() runs Python code
# (os.register_at_fork hooks), so the GIL can pass to another thread in the middle of a
# spawn; if that thread spawned too, it would overwrite the state this spawn's child is
# about to read. One module-level lock guards that state, and only that state: it is
# held around setting it, PyOS_BeforeFork(), uv_spawn() and PyOS_AfterFork_Parent(), and
# released in a `finally` that resets the state on every path. The fast spawn touches
# none of it, and, like CPython's subprocess without preexec_fn, runs no
# os.register_at_fork hooks.

from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset
from posix.signal cimport SIG_BLOCK

import os
import subprocess
import threading


# The lock. A threading.Lock: its blocking acquire() waits without the GIL, so other
# threads and their loops keep running while one thread spawns.
cdef object _spawn_lock = threading.Lock()

# The `__forking` state: read by the child handler, written only under _spawn_lock.
cdef bint __forking = False
cdef pthread_t __forking_thread          # the thread inside uv_spawn()
cdef Loop __forking_loop = None          # its loop
cdef void (*__forking_handler)(const uvloop_spawn_plan*) noexcept nogil
cdef const uvloop_spawn_plan* __forking_plan = NULL
cdef object __forking_preexec_fn = None

# pthread_atfork handlers cannot be removed, and each registration adds one more call
# per fork: register ours once (under _spawn_lock).
cdef bint __atfork_registered = False

# Tests only: make the next uv_spawn() fail inside the critical section (see
# _fail_next_spawn below).
cdef bint __fail_next_spawn = False

# Which spawn: the fast one unless a test forces the locked one for every spawn.
cdef bint __spawn_locked_only = os.environ.get('UVLOOP_SPAWN_LOCKED', '') not in ('', '0')

# Can the fast spawn work here? It needs pidfds from the kernel (seccomp can also say
# EPERM) and a vfork() child that shares our memory (not so under ThreadSanitizer or
# valgrind). Found out once, by the first spawn: 0 not yet known, 1 yes, -1 no. Threads
# that race to find out store the same answer.
cdef int __fast_spawn_support = 0

# How the locked spawn makes the child. By default libuv's fork() is a vfork()
# (spawn.h) unless the child needs a real fork() (`ChildPlan.needs_fork`), and the
# child set-up runs from the pthread_atfork child handler. Both ways run the same child
# code; UVLOOP_SPAWN_WITH_FORK=1 in the environment (or _spawn_with_fork(True)) forces
# fork() for every locked spawn, so that tests can cover that way too.
cdef bint __spawn_with_fork = os.environ.get('UVLOOP_SPAWN_WITH_FORK', '') not in ('', '0')


cdef void __atfork_child() noexcept nogil:
    # In every child of every fork() of this process. Acts only in the child of the
    # thread that set the state: a fork by any other thread (or by C code while no
    # spawn runs) is none of our business.
    if __forking and pthread_equal(__forking_thread, pthread_self()) and \
            __forking_handler is not NULL:
        __forking_handler(__forking_plan)


cdef int __run_preexec_fn_in_child() noexcept:
    # Called by spawn.h in the child, holding the GIL the forking thread held at fork
    # time (uv_spawn() is called with the GIL held for exactly this reason).
    PyOS_AfterFork_Child()
    try:
        aio_set_running_loop(None)    # the parent's loop is not ours to drive here
        __forking_preexec_fn()
    except BaseException as exc:
        _report_preexec_failure(__forking_plan.errpipe, exc)
        return -1
    return 0


cdef _report_preexec_failure(int fd, exc):
    # The exception goes to the parent pickled, with its traceback as text (pickle drops
    # tracebacks); the parent raises SubprocessError from it.
    import pickle
    import traceback
    tb = ''.join(traceback.format_exception(exc))
    try:
        payload = pickle.dumps((exc, tb))
    except BaseException:
        payload = pickle.dumps((None, tb))
    data = b'P' + payload
    while data:
        try:
            data = data[os.write(fd, data):]
        except InterruptedError:
            continue
        except OSError:
            return


def _fail_next_spawn():
    """Tests only: the next uv_spawn() (in any thread) fails with EINVAL inside the
    critical section, through libuv's own error path (an invalid stdio fd)."""
    global __fail_next_spawn
    __fail_next_spawn = True


def _spawn_with_fork(force=None):
    """Tests only: force fork() (True) or allow vfork() (False) for spawns without
    preexec_fn; return the previous setting."""
    global __spawn_with_fork
    previous = __spawn_with_fork
    if force is not None:
        __spawn_with_fork = force
    return previous


def _force_locked_spawn(force=None):
    """Tests only: send every spawn through the locked path (True) or let children that
    run no Python take the fast one (False); return the previous setting."""
    global __spawn_locked_only
    previous = __spawn_locked_only
    if force is not None:
        __spawn_locked_only = force
    return previous


def _fast_spawn_support(value=None):
    """Tests only: what is known of the fast spawn's support here (1 yes, -1 no, 0 not
    yet probed); `value` overrides it (-1 makes every spawn take the locked path, as on
    a kernel without pidfd_open). Return the previous value."""
    global __fast_spawn_support
    previous = __fast_spawn_support
    if value is not None:
        uvloop_atomic_store_int(&__fast_spawn_support, value)
    return previous


def _vfork_shares_memory():
    """Tests only: run the probe the first spawn runs (one throwaway child)."""
    return uvloop_vfork_shares_memory()


cdef int _probe_fast_spawn() noexcept:
    """1 if the fast spawn works here, -1 if it never will, 0 if it cannot be told now."""
    cdef int fd = uvloop_pidfd_open(getpid())  # our own pid has one wherever any has
    if fd in (-ENOSYS, -EPERM, -EINVAL):
        return -1
    if fd < 0:
        return 0      # EMFILE and such: ask again next time
    close(fd)
    cdef int shares = uvloop_vfork_shares_memory()
    if shares < 0:
        return 0      # EAGAIN (process limit) and such
    return 1 if shares else -1


cdef bint _fast_spawn_possible() noexcept:
    cdef int support = uvloop_atomic_load_int(&__fast_spawn_support)
    if support == 0:
        support = _probe_fast_spawn()
        if support == 0:
            return False
        uvloop_atomic_store_int(&__fast_spawn_support, support)
    return support > 0


cdef ChildProcess _spawn_process(Loop loop, ChildPlan child, exit_callback):
    """Spawn the child `child` describes, the fast way when nothing stands in the way."""
    cdef ChildProcess process
    if not child.needs_fork and not __spawn_locked_only and \
            _fast_spawn_possible():
        process = PidfdProcess.__new__(PidfdProcess)
    else:
        process = UVProcess.__new__(UVProcess)
    process._init(loop, child, exit_callback)
    return process


def _fork_calls():
    """Tests only: how many times libuv called fork() (routed to spawn.h's
    uvloop_fork; stays 0 with a system libuv)."""
    return uvloop_fork_calls


def _spawn_state():
    """Tests only: (forking flag, spawn lock held) as seen right now."""
    return bool(__forking), _spawn_lock.locked()


cdef class ChildPlan:
    """What the child does between fork and exec (a uvloop_spawn_plan), with every
    buffer it points into allocated here, before fork."""

    def __cinit__(self):
        self._argv = NULL
        self._envp = NULL
        self._exec_paths = NULL
        self._keep_fds = NULL
        self._groups = NULL

    def __dealloc__(self):
        PyMem_RawFree(self._argv)
        PyMem_RawFree(self._envp)
        PyMem_RawFree(self._exec_paths)
        PyMem_RawFree(self._keep_fds)
        PyMem_RawFree(self._groups)

    def __init__(self, list args not None, list exec_paths not None, env_list,
                 stdio, pass_fds, bint close_fds, cwd, int umask,
                 bint restore_signals, bint start_new_session, int pgid,
                 groups, gid, uid, preexec_fn, executable, cwd_for_errors):
        """args, exec_paths, env_list: lists of bytes (env_list None: inherit).
        groups, gid, uid: None (unchanged), else a list of ids and two ids."""
        self._buffers = []
        self._argv = self._cstrings(args)
        self.plan.argv = self._argv
        self._exec_paths = self._cstrings(exec_paths)
        self.plan.exec_paths = self._exec_paths
        self.plan.exec_count = len(exec_paths)
        if env_list is not None:
            self._envp = self._cstrings(env_list)
            self.plan.envp = self._envp
        else:
            self.plan.envp = NULL
        for i in range(3):
            self.plan.stdio[i] = stdio[i]
        # Room for the error pipe, added once it exists.
        keep = sorted(set(pass_fds))
        self._keep_fds = <int*>PyMem_RawMalloc((len(keep) + 1) * sizeof(int))
        if self._keep_fds is NULL:
            raise MemoryError()
        for i, fd in enumerate(keep):
            self._keep_fds[i] = fd
        self.plan.keep_fds = self._keep_fds
        self.plan.keep_count = len(keep)
        self.plan.close_fds = close_fds
        if cwd is not None:
            self._buffers.append(cwd)
            self.plan.cwd = <bytes>cwd
        else:
            self.plan.cwd = NULL
        self.plan.umask = umask
        self.plan.restore_signals = restore_signals
        self.plan.start_new_session = start_new_session
        self.plan.pgid = pgid
        self._set_credentials(groups, gid, uid)
        self.plan.errpipe = -1
        self.plan.report = &self.report
        self.preexec_fn = preexec_fn
        if preexec_fn is not None:
            import pickle    # imported here, not in the child
            self.plan.preexec = __run_preexec_fn_in_child
        else:
            self.plan.preexec = NULL
        self.executable = executable
        self.cwd = cwd_for_errors
        self.needs_fork = (preexec_fn is not None or groups is not None or
                           gid is not None or uid is not None)

    cdef _set_credentials(self, groups, gid, uid):
        cdef Py_ssize_t i
        self.plan.ngroups = -1
        if groups is not None:
            self._groups = <gid_t*>PyMem_RawMalloc((len(groups) + 1) * sizeof(gid_t))
            if self._groups is NULL:
                raise MemoryError()
            for i, group in enumerate(groups):
                self._groups[i] = group
            self.plan.groups = self._groups
            self.plan.ngroups = len(groups)
        self.plan.gid = -1 if gid is None else gid
        self.plan.uid = -1 if uid is None else uid

    cdef char** _cstrings(self, list items) except NULL:
        cdef char** array = <char**>PyMem_RawMalloc((len(items) + 1) * sizeof(char*))
        cdef Py_ssize_t i
        if array is NULL:
            raise MemoryError()
        for i, item in enumerate(items):
            self._buffers.append(item)
            array[i] = <bytes>item
        array[len(items)] = NULL
        return array

    cdef _set_errpipe(self, int fd):
        # keep_fds stays sorted: insert the error pipe in its place.
        cdef int i = self.plan.keep_count
        while i > 0 and self._keep_fds[i - 1] > fd:
            self._keep_fds[i] = self._keep_fds[i - 1]
            i -= 1
        self._keep_fds[i] = fd
        self.plan.keep_count += 1
        self.plan.errpipe = fd


cdef _make_errpipe():
    """A close-on-exec pipe whose write end is >= 3 (it must survive the child's dup2
    onto 0, 1, 2)."""
    r, w = os.pipe()
    low = []
    while w < 3:
        low.append(w)
        w = os.dup(w)     # os.dup() returns a close-on-exec fd
    for fd in low:
        os.close(fd)
    return r, w


cdef bytes _read_child_report(int fd):
    # EOF arrives when the child exec'd or exited: uv_spawn() already waited for that,
    # so this does not block (os.read releases the GIL if it ever has to).
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def _wait_for_orphan(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


cdef _child_os_error(ChildPlan child, int errnum, char stage):
    """The OSError for a child that failed before exec, as subprocess words it: a step
    before exec (stage 'n': chdir, dup2, ...) names the cwd, exec (stage 'x') the
    program."""
    filename = child.cwd if stage == c'n' else child.executable
    return OSError(errnum, os.strerror(errnum), filename)


cdef class ChildProcess(UVHandle):
    """One child process: spawns it, signals it, reports its exit (base of the two
    ways to spawn)."""

    def __cinit__(self):
        self.pid = 0
        self.returncode = None

    def __repr__(self):
        return f'<{type(self).__name__} pid={self.pid} returncode={self.returncode}>'

    cdef _init(self, Loop loop, ChildPlan child, exit_callback):
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
            threading.Thread(target=_wait_for_orphan, args=(self.pid,),
                             name=f'uvloop-reap-{self.pid}', daemon=True).start()

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


cdef void __on_pidfd_event(uv.uv_poll_t* handle, int status,
                           int events) noexcept with gil:
    cdef PidfdProcess proc = <PidfdProcess>handle.data
    try:
        proc._on_pidfd_readable()
    except BaseException as exc:
        proc._loop._handle_callback_error(exc, proc)


cdef class PidfdProcess(ChildProcess):
    """A child of the fast spawn: vfork()ed by the loop itself, watched through its
    pidfd."""

    def __cinit__(self):
        self._pidfd = -1

    cdef _init(self, Loop loop, ChildPlan child, exit_callback):
        cdef pid_t pid
        cdef int pidfd = -1
        cdef int err
        self._exit_callback = exit_callback
        child.report.err = 0
        child.plan.errpipe = -1       # the child reports through child.report
        # The new program gets this thread's signal mask.
        pthread_sigmask(SIG_BLOCK, NULL, &child.plan.sigmask)
        with nogil:
            # Without the GIL: other threads and loops run while this one is suspended
            # in vfork() until the child exec'd. A child that failed is reaped here.
            pid = uvloop_spawn_vfork(&child.plan)
            if pid > 0:
                if child.report.err != 0:
                    while waitpid(pid, NULL, 0) < 0 and errno == EINTR:
                        pass
                else:
                    pidfd = uvloop_pidfd_open(pid)
        if pid < 0:
            raise OSError(-pid, os.strerror(-pid))
        self.pid = pid
        if child.report.err != 0:
            self.returncode = 255
            raise _child_os_error(child, child.report.err, child.report.stage)
        if pidfd < 0:
            self._abandon_child()
            raise OSError(-pidfd, os.strerror(-pidfd))
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
                               __on_pidfd_event)
        if err < 0:
            # Closing the handle hands the killed child to the orphan reaper.
            self._kill(SIGKILL)
            self.close()
            raise convert_error(err)

    cdef _abandon_child(self):
        # The child runs but cannot be watched: kill it, reap it, forget the pidfd.
        kill(self.pid, SIGKILL)
        self._reap_failed_child()
        if self._pidfd >= 0:
            close(self._pidfd)
            self._pidfd = -1

    cdef _on_pidfd_readable(self):
        cdef int status = 0
        cdef pid_t pid
        if self.returncode is not None:
            return
        while True:
            pid = waitpid(self.pid, &status, WNOHANG)
            if pid >= 0 or errno != EINTR:
                break
        if pid == 0:
            return         # not yet (the pidfd said otherwise): wait for the next event
        if pid < 0:
            if errno != ECHILD:
                raise_errno()
            # Reaped by someone else (SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere):
            # the status is lost. asyncio's child watchers report 255 too.
            aio_logger.warning('Unknown child process pid %d, will report returncode 255',
                               self.pid)
            self._exited(255)
        elif WIFSIGNALED(status):
            self._exited(-WTERMSIG(status))
        else:
            self._exited(WEXITSTATUS(status))

    cdef int _kill(self, int signum):
        # Through the pidfd: it names this child even if its pid was reused meanwhile.
        err = uvloop_pidfd_send_signal(self._pidfd, signum)
        if err == -ENOSYS:
            if kill(self.pid, signum) < 0:
                return -errno
            return 0
        return err

    cdef _on_closed(self):
        # uv_close() stopped the watch at once; the pidfd is ours to close.
        if self._pidfd >= 0:
            close(self._pidfd)
            self._pidfd = -1
        ChildProcess._on_closed(self)


# ----- the locked spawn ----------------------------------------------------------------


cdef void __on_process_exit(uv.uv_process_t* handle, int64_t exit_status,
                            int term_signal) noexcept with gil:
    cdef UVProcess proc = <UVProcess>handle.data
    try:
        proc._on_exit(exit_status, term_signal)
    except BaseException as exc:
        proc._loop._handle_callback_error(exc, proc)


cdef class UVProcess(ChildProcess):
    """A child of the locked spawn: uv_spawn() inside the spawn critical section."""

    cdef _init(self, Loop loop, ChildPlan child, exit_callback):
        global __forking, __forking_thread, __forking_loop, __forking_handler
        global __forking_plan, __forking_preexec_fn, __atfork_registered
        global __fail_next_spawn, uvloop_vfork_plan, uvloop_vfork_thread
        global uvloop_thread_in_spawn
        cdef uv.uv_process_options_t options
        cdef uv.uv_stdio_container_t bad_stdio
        cdef int err = 0
        cdef bint spawned = False

        # Checked before taking the lock, so a re-entrant spawn raises instead of
        # waiting forever for a lock its own thread holds. It can only come from code
        # that runs inside the critical section: an os.register_at_fork() hook.
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
                f'in the same thread (on {__forking_loop!r}; was a process spawned '
                f'from an os.register_at_fork() hook?)')

        self._exit_callback = exit_callback
        errpipe_r, errpipe_w = _make_errpipe()
        try:
            child._set_errpipe(errpipe_w)
            memset(&options, 0, sizeof(options))
            options.exit_cb = __on_process_exit
            options.file = child.plan.exec_paths[0] if child.plan.exec_count \
                else child.plan.argv[0]
            options.args = <char**>child.plan.argv
            # No stdio for libuv: our child handler sets the child's fds up itself.
            options.stdio_count = 0
            options.stdio = NULL
            # The forking thread's signal mask, for the new program (libuv forks with
            # most signals blocked).
            pthread_sigmask(SIG_BLOCK, NULL, &child.plan.sigmask)

            self._alloc(loop, sizeof(uv.uv_process_t))
            loop.active_process_handler = self
            try:
                # ---- critical section ------------------------------------------------
                _spawn_lock.acquire()
                uvloop_thread_in_spawn = 1
                try:
                    if not __atfork_registered:
                        if pthread_atfork(NULL, NULL, __atfork_child) != 0:
                            raise MemoryError('pthread_atfork() failed')
                        __atfork_registered = True
                    if __fail_next_spawn:
                        __fail_next_spawn = False
                        bad_stdio.flags = uv.UV_INHERIT_FD
                        bad_stdio.data.fd = -1
                        options.stdio_count = 1
                        options.stdio = &bad_stdio
                    __forking_thread = pthread_self()
                    __forking_loop = loop
                    __forking_handler = uvloop_spawn_child
                    __forking_plan = &child.plan
                    __forking_preexec_fn = child.preexec_fn
                    __forking = True
                    if not child.needs_fork and not __spawn_with_fork:
                        uvloop_vfork_thread = pthread_self()
                        uvloop_vfork_plan = &child.plan
                    PyOS_BeforeFork()
                    if child.preexec_fn is not None:
                        # The child needs the GIL to run preexec_fn: fork while
                        # holding it, so that the child's copy of this thread holds it.
                        err = uv.uv_spawn(loop.uvloop, <uv.uv_process_t*>self._handle,
                                          &options)
                    else:
                        # No Python runs in the child: let other threads run during
                        # fork() and the wait for exec.
                        with nogil:
                            err = uv.uv_spawn(loop.uvloop,
                                              <uv.uv_process_t*>self._handle, &options)
                    spawned = True
                    PyOS_AfterFork_Parent()
                finally:
                    uvloop_vfork_plan = NULL
                    __forking = False
                    __forking_loop = None
                    __forking_handler = NULL
                    __forking_plan = NULL
                    __forking_preexec_fn = None
                    uvloop_thread_in_spawn = 0
                    _spawn_lock.release()
                # ---- end of the critical section ---------------------------------------
            finally:
                loop.active_process_handler = None
                if not spawned:
                    self._free_unattached()

            # uv_spawn() registered the handle with the loop even if it failed.
            self._attach()
            os.close(errpipe_w)
            errpipe_w = -1
            if err < 0:
                self.close()
                raise convert_error(err)
            self.pid = (<uv.uv_process_t*>self._handle).pid
            report = _read_child_report(errpipe_r)
        finally:
            os.close(errpipe_r)
            if errpipe_w >= 0:
                os.close(errpipe_w)

        if report != b'S':
            self._raise_child_failure(child, report)

    cdef _raise_child_failure(self, ChildPlan child, bytes report):
        cdef int errnum
        if not report:
            # spawn.h never ran: this libuv did not fork (posix_spawn?), so close_fds,
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
            raise _child_os_error(child, errnum, report[2 + sizeof(int)])
        if kind == b'P':
            cause = None
            try:
                import pickle
                cause, tb = pickle.loads(report[2:])
                if cause is None:
                    cause = RuntimeError(
                        f'preexec_fn raised an exception that could not be pickled; '
                        f'its traceback in the child:\n{tb}')
                elif hasattr(cause, 'add_note'):
                    cause.add_note(f'Traceback in the child process:\n{tb}')
            except Exception as exc:
                cause = exc
            raise subprocess.SubprocessError(
                'Exception occurred in preexec_fn.') from cause
        raise subprocess.SubprocessError(f'Bad report from the child: {report!r}')

    cdef _reap_failed_child(self):
        # Take the child from libuv first (closing the handle removes it from the loop's
        # process queue), so that only we wait for it.
        self.close()
        ChildProcess._reap_failed_child(self)

    cdef _on_exit(self, int64_t exit_status, int term_signal):
        self._exited(-term_signal if term_signal else <int>exit_status)

    cdef int _kill(self, int signum):
        return uv.uv_process_kill(<uv.uv_process_t*>self._handle, signum)
