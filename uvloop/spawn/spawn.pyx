# Spawning a child process: which of the two paths takes it, the spawn lock and the
# process-wide state it guards, and the Python parts of a spawn (preexec_fn in the
# child, reading what a failed child reported).
#
# Needs: ChildPlan (spawn/plan.pyx), PidfdProcess and UVProcess (handles/process.pyx),
# the C side (spawn/spawn.c, declared in includes/spawn.pxd).
#
# The two paths (`_spawn_process()`), both running the same child code
# (uvloop_spawn_child) from the same ChildPlan and raising the same exceptions:
# - The fast spawn, PidfdProcess, for every child that runs no Python before exec (no
#   preexec_fn) and keeps our credentials (no user, group, extra_groups): the loop
#   makes the child itself (Linux's clone() with vfork()'s semantics), outside libuv,
#   without the GIL and without any lock: the child's plan lives in the spawning
#   thread's own memory, and no process-wide state is read or written. The same
#   clone() gives the child's pidfd, so the child cannot be gone before we hold it;
#   the loop learns of the exit from the pidfd, watched by a uv_poll_t, and reaps
#   through it that child alone. No SIGCHLD handler is involved.
# - The locked spawn, UVProcess, for the rest: a child that needs a real fork()
#   (`ChildPlan.needs_fork`), a build without the fast spawn (not Linux, or
#   UVLOOP_PORTABLE_SPAWN=1), a kernel without pidfds or a vfork() that does not share
#   memory (both found out once, `_fast_spawn_possible()`), or tests forcing it.
#   libuv's uv_spawn() inside the spawn critical section (UVProcess._init).
#   `_spawn_capabilities()` says which path this process gets, and why.
#
# The spawn critical section (why it exists: uvloop issue #508). In the locked spawn
# the child side runs from a pthread_atfork child handler (or libuv's fork(), when it
# may be a vfork()) that reads process-wide state: `uvloop_forking`, the `__forking`
# state of the design (spawn/spawn.h). PyOS_BeforeFork() runs Python code
# (os.register_at_fork hooks), so the GIL can pass to another thread in the middle of a
# spawn; had that thread spawned too, it would overwrite the state this spawn's child
# is about to read. `_spawn_lock` guards that state, and only that state: UVProcess._init
# holds it around `_forking_begin()`, PyOS_BeforeFork(), uv_spawn() and
# PyOS_AfterFork_Parent(), and releases it in a `finally` that resets the state
# (`_forking_end()`) on every path. The fast spawn touches none of it, and, like
# CPython's subprocess without preexec_fn, runs no os.register_at_fork hooks.

import os
import subprocess
import threading


# The lock. A threading.Lock: its blocking acquire() waits without the GIL, so other
# threads and their loops keep running while one thread spawns.
cdef object _spawn_lock = threading.Lock()

# pthread_atfork handlers cannot be removed, and each registration adds one more call
# per fork: register ours once (under _spawn_lock).
cdef bint _atfork_registered = False

# Can the fast spawn work here? It needs a build that has it, pidfds from the kernel
# (seccomp can also say EPERM) and a vfork()-style child that shares our memory (not so
# under valgrind). Found out once, by the first spawn: 0 not yet known, 1 yes, -1 no. Threads
# that race to find out store the same answer.
cdef int _fast_spawn_state = 0


cdef ChildProcess _spawn_process(Loop loop, ChildPlan child_plan, exit_callback):
    """Spawn the child `child_plan` describes, the fast way when nothing stands in
    the way."""
    cdef ChildProcess process
    if not child_plan.needs_fork and not _test_locked_only and _fast_spawn_possible():
        process = PidfdProcess.__new__(PidfdProcess)
    else:
        process = UVProcess.__new__(UVProcess)
    process._init(loop, child_plan, exit_callback)
    return process


cdef bint _fast_spawn_possible() noexcept:
    cdef int support = uvloop_atomic_load_int(&_fast_spawn_state)
    if support == 0:
        support = _probe_fast_spawn()
        if support == 0:
            return False
        uvloop_atomic_store_int(&_fast_spawn_state, support)
    return support > 0


