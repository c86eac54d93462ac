# File descriptor helpers shared by the handles, transports and fd watches.

import select as select_module


cdef int _dup_fd(int fd) except -1:
    """A close-on-exec duplicate of fd."""
    cdef int new_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)
    if new_fd < 0:
        raise_errno()
    return new_fd


cdef _check_pollable(int fd):
    """Raise if epoll cannot watch fd (e.g. /dev/null): libuv would abort."""
    try:
        epoll = select_module.epoll
    except AttributeError:
        return
    watcher = epoll()
    try:
        watcher.register(fd, select_module.EPOLLIN)
    finally:
        watcher.close()
