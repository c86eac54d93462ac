# FdWatches: the loop's add_reader/add_writer registrations (and the sock_* methods'
# waits), one UVPoll per watched fd, with a reader and a writer Handle each.
#
# Needs: UVPoll (handles/poll.pyx), Handle (callbacks.pyx).
#
# libuv applies epoll changes lazily, at the next uv_run(), and aborts the process if
# that epoll_ctl() fails. So each poll (re)started since the last uv_run() is checked
# just before it (`verify()`): the watch of an fd the user closed meanwhile is dropped;
# like asyncio's, such a watch never fires. Owned by one loop, used by its thread only.


cdef class FdWatches:

    def __cinit__(self, Loop loop):
        self._loop = loop
        self._polls = {}
        self._to_verify = []

    cdef watch(self, int fd, bint for_write, Handle handle):
        """Run `handle` whenever fd is readable (writable); replaces the watch
        already there (its Handle is cancelled)."""
        cdef UVPoll poll = self._polls.get(fd)
        if poll is None:
            poll = UVPoll.new(self._loop, fd)
            self._polls[fd] = poll
        old = poll.handle_for(for_write)
        if poll.set_handle(for_write, handle):
            self._to_verify.append(poll)
        if old is not None:
            (<Handle>old).cancel()

    cdef bint unwatch(self, int fd, bint for_write):
        """Stop the watch; True if there was one."""
        cdef UVPoll poll
        if self._loop._closed:
            return False
        poll = self._polls.get(fd)
        if poll is None:
            return False
        old = poll.handle_for(for_write)
        if old is None:
            return False
        poll.set_handle(for_write, None)
        (<Handle>old).cancel()
        if poll.reader is None and poll.writer is None:
            del self._polls[fd]
            poll.close()
        return True

    cdef verify(self):
        """Before uv_run(): drop the watches of fds closed since they were set."""
        cdef UVPoll poll
        if not self._to_verify:
            return
        for poll in self._to_verify:
            if poll.is_open() and poll._events and poll.fd_is_closed():
                if poll.reader is not None:
                    poll.reader.cancel()
                if poll.writer is not None:
                    poll.writer.cancel()
                poll.reader = poll.writer = None
                self._polls.pop(poll.fd, None)
                poll.close()
        self._to_verify.clear()

    cdef close(self):
        for poll in self._polls.values():
            (<UVPoll>poll).close()
        self._polls.clear()
        self._to_verify.clear()
