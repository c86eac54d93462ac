# The child side of a spawn (spawn.h): the plan the parent prepares and the function the
# child runs between fork() and exec(). Declarations only.

from posix.types cimport sigset_t


cdef extern from "includes/spawn.h" nogil:
    ctypedef struct uvloop_spawn_plan:
        int errpipe
        int stdio[3]
        const int* keep_fds
        int keep_count
        int close_fds
        const char* cwd
        int umask
        int restore_signals
        int start_new_session
        int pgid
        sigset_t sigmask
        char* const* exec_paths
        int exec_count
        char* const* argv
        char* const* envp
        int (*preexec)() noexcept

    void uvloop_spawn_child(const uvloop_spawn_plan* plan)

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
