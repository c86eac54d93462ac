/* The C side of a spawn (declarations and the plan in spawn.h): what runs in the child
 * between fork() and exec(), and the two ways to make that child.
 *
 * Why the child does the whole set-up instead of returning to libuv: libuv's own child
 * code (src/unix/process.c, uv__process_child_init) resets every signal 1..31 to
 * SIG_DFL, so a signal ignored in the parent would never stay ignored
 * (restore_signals=False), and it knows nothing of close_fds, process_group, umask or
 * preexec_fn. We run from the pthread_atfork child handler, which libuv's fork() calls
 * before its own child code, and exec (or _exit) from there: libuv is left with the
 * fork, the wait for exec (its close-on-exec pipe), the pid bookkeeping and reaping.
 * The order of steps and the exec/error semantics follow CPython's _posixsubprocess, so
 * a child sees what it would see under asyncio's loop.
 *
 * How the child is made: two ways, one child code.
 * - The fast spawn (uvloop_spawn_clone below, Linux only, called by the loop itself,
 *   outside libuv and without any lock): clone() with vfork()'s semantics and the
 *   child's pidfd, the child runs uvloop_spawn_child() on the plan, which lives in the
 *   spawning thread's own memory. Nothing process-wide is read or written, so any
 *   number of threads may spawn at once.
 * - The locked spawn (uv_spawn() inside the spawn critical section, process.pyx): libuv
 *   forks, and uvloop_spawn_child() runs from the pthread_atfork child handler, or from
 *   uvloop_fork() below when libuv's fork() may be a vfork(). Either reads the plan
 *   from `uvloop_forking`, the state the spawn lock guards.
 *
 * Reports. The locked spawn uses an error pipe (close-on-exec, so the parent reads EOF
 * after exec):
 *   'S'                            always first: proves this code ran in the child;
 *   'O' <int errno> <char stage>   an OSError; stage 'x': exec failed, 'n': a step
 *                                  before exec failed (chdir, dup2, ...);
 *   'P' <pickled payload>          preexec_fn raised (written by the preexec hook).
 * The fast spawn has no error pipe (errpipe -1): its child shares the parent's
 * memory and the parent resumes only once the child exec'd or exited, so the child
 * stores its error in plan->report and the parent reads it there.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

/* setup.py compiles libuv (and this file) with -Dfork=uvloop_fork and
 * -Dwaitpid=uvloop_waitpid: libuv's fork() and waitpid() calls (src/unix/process.c)
 * land in uvloop_fork() and uvloop_waitpid() below. Here we need the real ones. */
#ifdef fork
#undef fork
extern pid_t fork(void);
#endif
#ifdef waitpid
#undef waitpid
extern pid_t waitpid(pid_t pid, int *status, int options);
#endif

uvloop_forking_state uvloop_forking;
__thread int uvloop_thread_in_spawn = 0;
int uvloop_fork_calls = 0;


static void uvloop_spawn_write(int fd, const char *buf, size_t len) {
    ssize_t n;
    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;  /* the parent is gone: nothing left to tell */
        }
        buf += n;
        len -= (size_t)n;
    }
}


static void uvloop_spawn_fail(const uvloop_spawn_plan *plan, int err, char stage) {
    char msg[1 + sizeof(int) + 1];
    if (plan->errpipe < 0) {
        plan->report->stage = stage;
        plan->report->err = err;
        _exit(255);
    }
    msg[0] = 'O';
    memcpy(msg + 1, &err, sizeof(int));
    msg[1 + sizeof(int)] = stage;
    uvloop_spawn_write(plan->errpipe, msg, sizeof(msg));
    _exit(255);
}


static int uvloop_spawn_set_inheritable(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -1;
    if (flags & FD_CLOEXEC)
        return fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    return 0;
}


/* close(2) every fd in [first, last] (last < 0: to the end). close_range() since
 * Linux 5.9; otherwise one close() per fd up to the soft RLIMIT_NOFILE. */
static void uvloop_spawn_close_range(int first, int last) {
    struct rlimit rl;
    int fd;
    if (last >= 0 && last < first)
        return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned int)first,
                last < 0 ? ~0U : (unsigned int)last, 0) == 0)
        return;
#endif
    if (last < 0) {
        last = 65535;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                rl.rlim_cur < (rlim_t)1 << 30)
            last = (int)rl.rlim_cur - 1;
    }
    for (fd = first; fd <= last; fd++)
        close(fd);
}


static void uvloop_spawn_close_fds(const uvloop_spawn_plan *plan) {
    int first = 3;
    int i;
    for (i = 0; i < plan->keep_count; i++) {
        if (plan->keep_fds[i] < first)
            continue;
        uvloop_spawn_close_range(first, plan->keep_fds[i] - 1);
        first = plan->keep_fds[i] + 1;
    }
    uvloop_spawn_close_range(first, -1);
}


