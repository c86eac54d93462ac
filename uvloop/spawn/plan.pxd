cdef class ChildPlan:
    cdef:
        uvloop_spawn_plan plan
        # Where a child of the fast spawn reports a failure (plan.report).
        uvloop_spawn_report report
        # The bytes objects whose buffers the plan's char* point into.
        list _buffers
        char** _argv
        char** _envp
        char** _exec_paths
        int* _keep_fds
        gid_t* _groups

        # What the parent side needs: the argv as given (the Popen-like object's
        # `args`), the stdio specs (PIPE, DEVNULL, STDOUT, a file, an fd, None) and the
        # pipe size, for the transport to make the pipes.
        readonly list args
        readonly tuple stdio_specs
        readonly int pipesize
        # The callable run in the child (plan.preexec_arg borrows it from here).
        object preexec_fn
        # The child must be a real fork(), not a vfork(): it runs Python (preexec_fn)
        # or changes credentials (see spawn.h).
        readonly bint needs_fork
        # For the parent's error messages, as subprocess words them.
        readonly object cwd
        readonly object executable

    cdef _init(self, list args, list argv, list exec_paths, env_list, list pass_fds,
               bint close_fds, cwd, int umask, bint restore_signals,
               bint start_new_session, int pgid, groups, gid, uid, preexec_fn)
    cdef set_stdio(self, int i, int fd)
    cdef set_errpipe(self, int fd)
    cdef char** _cstrings(self, list items) except NULL
    cdef _set_credentials(self, groups, gid, uid)
