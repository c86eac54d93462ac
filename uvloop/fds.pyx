# File descriptor helpers shared by the handles, transports and fd watches.

from posix.stat cimport struct_stat, fstat

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


cdef bint _same_file(int fd_a, int fd_b):
    """Whether two open fds name the same file (False if either is closed)."""
    cdef struct_stat a, b
    if fstat(fd_a, &a) != 0 or fstat(fd_b, &b) != 0:
        return False
    return a.st_dev == b.st_dev and a.st_ino == b.st_ino
