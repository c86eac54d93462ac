cdef class FdWaiter(Handle):
    pass


cdef class FdWatches:
    cdef:
        Loop _loop
        dict _polls                   # the user's fd number -> UVPoll of its dup
        list _to_verify               # fd numbers watched since the last uv_run()
        object _closed_check          # TimerHandle of the next closed-object check

    cdef watch(self, int fd, bint for_write, Handle handle, fileobj=*,
               bint nonblocking=*)
    cdef bint unwatch(self, int fd, bint for_write, fileobj=*) except -1
    cdef unwatch_handle(self, int fd, bint for_write, Handle handle)
    cdef verify(self)
    cdef close(self)
    cdef UVPoll _new_poll(self, int fd, bint nonblocking)
    cdef _release(self, UVPoll poll)
    cdef _clear(self, int fd, UVPoll poll, bint for_write)
    cdef bint _still_watches(self, UVPoll poll, int fd, fileobj)
    cdef _drop_stale(self, int fd, UVPoll poll)
    cdef _end_watch(self, UVPoll poll)
    cdef int _fd_of_closed(self, fileobj, int fd) except -1
