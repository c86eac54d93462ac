"""call_soon_threadsafe: from many threads, exactly once, in per-thread order."""

import asyncio
import threading
import time

import pytest

from loops import keep_busy


def test_8_threads_x_100000_calls_arrive_exactly_once_in_per_thread_order(loop):
    threads_count, calls_per_thread = 8, 100_000
    received = [[] for _ in range(threads_count)]
    done = loop.create_future()
    remaining = [threads_count * calls_per_thread]

    def record(thread_index, seq):
        received[thread_index].append(seq)
        remaining[0] -= 1
        if not remaining[0]:
            done.set_result(None)

    def producer(thread_index):
        call = loop.call_soon_threadsafe
        for seq in range(calls_per_thread):
            call(record, thread_index, seq)

    async def main():
        threads = [threading.Thread(target=producer, args=(i,))
                   for i in range(threads_count)]
        for thread in threads:
            thread.start()
        await asyncio.wait_for(done, 60)
        for thread in threads:
            thread.join()

    loop.run_until_complete(main())
    for thread_received in received:
        assert thread_received == list(range(calls_per_thread))


def test_call_soon_threadsafe_wakes_a_loop_sleeping_in_run_forever(loop):
    woke_at = []

    def wake_up():
        woke_at.append(time.monotonic())
        loop.stop()

    def poke():
        time.sleep(0.1)
        sent_at.append(time.monotonic())
        loop.call_soon_threadsafe(wake_up)

    sent_at = []
    thread = threading.Thread(target=poke)
    thread.start()
    loop.run_forever()
    thread.join()
    # The loop had nothing else to do: it can only have woken for the call.
    assert woke_at and woke_at[0] - sent_at[0] < 0.05


def test_call_soon_threadsafe_on_a_closed_loop_raises(loop):
    loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.call_soon_threadsafe(print)


def test_call_soon_threadsafe_racing_with_close_never_crashes(loop):
    # Producers keep calling while the loop closes: each call either lands or raises
    # RuntimeError('Event loop is closed'); nothing else may happen.
    stop = threading.Event()
    errors = []

    def producer():
        while not stop.is_set():
            try:
                loop.call_soon_threadsafe(len, ())
            except RuntimeError as exc:
                if 'closed' not in str(exc):
                    errors.append(exc)
                return

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for thread in threads:
        thread.start()
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    loop.close()
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []


def test_call_soon_threadsafe_returns_a_cancellable_handle(loop):
    calls = []
    handle = loop.call_soon_threadsafe(calls.append, 'x')
    handle.cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == []


@pytest.mark.parametrize('python_callbacks', [True, False], ids=['python', 'c'])
def test_other_threads_run_while_the_loop_is_busy(loop, python_callbacks):
    # A thread that wakes up while the loop runs callbacks without pause gets the
    # GIL within a few switch intervals, as with asyncio's loop (a starved one runs
    # only once the loop stops, after 1 s; the margin is for a loaded machine).
    keep_busy(loop, python_callbacks)
    ran_at = []
    start = time.monotonic()
    thread = threading.Timer(0.02, lambda: ran_at.append(time.monotonic() - start))
    thread.start()
    loop.run_until_complete(asyncio.sleep(1.0))
    thread.join()
    assert ran_at and ran_at[0] < 0.5, ran_at
