/* The loop's one blocking wait, without the GIL (loop_wait.c).
 *
 * The loop runs uv_run() holding the GIL, so that libuv's callbacks (a read, a write
 * done, a handle closed...) call into Python without taking it back one by one: that
 * hand-over cost a fifth of a small request's CPU. The GIL is released only around the
 * system call that blocks, epoll_pwait(): setup.py compiles libuv with
 * -Depoll_pwait=uvloop_epoll_pwait, so libuv's one call of it (uv__io_poll) lands in
 * uvloop_epoll_pwait() (loop_wait.c). Where that cannot be done (a system libuv, another
 * platform), UVLOOP_WRAPPED_POLL is 0 and the loop waits for libuv's backend fd itself
 * without the GIL (uvloop_wait_for_io()), then runs uv_run() without blocking. */
#ifndef UVLOOP_LOOP_WAIT_H
#define UVLOOP_LOOP_WAIT_H

#include <uv.h>

#ifndef UVLOOP_WRAPPED_POLL
#define UVLOOP_WRAPPED_POLL 0
#endif

/* Block (without the GIL; call it without the GIL) until libuv's backend fd has
 * events or libuv's next timeout passes. */
void uvloop_wait_for_io(uv_loop_t *loop);

#endif
