"""Running and stopping a loop: run modes, nesting, close, and misuse."""

import asyncio
import gc
import threading
import warnings

import pytest

import uvloop

from loops import LOOP_FACTORIES


def test_run_until_complete_returns_the_result(loop):
    async def answer():
        await asyncio.sleep(0)
        return 42

    assert loop.run_until_complete(answer()) == 42


def test_run_until_complete_accepts_a_future(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, 'done')
    assert loop.run_until_complete(fut) == 'done'


def test_run_until_complete_raises_the_coroutine_exception(loop):
    async def fail():
        raise ValueError('boom')

    with pytest.raises(ValueError, match='boom'):
        loop.run_until_complete(fail())


def test_run_until_complete_refuses_a_future_of_another_loop(loop):
    other = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError):
            loop.run_until_complete(other.create_future())
    finally:
        other.close()


def test_stop_inside_run_forever_returns_after_ready_callbacks(loop):
    calls = []
    loop.call_soon(calls.append, 1)
    loop.call_soon(loop.stop)
    loop.call_soon(calls.append, 2)
    loop.run_forever()
    assert calls == [1, 2]


def test_stop_before_run_forever_runs_one_iteration(loop):
    calls = []
    loop.stop()
    loop.call_soon(calls.append, 'first')
    loop.run_forever()
    assert calls == ['first']
    assert not loop.is_running()


def test_callbacks_scheduled_after_stop_wait_for_the_next_run(loop):
    calls = []

    def stop_and_schedule():
        loop.stop()
        loop.call_soon(calls.append, 'later')

    loop.call_soon(stop_and_schedule)
    loop.run_forever()
    assert calls == []
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ['later']


def test_stop_before_the_future_is_done_raises(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match='Event loop stopped before Future completed'):
        loop.run_until_complete(fut)


def test_is_running_inside_and_outside(loop):
    seen = []
    loop.call_soon(lambda: seen.append(loop.is_running()))
    loop.call_soon(loop.stop)
    assert not loop.is_running()
    loop.run_forever()
    assert seen == [True] and not loop.is_running()


def test_get_running_loop_returns_the_loop(loop):
    async def running():
        return asyncio.get_running_loop()

    assert loop.run_until_complete(running()) is loop


def test_nested_run_raises(loop):
    async def nested():
        with pytest.raises(RuntimeError, match='already running'):
            loop.run_forever()
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match='already running'):
            loop.run_until_complete(coro)
        coro.close()

    loop.run_until_complete(nested())


def test_running_a_loop_while_another_runs_raises(loop):
    other = uvloop.new_event_loop()

    async def inner():
        with pytest.raises(RuntimeError, match='another loop is running'):
            other.run_forever()

    try:
        loop.run_until_complete(inner())
    finally:
        other.close()


def test_close_a_running_loop_raises(loop):
    async def close_inside():
        with pytest.raises(RuntimeError, match='Cannot close a running event loop'):
            loop.close()

    loop.run_until_complete(close_inside())


def test_close_is_idempotent(loop):
    loop.close()
    loop.close()
    assert loop.is_closed()


@pytest.mark.parametrize('call', [
    lambda loop: loop.run_forever(),
    lambda loop: loop.run_until_complete(loop.create_future()),
    lambda loop: loop.call_soon(print),
    lambda loop: loop.call_later(1, print),
    lambda loop: loop.call_at(1, print),
    lambda loop: loop.call_soon_threadsafe(print),
    lambda loop: loop.run_in_executor(None, print),
    lambda loop: loop.add_reader(0, print),
    lambda loop: loop.add_writer(1, print),
], ids=['run_forever', 'run_until_complete', 'call_soon', 'call_later', 'call_at',
        'call_soon_threadsafe', 'run_in_executor', 'add_reader', 'add_writer'])
def test_a_closed_loop_raises_runtime_error(loop, call):
    loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        call(loop)


def test_create_task_on_a_closed_loop_raises(loop):
    loop.close()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.create_task(coro)
    coro.close()


def test_keyboard_interrupt_in_a_callback_propagates_and_loop_stays_usable(loop):
    def interrupt():
        raise KeyboardInterrupt

    calls = []
    loop.call_soon(interrupt)
    loop.call_soon(calls.append, 'after')
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()
    # The callback after the interrupted one was not lost.
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ['after']


def test_system_exit_in_a_task_propagates(loop):
    async def leave():
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        loop.run_until_complete(leave())


def test_asyncio_runner_with_uvloop_factory():
    async def main():
        return type(asyncio.get_running_loop())

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) is uvloop.Loop


def test_loops_in_many_threads_run_and_close_independently():
    results = {}

    def worker(index):
        async def main():
            await asyncio.sleep(0.01)
            return index * 2

        results[index] = uvloop.run(main())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: i * 2 for i in range(8)}


def test_unclosed_loop_warns_on_collection(loop_kind):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        LOOP_FACTORIES[loop_kind]()
        gc.collect()
    assert any(w.category is ResourceWarning and 'unclosed event loop' in str(w.message)
               for w in caught)
