/* The loop's one blocking wait, without the GIL: see loop_wait.h. */
#include <Python.h>

#include <errno.h>
#include <poll.h>

#include "loop_wait.h"

#if UVLOOP_WRAPPED_POLL
#include <sys/epoll.h>

/* The real one (the command line renamed the header's declaration). */
#undef epoll_pwait
extern int epoll_pwait(int epfd, struct epoll_event *events, int maxevents,
                       int timeout, const sigset_t *sigmask);

int uvloop_epoll_pwait(int epfd, struct epoll_event *events, int maxevents,
                       int timeout, const sigset_t *sigmask) {
    PyThreadState *state;
    int n, saved_errno;
    if (timeout == 0)
        return epoll_pwait(epfd, events, maxevents, 0, sigmask);
    state = PyEval_SaveThread();
    n = epoll_pwait(epfd, events, maxevents, timeout, sigmask);
    saved_errno = errno;
    PyEval_RestoreThread(state);
    errno = saved_errno;
    return n;
}
#endif

void uvloop_wait_for_io(uv_loop_t *loop) {
    struct pollfd pfd;
    pfd.fd = uv_backend_fd(loop);
    pfd.events = POLLIN;
    pfd.revents = 0;
    /* EINTR: a signal arrived; the loop runs Python's handlers next. */
    (void)poll(&pfd, 1, uv_backend_timeout(loop));
}
