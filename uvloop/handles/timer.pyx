# UVTimer: the loop's one wake-up timer.
#
# TimerHandles live in the loop's TimerQueue (timers.pyx); this uv_timer_t only bounds how
# long uv_run() may sleep, armed for the earliest deadline before each blocking
# iteration. Its callback does nothing: returning from uv_run() is the whole point.
# Owned and closed by its loop; handle life rules in handle.pyx.


cdef void _on_timer_fired(uv.uv_timer_t* handle) noexcept nogil:
    pass


cdef class UVTimer(UVHandle):

    @staticmethod
    cdef UVTimer new(Loop loop):
        cdef UVTimer timer = UVTimer.__new__(UVTimer)
        timer._alloc(loop, sizeof(uv.uv_timer_t))
        timer._attach_or_raise(
            uv.uv_timer_init(loop.uvloop, <uv.uv_timer_t*>timer._handle))
        return timer

    cdef start(self, uint64_t timeout_ms):
        uv.uv_timer_start(<uv.uv_timer_t*>self._handle, _on_timer_fired, timeout_ms, 0)
        self._armed = True

    cdef stop(self):
        # Most iterations of a loop with no timer come here: no libuv call then.
        if self._armed:
            uv.uv_timer_stop(<uv.uv_timer_t*>self._handle)
            self._armed = False
