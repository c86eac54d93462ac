# UVPoll: readiness of one file descriptor that the user owns (add_reader, add_writer
# and the sock_* methods), one uv_poll_t per fd per loop as libuv requires.
#
# Needs: UVHandle (handle.pyx), Handle (callbacks.pyx), the loop's ready queue.
#
# Events do not call Python code inside libuv: the reader/writer Handle is appended to
# the ready queue and runs with the rest of the batch, as in asyncio.
#
# libuv applies epoll changes lazily, at the next uv_run(), and aborts the process if
# that epoll_ctl() fails; so the fd given to a UVPoll must stay open, and be the same
# file, until the poll is closed: its owners (FdWatches, a write pipe's reader watch)
# give it a dup() of their own. Handle life rules in handle.pyx.


cdef void _on_poll_event(uv.uv_poll_t* handle, int status,
                         int events) noexcept:
    cdef UVPoll poll = <UVPoll>handle.data
    if status < 0:
        # An error is reported to both sides, as selectors report EPOLLERR. libuv
        # stopped the watch; selectors go on watching the fd (the callbacks that run
        # now consume the error, e.g. a UDP socket's ICMP unreachable), so do we.
        events = uv.UV_READABLE | uv.UV_WRITABLE
        poll._events = 0
        try:
            poll._update()
        except BaseException as exc:
            poll._loop._handle_callback_error(exc, poll)
    if events & uv.UV_READABLE and poll.reader is not None:
        if poll.signal_wakeup:
            poll._loop._signals_arrived = True
        poll._loop._append_ready(poll.reader)
    if events & uv.UV_WRITABLE and poll.writer is not None:
        poll._loop._append_ready(poll.writer)


cdef class UVPoll(UVHandle):

    @staticmethod
    cdef UVPoll new(Loop loop, int fd, bint nonblocking=False):
        """A poll of fd; `nonblocking`: the caller knows fd is in non-blocking mode
        (a sock_* socket), so its mode need not be read and restored."""
        cdef UVPoll poll = UVPoll.__new__(UVPoll)
        cdef int flags = 0
        if not nonblocking:
            flags = fcntl(fd, F_GETFL)
            if flags == -1:
                raise_errno()
        poll._alloc(loop, sizeof(uv.uv_poll_t))
        poll._attach_or_raise(
            uv.uv_poll_init(loop.uvloop, <uv.uv_poll_t*>poll._handle, fd))
        # uv_poll_init() makes the fd non-blocking; asyncio leaves the mode alone.
        if not nonblocking and not flags & O_NONBLOCK:
            fcntl(fd, F_SETFL, flags)
        poll.fd = fd
        return poll

    cdef inline Handle handle_for(self, bint for_write):
        return self.writer if for_write else self.reader

    cdef int set_handle(self, bint for_write, Handle handle) except -1:
        """Set (or clear, with None) one side. A closed poll only records it."""
        if for_write:
            self.writer = handle
        else:
            self.reader = handle
        if self.is_open():
            self._update()
        return 0

    cdef int _update(self) except -1:
        cdef int events = 0
        if self.reader is not None:
            events |= uv.UV_READABLE
        if self.writer is not None:
            events |= uv.UV_WRITABLE
        if events == self._events:
            return 0
        self._events = events
        if not events:
            uv.uv_poll_stop(<uv.uv_poll_t*>self._handle)
            return 0
        # uv_poll_start() stops the watch first (an immediate EPOLL_CTL_DEL).
        err = uv.uv_poll_start(<uv.uv_poll_t*>self._handle, events, _on_poll_event)
        if err < 0:
            self._events = 0
            raise convert_error(err)
        return 0
