/* Debug-build counters of live libuv handles, requests and callback handles.
 *
 * Compiled in when the extension is built with UVLOOP_DEBUG=1 (see setup.py); in a
 * release build every counter update compiles to nothing. The counters are process-wide
 * and loops run in many threads at once, so updates are atomic. */
#ifndef UVLOOP_DEBUG_H
#define UVLOOP_DEBUG_H

#ifndef UVLOOP_DEBUG
#define UVLOOP_DEBUG 0
#endif

enum uvloop_counter {
    UVLOOP_HANDLES_LIVE = 0,   /* uv_*_t handles allocated and not yet freed */
    UVLOOP_HANDLES_TOTAL,      /* uv_*_t handles ever allocated */
    UVLOOP_REQUESTS_LIVE,      /* uv_*_t requests (write, connect, ...) in flight */
    UVLOOP_CB_HANDLES_LIVE,    /* Handle/TimerHandle objects alive */
    UVLOOP_TIMERS_SCHEDULED,   /* TimerHandles in some loop's timer heap */
    UVLOOP_COUNTERS_COUNT
};

static long uvloop_counters[UVLOOP_COUNTERS_COUNT];

static inline void uvloop_count(int counter, long delta) {
#if UVLOOP_DEBUG
    __atomic_add_fetch(&uvloop_counters[counter], delta, __ATOMIC_RELAXED);
#else
    (void)counter;
    (void)delta;
#endif
}

static inline long uvloop_counter_value(int counter) {
    return __atomic_load_n(&uvloop_counters[counter], __ATOMIC_RELAXED);
}

#endif
