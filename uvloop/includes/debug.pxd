# Debug-build counters (see debug.h). `UVLOOP_DEBUG` is a compile-time C constant, so the
# C compiler drops every `if UVLOOP_DEBUG:` block of a release build.

cdef extern from "includes/debug.h" nogil:
    const bint UVLOOP_DEBUG
    enum uvloop_counter:
        UVLOOP_HANDLES_LIVE
        UVLOOP_HANDLES_TOTAL
        UVLOOP_REQUESTS_LIVE
        UVLOOP_CB_HANDLES_LIVE
        UVLOOP_TIMERS_SCHEDULED
        UVLOOP_COUNTERS_COUNT
    void uvloop_count(int counter, long delta)
    long uvloop_counter_value(int counter)
