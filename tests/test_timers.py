"""When timers fire: on time (not a millisecond late), never early, in order; and what
the loop does with deadlines that are NaN, infinite or far off."""

import asyncio
import random
import statistics
import threading
import time

import pytest

# Timing on a loaded machine is noisy: a measurement is retried this many times before
# it counts as a failure.
ATTEMPTS = 3


def sleep_lateness_ms(loop, delay, samples):
    """Median lateness of `asyncio.sleep(delay)` on an idle loop, in milliseconds."""
    async def measure():
        late = []
        for _ in range(samples):
            start = time.perf_counter()
            await asyncio.sleep(delay)
            late.append((time.perf_counter() - start - delay) * 1e3)
        return statistics.median(late)
    return loop.run_until_complete(measure())


@pytest.mark.parametrize('delay', [0.001, 0.002])
def test_sleeps_end_on_time(uvloop_loop, delay):
    # Under 0.3 ms; asyncio's loop, measured alongside, tells a machine too loaded
    # for that bound (then ours must stay within 0.2 ms of it) from a late loop.
    reference = asyncio.new_event_loop()
    try:
        for _ in range(ATTEMPTS):
            ours = sleep_lateness_ms(uvloop_loop, delay, 150)
            theirs = sleep_lateness_ms(reference, delay, 150)
            if ours < max(0.3, theirs + 0.2):
                break
        assert ours < max(0.3, theirs + 0.2), \
            f'median lateness {ours:.3f} ms (asyncio: {theirs:.3f} ms)'
    finally:
        reference.close()


def ends_out_of_order(loop):
    """Whether a 1 ms sleep, started before a 2 ms timer, ends after it."""
    async def race():
        order = []

        async def sleeper():
            await asyncio.sleep(0.001)
            order.append('sleep')

        task = loop.create_task(sleeper())
        await asyncio.sleep(0)      # the sleep has started
        timer_fired = loop.create_future()
        loop.call_later(0.002, lambda: (order.append('timer'),
                                        timer_fired.set_result(None)))
        await timer_fired
        await task
        return order != ['sleep', 'timer']
    return loop.run_until_complete(race())


def test_timers_scheduled_in_order_end_in_order(uvloop_loop):
    # A stall of a millisecond at the wrong moment reorders a run on any loop, so
    # asyncio's loop races alongside, run for run, under the same load; a loop that
    # fires every timer a millisecond late reorders nearly all of them.
    reference = asyncio.new_event_loop()
    try:
        for _ in range(ATTEMPTS):
            ours = theirs = 0
            for _ in range(300):
                ours += ends_out_of_order(uvloop_loop)
                theirs += ends_out_of_order(reference)
            if ours <= max(15, 2 * theirs + 10):
                break
        assert ours <= max(15, 2 * theirs + 10), \
            f'{ours} of 300 out of order (asyncio: {theirs})'
    finally:
        reference.close()


def test_timers_never_run_before_their_deadline(loop):
    random.seed(16)
    early = []
    fired = []

    def check(timer_box):
        fired.append(1)
        if loop.time() < timer_box[0].when():
            early.append(timer_box[0].when() - loop.time())

    for _ in range(300):
        box = []
        box.append(loop.call_later(random.uniform(0, 0.02), check, box))
    loop.call_later(0.03, loop.stop)
    loop.run_forever()
    assert len(fired) == 300
    assert early == []


def test_sub_millisecond_remainders_do_not_spin(loop):
    # Deadlines at fractions of a millisecond: the loop sleeps to each one instead
    # of polling until it is due.
    random.seed(13)
    count = 300
    fired = []
    start = loop.time()
    for i in range(count):
        loop.call_at(start + 0.0015 * (i + 1) + random.uniform(0, 0.0009),
                     fired.append, i)
    cpu = time.thread_time()
    loop.call_at(start + 0.0015 * (count + 2), loop.stop)
    loop.run_forever()
    cpu = time.thread_time() - cpu
    assert fired == list(range(count))
    # About 0.45 s of waiting for 300 wake-ups; spinning on each remainder would
    # burn a third of it.
    assert cpu < 0.1, f'{cpu:.3f} s of CPU'


def test_nan_timers_raise_value_error(uvloop_loop):
    loop = uvloop_loop
    with pytest.raises(ValueError):
        loop.call_at(float('nan'), print)
    with pytest.raises(ValueError):
        loop.call_later(float('nan'), print)
    with pytest.raises(ValueError):
        loop.run_until_complete(asyncio.sleep(float('nan')))

    async def wait_nan():
        return await asyncio.wait_for(loop.create_future(), float('nan'))

    with pytest.raises(ValueError):
        loop.run_until_complete(wait_nan())
    # Nothing was scheduled, and timers still fire in order.
    calls = []
    loop.call_later(0.002, calls.append, 2)
    loop.call_later(0.001, calls.append, 1)
    loop.run_until_complete(asyncio.sleep(0.005))
    assert calls == [1, 2]


def wait_for_forever(loop, fired):
    task = loop.create_task(asyncio.wait_for(loop.create_future(), float('inf')))
    task.add_done_callback(fired.append)
    return task


@pytest.mark.parametrize('arm', [
    lambda loop, fired: loop.call_later(float('inf'), fired.append, 1),
    lambda loop, fired: loop.call_at(float('inf'), fired.append, 1),
    lambda loop, fired: loop.call_later(1e17, fired.append, 1),
    lambda loop, fired: loop.call_at(1e300, fired.append, 1),
    wait_for_forever,
], ids=['call_later-inf', 'call_at-inf', 'call_later-1e17', 'call_at-1e300',
        'wait_for-inf'])
def test_an_idle_loop_holding_a_far_timer_sleeps(loop, arm):
    fired = []
    held = arm(loop, fired)
    loop.run_until_complete(asyncio.sleep(0))
    # Stopped by another thread, not by a timer: the far timer must be the earliest
    # one the loop knows of.
    stopper = threading.Timer(0.5, loop.call_soon_threadsafe, (loop.stop,))
    stopper.start()
    cpu = time.thread_time()
    loop.run_forever()
    cpu = time.thread_time() - cpu
    stopper.join()
    assert fired == []
    assert cpu < 0.05, f'{cpu:.3f} s of CPU in 0.5 s'
    held.cancel()
    loop.run_until_complete(asyncio.sleep(0))


def test_minus_infinity_is_due_at_once(loop):
    calls = []
    loop.call_at(float('-inf'), calls.append, 'at')
    loop.call_later(float('-inf'), calls.append, 'later')
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ['at', 'later']
