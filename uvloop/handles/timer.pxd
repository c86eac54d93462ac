cdef class UVTimer(UVHandle):
    cdef start(self, uint64_t timeout_ms)
    cdef stop(self)

    @staticmethod
    cdef UVTimer new(Loop loop)
