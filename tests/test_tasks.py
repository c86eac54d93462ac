"""Futures, tasks, task factories, executors and async generators on the loop."""

import asyncio
import concurrent.futures
import contextvars
import sys
import threading
import warnings

import pytest


def test_create_future_belongs_to_the_loop(loop):
    fut = loop.create_future()
    assert isinstance(fut, asyncio.Future) and fut.get_loop() is loop
    fut.cancel()


def test_create_task_with_name_and_context(loop):
    var = contextvars.ContextVar('var', default='unset')
    ctx = contextvars.copy_context()
    ctx.run(var.set, 'from ctx')

    async def read_var():
        return var.get()

    async def main():
        task = loop.create_task(read_var(), name='reader', context=ctx)
        assert task.get_name() == 'reader'
        return await task

    assert loop.run_until_complete(main()) == 'from ctx'


def test_task_factory_is_used_and_can_be_reset(loop):
    created = []

    def factory(lp, coro, **kwargs):
        task = asyncio.Task(coro, loop=lp, **kwargs)
        created.append(task)
        return task

    assert loop.get_task_factory() is None
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory

    async def main():
        return await loop.create_task(asyncio.sleep(0, 'x'), name='named')

    assert loop.run_until_complete(main()) == 'x'
    assert [t.get_name() for t in created][-1] == 'named'
    loop.set_task_factory(None)
    with pytest.raises(TypeError, match='task factory must be a callable or None'):
        loop.set_task_factory(42)


def test_gather_timeout_and_task_group(loop):
    async def main():
        results = await asyncio.gather(*(asyncio.sleep(0.001 * i, i) for i in range(5)))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(asyncio.sleep(0, i)) for i in range(3)]
        return results, [t.result() for t in tasks]

    assert loop.run_until_complete(main()) == ([0, 1, 2, 3, 4], [0, 1, 2])


def test_cancelling_a_sleeping_task(loop):
    async def main():
        task = loop.create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    loop.run_until_complete(main())


def test_unhandled_task_exception_reaches_the_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def fail():
        raise ValueError('lost')

    async def main():
        loop.create_task(fail())
        await asyncio.sleep(0.01)

    loop.run_until_complete(main())
    import gc
    gc.collect()
    assert any(isinstance(ctx.get('exception'), ValueError) for ctx in contexts)


def test_run_in_executor_uses_a_default_thread_pool(loop):
    main_thread = threading.get_ident()

    async def main():
        return await loop.run_in_executor(None, threading.get_ident)

    assert loop.run_until_complete(main()) != main_thread


def test_run_in_executor_with_a_custom_executor(loop):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        async def main():
            return await loop.run_in_executor(pool, sum, [1, 2, 3])

        assert loop.run_until_complete(main()) == 6


def test_set_default_executor_requires_a_thread_pool(loop):
    with pytest.raises(TypeError, match='executor must be ThreadPoolExecutor'):
        loop.set_default_executor(object())
    pool = concurrent.futures.ThreadPoolExecutor(1)
    loop.set_default_executor(pool)

    async def main():
        return await loop.run_in_executor(None, threading.current_thread)

    assert loop.run_until_complete(main()).name.startswith('ThreadPoolExecutor')
    pool.shutdown()


def test_shutdown_default_executor_waits_and_forbids_new_work(loop):
    async def main():
        await loop.run_in_executor(None, sum, [1])
        await loop.shutdown_default_executor()
        with pytest.raises(RuntimeError, match='Executor shutdown has been called'):
            loop.run_in_executor(None, sum, [1])

    loop.run_until_complete(main())


def test_shutdown_default_executor_timeout_warns(uvloop_loop):
    # asyncio's loop takes this timeout argument from Python 3.12; ours on every version.
    import time

    loop = uvloop_loop
    release = threading.Event()

    async def main():
        loop.run_in_executor(None, release.wait)
        await asyncio.sleep(0.01)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            await loop.shutdown_default_executor(timeout=0.05)
        release.set()
        return caught

    caught = loop.run_until_complete(main())
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    time.sleep(0.01)


async def two_items_then_record_close(closed):
    try:
        yield 1
        yield 2
    finally:
        closed.append(True)


def test_async_generators_are_finalized_by_shutdown_asyncgens(loop):
    closed = []

    async def main():
        gen = two_items_then_record_close(closed)
        assert await gen.__anext__() == 1
        return gen

    gen = loop.run_until_complete(main())
    assert closed == []
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert closed == [True]
    del gen


def test_async_generator_collected_while_running_is_closed(loop):
    closed = []

    async def main():
        gen = two_items_then_record_close(closed)
        await gen.__anext__()
        del gen
        import gc
        gc.collect()
        for _ in range(3):
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert closed == [True]


def test_debug_mode_enables_coroutine_origin_tracking(loop):
    loop.set_debug(True)

    async def main():
        return sys.get_coroutine_origin_tracking_depth()

    assert loop.run_until_complete(main()) > 0
    assert sys.get_coroutine_origin_tracking_depth() == 0
