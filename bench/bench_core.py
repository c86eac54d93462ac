"""Core event-loop throughput: callbacks, timers, cross-thread calls and
future/task wake-ups, with no I/O. Each workload runs in a fresh child
process; see runner.py for the options and how results are compared."""

import random
import threading
import time

import runner

CALL_SOON_TOTAL = 1_000_000
CALL_SOON_BATCH = 1_000
TIMERS = 100_000
TIMER_MAX_DELAY = 0.010
THREADS = 8
# Sized so that asyncio's run, the slowest, stays near 5 s on a 2-core machine.
CALLS_PER_THREAD = 50_000
AWAITS = 500_000


def _run_timed(loop, start):
    """Schedule `start` and run the loop until something calls loop.stop();
    return the seconds spent, then close the loop."""
    loop.call_soon(start)
    t0 = time.perf_counter()
    loop.run_forever()
    elapsed = time.perf_counter() - t0
    loop.close()
    return elapsed


def call_soon(new_loop):
    """call_soon + dispatch of no-op callbacks. A chain of batch callbacks
    schedules them, so the ready queue stays short as in real programs."""
    loop = new_loop()
    batches_left = CALL_SOON_TOTAL // CALL_SOON_BATCH

    def noop():
        pass

    def batch():
        nonlocal batches_left
        for _ in range(CALL_SOON_BATCH):
            loop.call_soon(noop)
        batches_left -= 1
        # FIFO order: the next batch (or the stop) runs after this one's no-ops.
        loop.call_soon(batch if batches_left else loop.stop)

    elapsed = _run_timed(loop, batch)
    return {"callbacks/s": CALL_SOON_TOTAL / elapsed}


def timers(new_loop):
    """call_later with random delays up to 10 ms, until every timer fired."""
    loop = new_loop()
    rng = random.Random(0)  # a fixed seed gives every loop the same delays
    delays = [rng.uniform(0, TIMER_MAX_DELAY) for _ in range(TIMERS)]
    pending = TIMERS

    def fired():
        nonlocal pending
        pending -= 1
        if not pending:
            loop.stop()

    def schedule():
        for delay in delays:
            loop.call_later(delay, fired)

    elapsed = _run_timed(loop, schedule)
    return {"timers/s": TIMERS / elapsed}


def call_soon_threadsafe(new_loop):
    """Many threads feeding one running loop through call_soon_threadsafe,
    until every call was delivered."""
    loop = new_loop()
    pending = THREADS * CALLS_PER_THREAD

    def delivered():
        nonlocal pending
        pending -= 1
        if not pending:
            loop.stop()

    def produce():
        for _ in range(CALLS_PER_THREAD):
            loop.call_soon_threadsafe(delivered)

    threads = [threading.Thread(target=produce) for _ in range(THREADS)]

    def start():
        # Started from inside the loop so every call hits a running loop.
        for thread in threads:
            thread.start()

    elapsed = _run_timed(loop, start)
    for thread in threads:
        thread.join()
    return {"calls/s": THREADS * CALLS_PER_THREAD / elapsed}


def future_pingpong(new_loop):
    """A task awaiting futures that a call_soon callback resolves: each round
    trip is a future resolution plus a task wake-up through the loop."""
    loop = new_loop()

    async def pingpong():
        for _ in range(AWAITS):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut
        loop.stop()

    elapsed = _run_timed(loop, lambda: loop.create_task(pingpong()))
    return {"awaits/s": AWAITS / elapsed}


WORKLOADS = {
    "call_soon": call_soon,
    "timers": timers,
    "threadsafe": call_soon_threadsafe,
    "future_pingpong": future_pingpong,
}

if __name__ == "__main__":
    runner.main(WORKLOADS)
