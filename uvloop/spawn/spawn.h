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

/* What a vfork child tells its parent through shared memory (errpipe -1). */
typedef struct {
    volatile int err;          /* 0: exec'd, else the errno of the failed step */
    volatile char stage;       /* 'x': exec failed, 'n': a step before exec failed */
} uvloop_spawn_report;

typedef struct uvloop_spawn_plan uvloop_spawn_plan;

struct uvloop_spawn_plan {
    int errpipe;               /* write end of the error pipe, close-on-exec, >= 3;
                                  -1: report through `report` (vfork only) */
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

/* The fast spawn: vfork() a child that runs uvloop_spawn_child(plan), outside libuv,
 * with no process-wide state: the plan lives in the spawning thread's memory. Returns
 * the child's pid (once it exec'd or exited), or -errno. Call without the GIL. */
pid_t uvloop_spawn_vfork(const uvloop_spawn_plan *plan);

/* 1 if a vfork() child shares our memory, as on Linux; 0 where vfork() is a fork() in
 * disguise (ThreadSanitizer, valgrind); -errno if vfork() failed. One throwaway child. */
int uvloop_vfork_shares_memory(void);

/* pidfd_open(2) and pidfd_send_signal(2); -errno on failure (-ENOSYS without them). */
int uvloop_pidfd_open(pid_t pid);
int uvloop_pidfd_send_signal(int pidfd, int sig);

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
 * locked spawn that allows it, else a real fork(). */
pid_t uvloop_fork(void);

/* How many times libuv called fork() (tests: proves libuv's fork() comes here). */
extern int uvloop_fork_calls;

#endif
