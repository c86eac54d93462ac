# The loop's default executor (run_in_executor(None, ...)): made on first use, shut
# down by shutdown_default_executor() (waiting, in a thread of its own, up to a
# timeout) or by Loop.close() (without waiting).
#
# Needs: Loop's `_default_executor` field, call_soon_threadsafe().

import asyncio
import concurrent.futures
import threading
import warnings


cdef _default_executor(Loop loop):
    if loop._default_executor is None:
        # Threads uvloop_0, uvloop_1, ... as upstream uvloop names them.
        loop._default_executor = concurrent.futures.ThreadPoolExecutor(
            thread_name_prefix='uvloop')
    return loop._default_executor


async def _shutdown_default_executor(Loop loop, timeout):
    executor = loop._default_executor
    if executor is None:
        return
    future = loop.create_future()
    thread = threading.Thread(target=_join_executor, args=(loop, executor, future))
    thread.start()
    try:
        async with asyncio.timeout(timeout):
            await future
    except TimeoutError:
        warnings.warn("The executor did not finishing joining "
                      f"its threads within {timeout} seconds.",
                      RuntimeWarning, stacklevel=2)
        executor.shutdown(wait=False)
    else:
        thread.join()


def _join_executor(Loop loop, executor, future):
    # In its own thread: executor.shutdown(wait=True) blocks.
    try:
        executor.shutdown(wait=True)
        if not loop.is_closed():
            loop.call_soon_threadsafe(aio_set_result_unless_cancelled, future, None)
    except Exception as ex:
        if not loop.is_closed() and not future.cancelled():
            loop.call_soon_threadsafe(future.set_exception, ex)
