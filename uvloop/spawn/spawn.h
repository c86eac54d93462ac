/* The C side of a spawn (spawn.c): the plan a child follows between fork() and exec(),
 * the two ways to make the child, and the locked spawn's process-wide state.
 *
 * Why C: the parent is multi-threaded, so in the child only async-signal-safe calls
 * are allowed (another thread may have held malloc's or stdio's lock at fork time;
 * the child would deadlock on it). Everything the child needs, down to the list of
 * paths to try for exec, is prepared by the parent in a `uvloop_spawn_plan` before
 * fork (spawn/plan.pyx); the child only reads it. */
#ifndef UVLOOP_SPAWN_H
#define UVLOOP_SPAWN_H

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

/* What a child of the fast spawn (or a vfork() child) tells its parent through shared
 * memory (errpipe -1). */
typedef struct {
    volatile int err;          /* 0: exec'd, else the errno of the failed step */
    volatile char stage;       /* 'x': exec failed, 'n': a step before exec failed */
} uvloop_spawn_report;

typedef struct uvloop_spawn_plan uvloop_spawn_plan;

struct uvloop_spawn_plan {
    int errpipe;               /* write end of the error pipe, close-on-exec, >= 3;
                                  -1: report through `report` (a child that
                                  shares our memory only) */
    uvloop_spawn_report *report;
    int stdio[3];              /* fd that becomes 0, 1, 2 in the child; -1: inherited */
    const int *keep_fds;       /* sorted fds >= 3 kept by close_fds (pass_fds, errpipe) */
    int keep_count;
    int close_fds;
    const char *cwd;           /* NULL: the parent's */
    int umask;                 /* -1: the parent's */
    int restore_signals;       /* SIGPIPE and SIGXFSZ back to SIG_DFL (Python ignores them) */
    int start_new_session;     /* setsid() */
    int pgid;                  /* -1: none, else setpgid(0, pgid) */
    /* Credentials (subprocess's extra_groups, group, user). glibc's set*id() and
     * setgroups() signal every thread of the process, so a child that needs them must
     * be a real fork() (a vfork() child would act on the parent's threads). */
    const gid_t *groups;
    int ngroups;               /* -1: unchanged, else setgroups(ngroups, groups) */
    long long gid;             /* -1: unchanged, else setregid(gid, gid) */
    long long uid;             /* -1: unchanged, else setreuid(uid, uid) */
    sigset_t sigmask;          /* the spawning thread's mask, given to the new program */
    char *const *exec_paths;   /* tried in order, like subprocess's executable_list */
    int exec_count;
    char *const *argv;
    char *const *envp;         /* NULL: the parent's environ */
    /* preexec_fn: NULL, or called in the child with this plan; non-zero means it
     * failed and already wrote its report. `preexec_arg` is what it runs (the Python
     * callable, borrowed from the plan's owner). */
    int (*preexec)(const uvloop_spawn_plan *plan);
    void *preexec_arg;
};

/* The child: sets itself up as the plan says, then execs. Never returns (on failure
 * it reports through the error pipe or `report`, and _exits 255). */
void uvloop_spawn_child(const uvloop_spawn_plan *plan);

/* What this build can do. The fast spawn needs Linux: clone() with CLONE_VM |
 * CLONE_VFORK | CLONE_PIDFD (5.2), pidfd_send_signal() and waitid(P_PIDFD) (5.4); and
 * on Linux a locked spawn whose child runs no Python may vfork() in libuv's place.
 * UVLOOP_PORTABLE_SPAWN=1 at build time (setup.py) leaves all of that out, so that the
 * code every other platform runs (the locked spawn with fork()) is built and tested
 * here. Under ThreadSanitizer it is left out too: TSan cannot follow a child that
 * shares our memory (its vfork() is a fork()). */
#ifndef UVLOOP_PORTABLE_SPAWN
#define UVLOOP_PORTABLE_SPAWN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define UVLOOP_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UVLOOP_TSAN_BUILD 1
#endif
#endif
#ifndef UVLOOP_TSAN_BUILD
#define UVLOOP_TSAN_BUILD 0
#endif
#ifdef __linux__
#include <sched.h>
#include <sys/syscall.h>
#endif
#if defined(__linux__) && defined(CLONE_PIDFD) && defined(SYS_pidfd_open) && \
        defined(SYS_pidfd_send_signal) && !UVLOOP_PORTABLE_SPAWN && !UVLOOP_TSAN_BUILD
#define UVLOOP_LINUX_SPAWN 1
#else
#define UVLOOP_LINUX_SPAWN 0
#endif

