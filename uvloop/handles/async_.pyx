# UVAsync: wakes a loop sleeping in uv_run() from any thread (call_soon_threadsafe).
#
# uv_async_send() is the one libuv call that is safe from other threads; sends coalesce
# until the loop runs. The callback does nothing: after uv_run() returns, the loop drains
# its thread-safe queue. Owned and closed by its loop; handle life rules in handle.pyx.


cdef void _on_async_wakeup(uv.uv_async_t* handle) noexcept nogil:
    pass


cdef class UVAsync(UVHandle):

    @staticmethod
    cdef UVAsync new(Loop loop):
        cdef UVAsync handle = UVAsync.__new__(UVAsync)
        handle._alloc(loop, sizeof(uv.uv_async_t))
        handle._attach_or_raise(uv.uv_async_init(
            loop.uvloop, <uv.uv_async_t*>handle._handle, _on_async_wakeup))
        return handle

    cdef send(self):
        # Called from any thread, with or without the GIL: only the uv call, no
        # Python state. The loop closes this handle only after it stopped running and
        # its thread-safe queue is closed, so a late send never reaches freed memory.
        uv.uv_async_send(<uv.uv_async_t*>self._handle)