cdef int _probe_fast_spawn() noexcept:
    """1 if the fast spawn works here, -1 if it never will, 0 if it cannot be told now."""
    if not uvloop_fast_spawn_compiled:
        return -1
    cdef int probe = uvloop_fast_spawn_probe()
    if probe in (-ENOSYS, -EPERM, -EINVAL):
        return -1     # no pidfds (Linux < 5.4) or refused by seccomp
    if probe < 0:
        return 0      # EAGAIN (process limit), EMFILE and such: ask again next time
    return 1 if probe else -1


def _spawn_capabilities():
    """Which spawn path a child that runs no Python before exec takes in this process,
    and why (`python -m uvloop` prints it). Runs the fast spawn's probe (one
    throwaway child) unless this build has no fast spawn. Keys:
    fast_spawn_compiled: this build has the fast spawn (Linux, not built with
        UVLOOP_PORTABLE_SPAWN=1);
    pidfd: the kernel gives pidfds (None: not asked, the build has no fast spawn);
    vfork_shares_memory: a vfork()-style child shares our memory (None: not known);
    path: 'fast' or 'locked'; reason: why, in words.
    preexec_fn, user, group and extra_groups always take the locked path."""
    info = {'fast_spawn_compiled': bool(uvloop_fast_spawn_compiled), 'pidfd': None,
            'vfork_shares_memory': None}
    cdef int fd, probe
    if not uvloop_fast_spawn_compiled:
        reason = f'this build has no fast spawn: {uvloop_fast_spawn_missing.decode()}'
    else:
        fd = uvloop_pidfd_open(getpid())
        info['pidfd'] = fd >= 0
        if fd >= 0:
            close(fd)
        probe = uvloop_fast_spawn_probe()
        if probe >= 0:
            info['vfork_shares_memory'] = probe == 1
        if fd < 0:
            reason = f'no pidfds here: pidfd_open() failed: {os.strerror(-fd)}'
        elif probe < 0:
            reason = (f'clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) or waitid(P_PIDFD) '
                      f'failed: {os.strerror(-probe)}')
        elif probe == 0:
            reason = ('a vfork()-style child does not share our memory here '
                      '(valgrind, a sanitizer)')
        else:
            reason = 'pidfds, and a vfork()-style child that shares our memory'
    fast = _fast_spawn_possible() and not _test_locked_only
    if _test_locked_only:
        reason = f'UVLOOP_SPAWN_LOCKED=1 (or a test switch) forces the locked spawn; {reason}'
    info['path'] = 'fast' if fast else 'locked'
    info['reason'] = reason
    return info


# ----- the locked spawn's state (call with _spawn_lock held) -----------------------------

cdef _forking_begin(Loop loop, ChildPlan child_plan):
    """This thread's uv_spawn() is about to fork the child `child_plan` describes."""
    global _atfork_registered, uvloop_thread_in_spawn
    if not _atfork_registered:
        if pthread_atfork(NULL, NULL, uvloop_atfork_child) != 0:
            raise MemoryError('pthread_atfork() failed')
        _atfork_registered = True
    uvloop_thread_in_spawn = 1
    uvloop_forking.thread = pthread_self()
    uvloop_forking.plan = &child_plan.plan
    uvloop_forking.allow_vfork = not child_plan.needs_fork and not _test_fork_only
    uvloop_forking.loop = <void*>loop
    uvloop_forking.active = 1


cdef void _forking_end() noexcept:
    global uvloop_thread_in_spawn
    uvloop_forking.active = 0
    uvloop_forking.plan = NULL
    uvloop_forking.allow_vfork = 0
    uvloop_forking.loop = NULL
    uvloop_thread_in_spawn = 0


# ----- the child's report ----------------------------------------------------------------

cdef int _run_preexec_fn(const uvloop_spawn_plan* plan) noexcept:
    # Called by spawn.c in the child, holding the GIL the forking thread held at fork
    # time (uv_spawn() is called with the GIL held for exactly this reason).
    PyOS_AfterFork_Child()
    try:
        aio_set_running_loop(None)    # the parent's loop is not ours to drive here
        (<object>plan.preexec_arg)()
    except BaseException as exc:
        _report_preexec_failure(plan.errpipe, exc)
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


cdef bytes _read_child_report(int fd):
    # EOF arrives when the child exec'd or exited: uv_spawn() already waited for that,
    # so this does not block. C read(), not os.read: nothing for a blocking-call
    # detector to see (issue 16).
    cdef char buf[4096]
    cdef ssize_t n
    chunks = []
    while True:
        with nogil:
            n = read(fd, buf, sizeof(buf))
        if n < 0:
            if errno == EINTR:
                continue
            raise_errno()
        if n == 0:
            return b''.join(chunks)
        chunks.append(buf[:n])


