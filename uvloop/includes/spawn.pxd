# The child side of a spawn (spawn.h): the plan the parent prepares and the function the
# child runs between fork() and exec(). Declarations only.

from posix.types cimport gid_t, pid_t, sigset_t


cdef extern from "includes/spawn.h" nogil:
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
        int (*preexec)() noexcept

    void uvloop_spawn_child(const uvloop_spawn_plan* plan)
    pid_t uvloop_spawn_vfork(const uvloop_spawn_plan* plan)
    int uvloop_pidfd_open(pid_t pid)
    int uvloop_vfork_shares_memory()
    int uvloop_pidfd_send_signal(int pidfd, int sig)

    const uvloop_spawn_plan* uvloop_vfork_plan
    int uvloop_fork_calls
    int uvloop_thread_in_spawn


cdef extern from "pthread.h" nogil:
    ctypedef unsigned long pthread_t
    pthread_t pthread_self()
    int pthread_equal(pthread_t t1, pthread_t t2)
    int pthread_atfork(void (*prepare)() noexcept nogil,
                       void (*parent)() noexcept nogil,
                       void (*child)() noexcept nogil)
    int pthread_sigmask(int how, const sigset_t* set, sigset_t* oldset)


cdef extern from "includes/spawn.h" nogil:
    pthread_t uvloop_vfork_thread


# The parent side of the fast spawn: reaping and signalling one child.
cdef extern from "sys/wait.h" nogil:
    pid_t waitpid(pid_t pid, int* status, int options)
    int WNOHANG
    bint WIFSIGNALED(int status)
    int WTERMSIG(int status)
    int WEXITSTATUS(int status)


cdef extern from "unistd.h" nogil:
    pid_t getpid()


cdef extern from "signal.h" nogil:
    int kill(pid_t pid, int sig)


cdef extern from "errno.h" nogil:
    int ECHILD
    int EINVAL
    int ENOSYS
    int EPERM
    int ESRCH