void uvloop_spawn_child(const uvloop_spawn_plan *plan) {
    struct sigaction sa;
    int src[3];
    int fd, i, sig, saved_errno;

    if (plan->errpipe >= 0)
        uvloop_spawn_write(plan->errpipe, "S", 1);

    /* Caught signals back to SIG_DFL (exec would do it anyway): until exec, the
     * parent's handlers would run here, and Python's writes to the parent loop's
     * wakeup fd. libuv forked with most signals blocked, so none ran yet. */
    for (sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) != 0)
            continue;  /* glibc's internal signals */
        if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }

    /* stdio. A source fd below its target would be overwritten by an earlier dup2
     * (e.g. stdout taken from fd 0): move it out of the way first. */
    for (i = 0; i < 3; i++) {
        src[i] = plan->stdio[i];
        if (src[i] >= 0 && src[i] < i) {
            src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
            if (src[i] < 0)
                uvloop_spawn_fail(plan, errno, 'n');
        }
    }
    for (i = 0; i < 3; i++) {
        if (src[i] < 0)
            continue;
        if (src[i] == i) {
            if (uvloop_spawn_set_inheritable(i) < 0)
                uvloop_spawn_fail(plan, errno, 'n');
        } else if (dup2(src[i], i) < 0) {
            uvloop_spawn_fail(plan, errno, 'n');
        }
    }

    /* pass_fds survive exec. */
    for (i = 0; i < plan->keep_count; i++) {
        fd = plan->keep_fds[i];
        if (fd != plan->errpipe && uvloop_spawn_set_inheritable(fd) < 0)
            uvloop_spawn_fail(plan, errno, 'n');
    }

    if (plan->cwd != NULL && chdir(plan->cwd) < 0)
        uvloop_spawn_fail(plan, errno, 'n');

    if (plan->umask >= 0)
        umask((mode_t)plan->umask);

    if (plan->restore_signals) {
        signal(SIGPIPE, SIG_DFL);
#ifdef SIGXFSZ
        signal(SIGXFSZ, SIG_DFL);
#endif
    }

    if (plan->start_new_session && setsid() < 0)
        uvloop_spawn_fail(plan, errno, 'n');

    if (plan->pgid >= 0 && setpgid(0, plan->pgid) < 0)
        uvloop_spawn_fail(plan, errno, 'n');

    if (plan->ngroups >= 0 && setgroups((size_t)plan->ngroups, plan->groups) < 0)
        uvloop_spawn_fail(plan, errno, 'n');
    if (plan->gid >= 0 && setregid((gid_t)plan->gid, (gid_t)plan->gid) < 0)
        uvloop_spawn_fail(plan, errno, 'n');
    if (plan->uid >= 0 && setreuid((uid_t)plan->uid, (uid_t)plan->uid) < 0)
        uvloop_spawn_fail(plan, errno, 'n');

    /* The new program gets the forking thread's signal mask (libuv forked with most
     * signals blocked). preexec_fn runs with it too, as under fork(). */
    sigprocmask(SIG_SETMASK, &plan->sigmask, NULL);

    if (plan->preexec != NULL && plan->preexec(plan) != 0)
        _exit(255);

    if (plan->close_fds)
        uvloop_spawn_close_fds(plan);

    /* Like subprocess: try every candidate path; report the first error that is not
     * "no such file", else the last one. */
    saved_errno = 0;
    for (i = 0; i < plan->exec_count; i++) {
        if (plan->envp != NULL)
            execve(plan->exec_paths[i], plan->argv, plan->envp);
        else
            execv(plan->exec_paths[i], plan->argv);
        if (errno != ENOENT && errno != ENOTDIR && saved_errno == 0)
            saved_errno = errno;
    }
    if (saved_errno == 0)
        saved_errno = plan->exec_count > 0 ? errno : ENOENT;
    uvloop_spawn_fail(plan, saved_errno, 'x');
}


#if UVLOOP_LINUX_SPAWN

const int uvloop_fast_spawn_compiled = 1;
const char *const uvloop_fast_spawn_missing = "";

/* vfork() a child that runs child(arg), which never returns (it execs or _exits);
 * return the child's pid, or -errno. (The locked spawn's vfork: uvloop_fork.)
 *
 * vfork(): the parent's page tables are not copied and it takes no copy-on-write faults
 * afterwards (fork() of a large Python process costs milliseconds, of a 1 GiB one tens
 * of them). The child shares our memory while this thread is suspended: it only reads
 * what `arg` points to (a spawn child also writes plan->report). Every signal is
 * blocked around vfork() so that no handler of ours runs in the child on our memory
 * before it resets them; a spawn child restores plan->sigmask before exec. The child
 * has its own fd table, signal dispositions, cwd and umask, so its set-up does not
 * touch ours. Called without the GIL (the child runs no Python). */
