# FdWatches: the loop's add_reader/add_writer registrations and the sock_* methods'
# waits, one UVPoll per watched fd number, with a reader and a writer Handle each.
#
# Needs: UVPoll (handles/poll.pyx), Handle (callbacks.pyx), _dup_fd and _same_file
# (fds.pyx).
#
# libuv never sees the user's fd: each UVPoll watches a dup() of it that only we close.
# The user may close a watched fd and reuse its number (for a regular file, a socket, a
# transport) at any time; libuv would abort the process when it next registered that
# number with epoll, and it allows one watcher per number. The dup keeps the user's
# file open, so a watch is ended (its poll and dup closed: the file is really closed
# then, the peer sees it) once we see that the user closed its fd:
# - before each uv_run(), for the watches set since the last one: the file object
#   named is closed, or the fd number names another file now (an fstat() of each);
# - every _CLOSED_CHECK_INTERVAL seconds, for watches named by a file object (a socket):
#   the object is closed (no syscall). A bare fd number closed later stays watched
#   until removed or watched again, as upstream uvloop keeps it.
# An ended watch never fires again, as asyncio's; it stays registered (remove_reader()
# finds it, by the closed object too) until removed or its number is watched again. An
# FdWaiter on it (a sock_* call) runs once more, so that it fails as its closed socket
# does. Owned by one loop, used by its thread only.

import os

cdef double _CLOSED_CHECK_INTERVAL = 0.1


cdef class FdWaiter(Handle):
    """The Handle of an operation waiting on a watched fd (a sock_* call): it runs
    once more when its watched object is found closed, so it can fail."""


cdef bint _is_closed_file_object(fileobj):
    try:
        return fileobj.fileno() < 0
    except (AttributeError, TypeError, ValueError, OSError):
        return True


cdef class FdWatches:

    def __cinit__(self, Loop loop):
        self._loop = loop
        self._polls = {}
        self._to_verify = []
        self._closed_check = None

    cdef watch(self, int fd, bint for_write, Handle handle, fileobj=None,
               bint nonblocking=False):
        """Run `handle` whenever fd is readable (writable); replaces the watch
        already there (its Handle is cancelled). `fileobj`: what the user named the
        fd by; a negative fd is a closed file object (asyncio's errors).
        `nonblocking`: the caller knows the fd is in non-blocking mode."""
        cdef UVPoll poll
        if fd < 0:
            # asyncio's selector drops the registration when this fails.
            fd = self._fd_of_closed(fileobj, fd)
            self._drop_stale(fd, self._polls[fd])
            raise OSError(EBADF, os.strerror(EBADF))
        if isinstance(fileobj, int):
            fileobj = None
        poll = self._polls.get(fd)
        if poll is not None and not self._still_watches(poll, fd, fileobj):
            self._drop_stale(fd, poll)
            poll = None
        if poll is None:
            poll = self._new_poll(fd, nonblocking)
            self._polls[fd] = poll
        poll.fileobj = fileobj
        old = poll.handle_for(for_write)
        poll.set_handle(for_write, handle)
        self._to_verify.append(fd)
        if old is not None:
            (<Handle>old).cancel()
        if fileobj is not None and self._closed_check is None:
            self._closed_check = self._loop.call_later(
                _CLOSED_CHECK_INTERVAL, self._check_closed_objects)

    cdef bint unwatch(self, int fd, bint for_write, fileobj=None) except -1:
        """Stop the watch; True if there was one. A negative fd is a closed file
        object: its watch is found by the object, as asyncio's selector does."""
        cdef UVPoll poll
        if self._loop._closed:
            return False
        if fd < 0:
            fd = self._fd_of_closed(fileobj, fd)
        poll = self._polls.get(fd)
        if poll is None:
            return False
        old = poll.handle_for(for_write)
        if old is None:
            return False
        self._clear(fd, poll, for_write)
        (<Handle>old).cancel()
        return True

    cdef unwatch_handle(self, int fd, bint for_write, Handle handle):
        """Stop the watch if `handle` is still the one on that side (an FdWaiter
        whose operation is over)."""
        cdef UVPoll poll = self._polls.get(fd)
        if poll is not None and poll.handle_for(for_write) is handle:
            self._clear(fd, poll, for_write)

    cdef verify(self):
        """Before uv_run(): end the watches set since the last one whose fd the
        user closed meanwhile."""
        cdef UVPoll poll
        if not self._to_verify:
            return
        for fd in self._to_verify:
            poll = self._polls.get(fd)
            if poll is None or not poll.is_open():
                continue
            if poll.fileobj is not None:
                if _is_closed_file_object(poll.fileobj):
                    self._end_watch(poll)
            elif not _same_file(fd, poll.fd):
                self._end_watch(poll)
        self._to_verify.clear()

    cdef close(self):
        for poll in self._polls.values():
            self._release(poll)
        self._polls.clear()
        self._to_verify.clear()
        if self._closed_check is not None:
            self._closed_check.cancel()
            self._closed_check = None

    cdef UVPoll _new_poll(self, int fd, bint nonblocking):
        cdef int private_fd = _dup_fd(fd)
        try:
            return UVPoll.new(self._loop, private_fd, nonblocking)
        except BaseException:
            close(private_fd)
            raise

    cdef _release(self, UVPoll poll):
        """Close the poll and its dup; the Handles stay."""
        if poll.is_open():
            # uv_close() takes the fd out of epoll at once, so closing it next is safe.
            poll.close()
            close(poll.fd)

    cdef _clear(self, int fd, UVPoll poll, bint for_write):
        poll.set_handle(for_write, None)
        if poll.reader is None and poll.writer is None:
            del self._polls[fd]
            self._release(poll)

    cdef bint _still_watches(self, UVPoll poll, int fd, fileobj):
        """Whether the poll of number fd still watches the file fd names now."""
        if not poll.is_open():
            return False
        if fileobj is not None and fileobj is poll.fileobj:
            # The same object, still open (it gave fd): the same file.
            return True
        return _same_file(fd, poll.fd)

    cdef _drop_stale(self, int fd, UVPoll poll):
        """The user closed fd (and maybe reused its number): the old watch ends and
        is unregistered. Its FdWaiters run once more (to fail), other Handles are
        cancelled."""
        del self._polls[fd]
        self._end_watch(poll)
        for handle in (poll.reader, poll.writer):
            if handle is not None and not isinstance(handle, FdWaiter):
                (<Handle>handle).cancel()
        poll.reader = poll.writer = None

    cdef _end_watch(self, UVPoll poll):
        """The user closed the watched fd: close the poll and dup, and run the
        FdWaiters once more."""
        if not poll.is_open():
            return
        self._release(poll)
        for handle in (poll.reader, poll.writer):
            if isinstance(handle, FdWaiter):
                self._loop._append_ready(handle)

    cdef int _fd_of_closed(self, fileobj, int fd) except -1:
        """The number a closed file object was watched under."""
        cdef UVPoll poll
        if fileobj is not None and not isinstance(fileobj, int):
            for watched_fd, poll in self._polls.items():
                if poll.fileobj is fileobj:
                    return watched_fd
        raise ValueError(f'Invalid file descriptor: {fd}')

    def _check_closed_objects(self):
        cdef UVPoll poll
        cdef bint watching_objects = False
        self._closed_check = None
        for poll in self._polls.values():
            if poll.fileobj is None or not poll.is_open():
                continue
            if _is_closed_file_object(poll.fileobj):
                self._end_watch(poll)
            else:
                watching_objects = True
        if watching_objects:
            self._closed_check = self._loop.call_later(
                _CLOSED_CHECK_INTERVAL, self._check_closed_objects)
