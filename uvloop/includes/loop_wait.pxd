# The loop's blocking wait without the GIL (loop_wait.h). Declarations only.

from .uv cimport uv_loop_t


cdef extern from "loop_wait.h" nogil:
    # 1: libuv's epoll_pwait() releases the GIL itself, so uv_run() is called holding
    # it; 0: the loop waits for libuv's backend fd without the GIL first.
    const bint UVLOOP_WRAPPED_POLL
    void uvloop_wait_for_io(uv_loop_t* loop)
