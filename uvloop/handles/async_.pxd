cdef class UVAsync(UVHandle):
    cdef send(self)

    @staticmethod
    cdef UVAsync new(Loop loop)
