cdef class ChildPlan:
    cdef:
        uvloop_spawn_plan plan
        # The bytes objects whose buffers the plan's char* point into.
        list _buffers
        char** _argv
        char** _envp
        char** _exec_paths
        int* _keep_fds
        object preexec_fn
        # For the parent's error messages, as subprocess words them.
        object cwd
        object executable

    cdef char** _cstrings(self, list items) except NULL
    cdef _set_errpipe(self, int fd)


cdef class UVProcess(UVHandle):
    cdef:
        readonly int pid
        readonly object returncode
        # callable(returncode), called once when the process exits; set by the owner.
        object _exit_callback

    cdef _init(self, Loop loop, ChildPlan child, exit_callback)
    cdef _raise_child_failure(self, ChildPlan child, bytes report)
    cdef _reap_failed_child(self)
    cdef _on_exit(self, int64_t exit_status, int term_signal)
    cdef send_signal(self, int signum)
