cdef class FdWatches:
    cdef:
        Loop _loop
        dict _polls                   # fd -> UVPoll
        list _to_verify               # polls started since the last uv_run()

    cdef watch(self, int fd, bint for_write, Handle handle)
    cdef bint unwatch(self, int fd, bint for_write)
    cdef verify(self)
    cdef close(self)
