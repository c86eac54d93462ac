cdef class UVTimer(UVHandle):
    cdef bint _armed              # started, and maybe not fired yet

    cdef start(self, uint64_t timeout_ms)
    cdef stop(self)

    @staticmethod
    cdef UVTimer new(Loop loop)