static __attribute__((noinline)) pid_t
uvloop_vfork(void (*child)(const void *arg), const void *arg) {
    sigset_t all, old;
    pid_t pid;
    int saved_errno;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = vfork();
    if (pid == 0)
        child(arg);   /* never returns */
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -saved_errno : pid;
}

static void uvloop_spawn_child_of_vfork(const void *plan) {
    uvloop_spawn_child((const uvloop_spawn_plan *)plan);
}


/* The fast spawn's child: vfork()'s semantics, plus the pidfd from the same system
 * call. A raw clone() cannot return twice on one stack as vfork() does, so the child
 * runs on a stack of its own (as glibc's posix_spawn does). Each thread maps one on its
 * first spawn and keeps it until it exits: the child is done with it once it exec'd or
 * exited, which is when clone() returns here, and mapping it per spawn (munmap()
 * interrupts every CPU running one of our threads) costs a tenth of a spawn. The
 * child's set-up needs a few KiB; a guard page below turns an overflow into the
 * child's SIGSEGV instead of a write into our memory. */
#define UVLOOP_CHILD_STACK_SIZE (64 * 1024)

/* waitid()'s idtype for a pidfd (Linux 5.4; glibc names it only since 2.36). */
#define UVLOOP_P_PIDFD 3

static pthread_key_t uvloop_child_stack_key;
static pthread_once_t uvloop_child_stack_once = PTHREAD_ONCE_INIT;
static size_t uvloop_child_stack_guard;

static void uvloop_child_stack_free(void *stack) {
    munmap((char *)stack - uvloop_child_stack_guard,
           uvloop_child_stack_guard + UVLOOP_CHILD_STACK_SIZE);
}

static void uvloop_child_stack_key_init(void) {
    uvloop_child_stack_guard = (size_t)sysconf(_SC_PAGESIZE);
    if (pthread_key_create(&uvloop_child_stack_key, uvloop_child_stack_free) != 0)
        uvloop_child_stack_guard = 0;   /* no key: uvloop_child_stack() says ENOMEM */
}

