cdef class ChildProcess(UVHandle):
    # What the subprocess transport sees of a child, whichever way it was spawned:
    # pid, returncode, send_signal(), close() and the exit callback.
    cdef:
        readonly int pid
        readonly object returncode
        # callable(returncode), called once when the process exits; set by the owner.
        object _exit_callback

    cdef _init(self, Loop loop, ChildPlan child_plan, exit_callback)
    cdef _exited(self, int returncode)
    cdef _reap_failed_child(self)
    cdef _reap_orphan(self)
    cdef int _kill(self, int signum)
    cdef send_signal(self, int signum)


cdef class UVProcess(ChildProcess):
    # The locked spawn: uv_spawn() inside the spawn critical section; a uv_process_t.
    cdef object _uv_spawn_locked(self, Loop loop, uv.uv_process_options_t* options,
                                 ChildPlan child_plan)
    cdef _raise_child_failure(self, ChildPlan child_plan, bytes report)
    cdef _on_exit(self, int64_t exit_status, int term_signal)


cdef class PidfdProcess(ChildProcess):
    # The fast spawn: clone() outside libuv, no lock; a uv_poll_t on the child's pidfd.
    cdef int _pidfd

    cdef _abandon_child(self)
    cdef _on_pidfd_readable(self)
