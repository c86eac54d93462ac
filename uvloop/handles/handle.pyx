# UVHandle: the base of every Python object that owns one libuv handle.
#
# Needs: the Loop (its uv_loop_t, its `_handles` set), convert_error (errors.pyx).
#
# Life of the uv_*_t (the rules every subclass follows):
# - `_alloc()` allocates the zeroed uv_*_t; the subclass then calls `uv_<type>_init()`
#   and gives its result to `_attach_or_raise()`: on failure the memory is freed at once
#   (libuv never saw it, see `_free_unattached()`) and the error raised; on success it
#   belongs to libuv until the close callback.
# - While attached, the loop holds the handle object in `Loop._handles`, so the object
#   outlives every libuv callback that can name it (`handle->data` is a borrowed pointer).
# - `close()` is idempotent: it calls `uv_close()`; the close callback frees the memory,
#   clears `_handle` and drops the loop's reference. `Loop.close()` closes all handles
#   still open, so no uv_*_t outlives its loop.
# Only the loop's thread touches a handle, so none of this needs a lock.


cdef void _on_uv_handle_closed(uv.uv_handle_t* handle) noexcept:
    cdef UVHandle obj = <UVHandle>handle.data
    PyMem_RawFree(handle)
    if UVLOOP_DEBUG:
        uvloop_count(UVLOOP_HANDLES_LIVE, -1)
    obj._handle = NULL
    obj._loop._handles.discard(obj)
    try:
        obj._on_closed()
    except BaseException as exc:
        obj._loop._handle_callback_error(exc, obj)


cdef class UVHandle:

    def __cinit__(self):
        self._handle = NULL
        self._closing = False

    def __dealloc__(self):
        # Only reachable for a handle whose init failed: an attached handle is kept
        # alive by Loop._handles until its close callback ran.
        if self._handle is not NULL:
            PyMem_RawFree(self._handle)
            self._handle = NULL
            if UVLOOP_DEBUG:
                uvloop_count(UVLOOP_HANDLES_LIVE, -1)

    cdef _alloc(self, Loop loop, size_t size):
        self._handle = <uv.uv_handle_t*>PyMem_RawCalloc(1, size)
        if self._handle is NULL:
            raise MemoryError()
        self._loop = loop
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_HANDLES_LIVE, 1)
            uvloop_count(UVLOOP_HANDLES_TOTAL, 1)

    cdef _attach(self):
        self._handle.data = <void*>self
        self._loop._handles.add(self)

    cdef _attach_or_raise(self, int init_err):
        """`init_err`: what uv_<type>_init() returned for this handle."""
        if init_err < 0:
            self._free_unattached()
            raise convert_error(init_err)
        self._attach()

    cdef _free_unattached(self):
        PyMem_RawFree(self._handle)
        self._handle = NULL
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_HANDLES_LIVE, -1)

    cdef close(self):
        if self._handle is NULL or self._closing:
            return
        self._closing = True
        uv.uv_close(self._handle, _on_uv_handle_closed)

    cdef _on_closed(self):
        """Hook for subclasses: runs once the uv handle's memory is gone."""
        pass