/* This thread's child stack (the lowest address above its guard page), or NULL. */
static char *uvloop_child_stack(void) {
    char *map;
    void *stack;
    pthread_once(&uvloop_child_stack_once, uvloop_child_stack_key_init);
    if (uvloop_child_stack_guard == 0)
        return NULL;
    stack = pthread_getspecific(uvloop_child_stack_key);
    if (stack != NULL)
        return stack;
    map = mmap(NULL, uvloop_child_stack_guard + UVLOOP_CHILD_STACK_SIZE,
               PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (mprotect(map, uvloop_child_stack_guard, PROT_NONE) != 0 ||
            pthread_setspecific(uvloop_child_stack_key,
                                map + uvloop_child_stack_guard) != 0) {
        munmap(map, uvloop_child_stack_guard + UVLOOP_CHILD_STACK_SIZE);
        return NULL;
    }
    return map + uvloop_child_stack_guard;
}

static pid_t
uvloop_clone_vfork(int (*child)(void *arg), void *arg, int *pidfd) {
    sigset_t all, old;
    char *stack;
    pid_t pid;
    int saved_errno;
    *pidfd = -1;
    stack = uvloop_child_stack();
    if (stack == NULL)
        return -ENOMEM;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* The stack grows down: the child starts at the top of it. */
    pid = clone(child, stack + UVLOOP_CHILD_STACK_SIZE,
                CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, arg, pidfd);
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -saved_errno : pid;
}

static int uvloop_spawn_child_of_clone(void *plan) {
    uvloop_spawn_child((const uvloop_spawn_plan *)plan);
    return 255;   /* not reached */
}

pid_t uvloop_spawn_clone(const uvloop_spawn_plan *plan, int *pidfd) {
    return uvloop_clone_vfork(uvloop_spawn_child_of_clone, (void *)plan, pidfd);
}


static int uvloop_probe_child(void *child_ran) {
    *(volatile int *)child_ran = 1;   /* lands in the parent only if memory is shared */
    _exit(0);
}

/* Where such a child does not share memory (valgrind makes it a fork()), the fast
 * spawn would never see a child's exec error in plan->report, so every spawn must take
 * the locked one, whose children report through a pipe. The caller asks once per
 * process. */
int uvloop_fast_spawn_probe(void) {
    volatile int child_ran = 0;
    int pidfd, returncode, reaped;
    pid_t pid = uvloop_clone_vfork(uvloop_probe_child, (void *)&child_ran, &pidfd);
    if (pid < 0)
        return pid;
    reaped = uvloop_pidfd_reap(pidfd, 0, &returncode);
    if (reaped < 0) {
        /* waitid(P_PIDFD) unknown (Linux 5.3): reap by pid; never fast here. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    close(pidfd);
    if (reaped < 0)
        return reaped;
    return child_ran;
}

int uvloop_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int uvloop_pidfd_send_signal(int pidfd, int sig) {
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
        return -errno;
    return 0;
}

int uvloop_pidfd_reap(int pidfd, int options, int *returncode) {
    siginfo_t info;
    int r;
    memset(&info, 0, sizeof(info));
    do
        r = waitid((idtype_t)UVLOOP_P_PIDFD, (id_t)pidfd, &info, WEXITED | options);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (info.si_pid == 0)
        return 0;    /* WNOHANG: still running */
    *returncode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
    return 1;
}

#else  /* !UVLOOP_LINUX_SPAWN: the locked spawn with fork() serves every child. */

const int uvloop_fast_spawn_compiled = 0;
const char *const uvloop_fast_spawn_missing =
#if UVLOOP_PORTABLE_SPAWN
    "built with UVLOOP_PORTABLE_SPAWN=1";
#elif UVLOOP_TSAN_BUILD
    "a ThreadSanitizer build (it cannot follow a child that shares our memory)";
#else
    "not Linux (no clone() with CLONE_PIDFD)";
#endif

pid_t uvloop_spawn_clone(const uvloop_spawn_plan *plan, int *pidfd) {
    (void)plan;
    *pidfd = -1;
    return -ENOSYS;
}

int uvloop_fast_spawn_probe(void) {
    return -ENOSYS;
}

int uvloop_pidfd_open(pid_t pid) {
    (void)pid;
    return -ENOSYS;
}

int uvloop_pidfd_send_signal(int pidfd, int sig) {
    (void)pidfd;
    (void)sig;
    return -ENOSYS;
}

int uvloop_pidfd_reap(int pidfd, int options, int *returncode) {
    (void)pidfd;
    (void)options;
    (void)returncode;
    return -ENOSYS;
}

#endif  /* UVLOOP_LINUX_SPAWN */


/* Children whose exit status someone else took, as seen by uvloop_waitpid() on this
 * thread (a loop's) and not yet claimed by its loop: libuv calls the exit callbacks
 * right after its waitpid() calls, so a few slots are enough; were they ever full,
 * only the warning would be missing. */
#define UVLOOP_LOST_STATUS_SLOTS 64
static __thread pid_t uvloop_lost_status[UVLOOP_LOST_STATUS_SLOTS];
static __thread int uvloop_lost_status_count;

pid_t uvloop_waitpid(pid_t pid, int *status, int options) {
    pid_t r = waitpid(pid, status, options);
    if (r < 0 && errno == ECHILD && pid > 0) {
        /* libuv waits only for its own children: this one was reaped elsewhere. */
        if (uvloop_lost_status_count < UVLOOP_LOST_STATUS_SLOTS)
            uvloop_lost_status[uvloop_lost_status_count++] = pid;
        if (status != NULL)
            *status = 255 << 8;    /* exited with status 255 (W_EXITCODE(255, 0)) */
        return pid;
    }
    return r;
}

int uvloop_exit_status_lost(pid_t pid) {
    int i;
    for (i = 0; i < uvloop_lost_status_count; i++) {
        if (uvloop_lost_status[i] == pid) {
            uvloop_lost_status[i] = uvloop_lost_status[--uvloop_lost_status_count];
            return 1;
        }
    }
    return 0;
}


int uvloop_spawn_errpipe(int fds[2]) {
    int w;
#if defined(__APPLE__)
    /* No pipe2() there. */
    if (pipe(fds) < 0)
        return -errno;
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0)
        goto fail;
#else
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
#endif
    if (fds[1] < 3) {
        w = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
        if (w < 0)
            goto fail;
        close(fds[1]);
        fds[1] = w;
    }
    return 0;
fail:
    w = errno;
    close(fds[0]);
    close(fds[1]);
    return -w;
}


void uvloop_atfork_child(void) {
    /* In every child of every fork() of this process. Acts only in the child of the
     * thread inside a locked spawn: a fork by any other thread (or by C code while no
     * spawn runs) is none of our business. */
    if (uvloop_forking.active && pthread_equal(uvloop_forking.thread, pthread_self()))
        uvloop_spawn_child(uvloop_forking.plan);
}

pid_t uvloop_fork(void) {
    pid_t pid;
    __atomic_add_fetch(&uvloop_fork_calls, 1, __ATOMIC_RELAXED);
    if (!uvloop_forking.active || !uvloop_forking.allow_vfork ||
            !pthread_equal(uvloop_forking.thread, pthread_self()))
        return fork();
#if UVLOOP_LINUX_SPAWN
    pid = uvloop_vfork(uvloop_spawn_child_of_vfork, uvloop_forking.plan);
    if (pid < 0) {
        errno = -pid;
        return -1;
    }
    return pid;
#else
    (void)pid;
    return fork();
#endif
}
