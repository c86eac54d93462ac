cdef class ChildPlan:
    cdef:
        uvloop_spawn_plan plan
        # Where a vfork child of the fast spawn reports a failure (plan.report).
        uvloop_spawn_report report
        # The bytes objects whose buffers the plan's char* point into.
        list _buffers
        char** _argv
        char** _envp
        char** _exec_paths
        int* _keep_fds
        gid_t* _groups
        object preexec_fn
        # The child must be a real fork(), not a vfork(): it runs Python (preexec_fn)
        # or changes credentials (see spawn.h).
        bint needs_fork
        # For the parent's error messages, as subprocess words them.
        object cwd
        object executable

    cdef char** _cstrings(self, list items) except NULL
    cdef _set_credentials(self, groups, gid, uid)
    cdef _set_errpipe(self, int fd)


cdef class ChildProcess(UVHandle):
    # What the subprocess transport sees of a child, whichever way it was spawned:
    # pid, returncode, send_signal(), close() and the exit callback.
    cdef:
        readonly int pid
        readonly object returncode
        # callable(returncode), called once when the process exits; set by the owner.
        object _exit_callback

    cdef _init(self, Loop loop, ChildPlan child, exit_callback)
    cdef _exited(self, int returncode)
    cdef _reap_failed_child(self)
    cdef int _kill(self, int signum)
    cdef send_signal(self, int signum)


cdef class UVProcess(ChildProcess):
    # The locked spawn: uv_spawn() inside the spawn critical section; a uv_process_t.
    cdef _raise_child_failure(self, ChildPlan child, bytes report)
    cdef _on_exit(self, int64_t exit_status, int term_signal)


cdef class PidfdProcess(ChildProcess):
    # The fast spawn: vfork() outside libuv, no lock; a uv_poll_t on the child's pidfd.
    cdef int _pidfd

    cdef _abandon_child(self)
    cdef _on_pidfd_readable(self)
