cdef class UVHandle:
    cdef:
        uv.uv_handle_t* _handle
        Loop _loop
        bint _closing

    cdef _alloc(self, Loop loop, size_t size)
    cdef _attach(self)
    cdef _attach_or_raise(self, int init_err)
    cdef _free_unattached(self)
    cdef close(self)
    cdef inline bint is_open(self):
        return self._handle is not NULL and not self._closing
    cdef _on_closed(self)