/* 1 if this build has the fast spawn, else 0 and the reason in words. */
extern const int uvloop_fast_spawn_compiled;
extern const char *const uvloop_fast_spawn_missing;

/* The fast spawn: clone() a child that runs uvloop_spawn_child(plan) with vfork()'s
 * semantics (our memory shared, this thread suspended until the child exec'd or
 * exited), outside libuv, with no process-wide state: the plan lives in the spawning
 * thread's memory. The child's pidfd is made by the same clone() call, so it names
 * our child even if the child is already gone (reaped by a waitpid(-1) elsewhere, or
 * by the kernel when SIGCHLD is ignored) by the time we look. Returns the child's pid
 * and stores its pidfd (close-on-exec) in *pidfd, or returns -errno (no child made:
 * EMFILE when no fd is left for the pidfd). Call without the GIL. -ENOSYS in a build
 * without the fast spawn. */
pid_t uvloop_spawn_clone(const uvloop_spawn_plan *plan, int *pidfd);

/* Can the fast spawn work here? 1 if a uvloop_spawn_clone()-style child shares our
 * memory and its pidfd serves waitid(P_PIDFD); 0 where such a child does not share
 * memory (valgrind); -errno if the kernel (or seccomp) refuses a step (ENOSYS,
 * EINVAL, EPERM: never here) or it failed for now (EAGAIN, EMFILE). One throwaway
 * child. */
int uvloop_fast_spawn_probe(void);

/* pidfd_open(2) and pidfd_send_signal(2); -errno on failure (-ENOSYS without them). */
int uvloop_pidfd_open(pid_t pid);
int uvloop_pidfd_send_signal(int pidfd, int sig);

/* Reap the child behind `pidfd` with waitid(P_PIDFD): never another process, even
 * one that got its pid number since. `options`: 0 (wait) or WNOHANG. Returns 1 and
 * the child's returncode (asyncio's convention: -signal if a signal killed it), 0 if
 * it has not exited yet (WNOHANG), or -errno: -ECHILD if it was reaped by someone else
 * (its exit status is lost). */
int uvloop_pidfd_reap(int pidfd, int options, int *returncode);

/* The locked spawn's error pipe: both ends close-on-exec (a fork() by another thread
 * must not carry them into its child), the write end >= 3 (it must survive the
 * child's dup2() onto 0, 1, 2). 0, or -errno. */
int uvloop_spawn_errpipe(int fds[2]);

/* The locked spawn's state: which thread is inside uv_spawn() and what its child does.
 * Read in every child of a fork() by the pthread_atfork child handler, and by libuv's
 * fork() (uvloop_fork); written only while holding the spawn lock (handles/process.pyx,
 * UVProcess._init), and reset in the same `finally` that releases it. */
typedef struct {
    int active;                    /* a spawn is inside uv_spawn() */
    pthread_t thread;              /* the thread that runs it */
    const uvloop_spawn_plan *plan; /* what its child does */
    int allow_vfork;               /* its child runs no Python and keeps our
                                      credentials: libuv's fork() may be a vfork() */
    void *loop;                    /* its Loop (borrowed), for error messages */
} uvloop_forking_state;

extern uvloop_forking_state uvloop_forking;

/* Set by the thread holding the spawn lock while it spawns: lets a re-entrant spawn
 * from that thread raise instead of waiting forever for a lock it holds itself. */
extern __thread int uvloop_thread_in_spawn;

/* Registered once with pthread_atfork(): in the child of the spawning thread's fork,
 * runs uvloop_spawn_child(uvloop_forking.plan); in any other child, nothing. */
void uvloop_atfork_child(void);

/* libuv's fork(): setup.py compiles libuv with -Dfork=uvloop_fork. A vfork() for a
 * locked spawn that allows it (Linux builds), else a real fork(). */
pid_t uvloop_fork(void);

/* libuv's waitpid(): setup.py compiles libuv with -Dwaitpid=uvloop_waitpid. libuv
 * skips a child that someone else reaped (a waitpid(-1) in another thread, SIGCHLD
 * ignored) and never reports its exit, so wait() would hang; here such a child
 * exited with status 255, asyncio's returncode for a lost status, and its pid is
 * noted for uvloop_exit_status_lost(). */
pid_t uvloop_waitpid(pid_t pid, int *status, int options);

/* 1 (once) if uvloop_waitpid() made up the exit status of `pid` on this thread. */
int uvloop_exit_status_lost(pid_t pid);

/* How many times libuv called fork() (tests: proves libuv's fork() comes here). */
extern int uvloop_fork_calls;

#endif