cdef _child_os_error(ChildPlan child_plan, int errnum, char stage):
    """The OSError for a child that failed before exec, as subprocess words it: a step
    before exec (stage 'n': chdir, dup2, ...) names the cwd, exec (stage 'x') the
    program."""
    filename = child_plan.cwd if stage == c'n' else child_plan.executable
    return OSError(errnum, os.strerror(errnum), filename)


cdef _preexec_failure(bytes payload):
    """The SubprocessError for a preexec_fn that raised in the child."""
    cause = None
    try:
        import pickle
        cause, tb = pickle.loads(payload)
        if cause is None:
            cause = RuntimeError(
                f'preexec_fn raised an exception that could not be pickled; '
                f'its traceback in the child:\n{tb}')
        elif hasattr(cause, 'add_note'):
            cause.add_note(f'Traceback in the child process:\n{tb}')
    except Exception as exc:
        cause = exc
    error = subprocess.SubprocessError('Exception occurred in preexec_fn.')
    error.__cause__ = cause
    return error


# ----- test hooks -------------------------------------------------------------------------
# Switches for the test suite (tests/spawnutil.py), so that both spawn paths, both ways
# of forking and the error paths inside the critical section are covered. Nothing else
# reads or writes them.

# Every spawn takes the locked path (UVLOOP_SPAWN_LOCKED=1 or _force_locked_spawn()).
cdef bint _test_locked_only = os.environ.get('UVLOOP_SPAWN_LOCKED', '') not in ('', '0')
# Every locked spawn uses a real fork(), never a vfork() (UVLOOP_SPAWN_WITH_FORK=1 or
# _spawn_with_fork()).
cdef bint _test_fork_only = os.environ.get('UVLOOP_SPAWN_WITH_FORK', '') not in ('', '0')
# The next uv_spawn() fails inside the critical section (_fail_next_spawn()).
cdef bint _test_fail_next_spawn = False


cdef _test_inject_spawn_failure(uv.uv_process_options_t* options,
                                uv.uv_stdio_container_t* bad_stdio):
    # Called under _spawn_lock: make this uv_spawn() fail through libuv's own error
    # path (an invalid stdio fd), if a test asked for it.
    global _test_fail_next_spawn
    if not _test_fail_next_spawn:
        return
    _test_fail_next_spawn = False
    bad_stdio.flags = uv.UV_INHERIT_FD
    bad_stdio.data.fd = -1
    options.stdio_count = 1
    options.stdio = bad_stdio


def _fail_next_spawn():
    """The next locked spawn (in any thread) fails with EINVAL inside the critical
    section, through libuv's own error path."""
    global _test_fail_next_spawn
    _test_fail_next_spawn = True


def _spawn_with_fork(force=None):
    """Force fork() (True) or allow vfork() (False) for locked spawns whose child runs
    no Python; return the previous setting."""
    global _test_fork_only
    previous = _test_fork_only
    if force is not None:
        _test_fork_only = force
    return previous


def _force_locked_spawn(force=None):
    """Send every spawn through the locked path (True) or let children that run no
    Python take the fast one (False); return the previous setting."""
    global _test_locked_only
    previous = _test_locked_only
    if force is not None:
        _test_locked_only = force
    return previous


def _fast_spawn_support(value=None):
    """What is known of the fast spawn's support here (1 yes, -1 no, 0 not yet
    probed); `value` overrides it (-1 makes every spawn take the locked path, as on a
    kernel without pidfd_open). Return the previous value."""
    previous = _fast_spawn_state
    if value is not None:
        uvloop_atomic_store_int(&_fast_spawn_state, value)
    return previous


def _vfork_shares_memory():
    """Run the probe the first spawn runs (one throwaway child): 1 if a child of the
    fast spawn's kind shares our memory, 0 if not, -errno if it failed."""
    return uvloop_fast_spawn_probe()


def _fork_calls():
    """How many times libuv called fork() (routed to spawn.c's uvloop_fork; stays 0
    with a system libuv)."""
    return uvloop_fork_calls


def _spawn_state():
    """(forking state active, spawn lock held) as seen right now."""
    return bool(uvloop_forking.active), _spawn_lock.locked()
