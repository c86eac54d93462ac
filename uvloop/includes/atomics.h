/* Atomic flags shared between a loop's thread and other threads.
 * Plain loads and stores of an int are data races in C (and under ThreadSanitizer);
 * these make the cross-thread "is there work?" peeks well defined. */
#ifndef UVLOOP_ATOMICS_H
#define UVLOOP_ATOMICS_H

static inline int uvloop_atomic_load_int(const int* p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void uvloop_atomic_store_int(int* p, int value) {
    __atomic_store_n(p, value, __ATOMIC_RELEASE);
}

#endif
