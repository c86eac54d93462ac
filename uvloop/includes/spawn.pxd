# The C side of a spawn (spawn/spawn.h): the plan the parent prepares, the child code,
# the locked spawn's process-wide state. Declarations only.

from posix.types cimport gid_t, pid_t, sigset_t


cdef extern from "pthread.h" nogil:
    ctypedef unsigned long pthread_t
    pthread_t pthread_self()
    int pthread_atfork(void (*prepare)() noexcept nogil,
                       void (*parent)() noexcept nogil,
                       void (*child)() noexcept nogil)
    int pthread_sigmask(int how, const sigset_t* set, sigset_t* oldset)


cdef extern from "spawn/spawn.h" nogil:
    ctypedef struct uvloop_spawn_report:
        int err
        char stage

    ctypedef struct uvloop_spawn_plan:
        int errpipe
        uvloop_spawn_report* report
        int stdio[3]
        const int* keep_fds
        int keep_count
        int close_fds
        const char* cwd
        int umask
        int restore_signals
        int start_new_session
        int pgid
        const gid_t* groups
        int ngroups
        long long gid
        long long uid
        sigset_t sigmask
        char* const* exec_paths
        int exec_count
        char* const* argv
        char* const* envp
        int (*preexec)(const uvloop_spawn_plan* plan) noexcept
        void* preexec_arg

    const int uvloop_fast_spawn_compiled
    const char* const uvloop_fast_spawn_missing
    pid_t uvloop_spawn_clone(const uvloop_spawn_plan* plan, int* pidfd)
    int uvloop_fast_spawn_probe()
    int uvloop_pidfd_open(pid_t pid)
    int uvloop_pidfd_send_signal(int pidfd, int sig)
    int uvloop_pidfd_reap(int pidfd, int options, int* returncode)
    int uvloop_spawn_errpipe(int fds[2])

    ctypedef struct uvloop_forking_state:
        int active
        pthread_t thread
        const uvloop_spawn_plan* plan
        int allow_vfork
        void* loop

    uvloop_forking_state uvloop_forking
    int uvloop_thread_in_spawn
    void uvloop_atfork_child()
    int uvloop_fork_calls
    int uvloop_exit_status_lost(pid_t pid)
