"""Handles and the cyclic garbage collector.

Our loop keeps call_soon's Handles out of the cyclic GC while they wait in the ready
queue (a collection need not walk thousands of queued callbacks). These tests pin what
must stay true: a cycle through a Handle, or through its context, is still collected
once the Handle has left the queue, on our loop as on asyncio's."""

import asyncio
import contextvars
import gc
import sys
import sysconfig
import weakref

import pytest

FREE_THREADED = bool(sysconfig.get_config_var('Py_GIL_DISABLED'))


class Owner:
    """Holds the Handle whose callback is one of its own methods: a cycle."""

    def callback(self):
        pass


def collected_after(ref):
    for _ in range(3):
        gc.collect()
    return ref() is None


def test_a_handle_kept_after_it_ran_does_not_keep_its_cycle_alive(loop):
    owner = Owner()
    owner.handle = loop.call_soon(owner.callback)
    loop.run_until_complete(asyncio.sleep(0))
    ref = weakref.ref(owner)
    del owner
    assert collected_after(ref)


def test_a_cancelled_handle_kept_does_not_keep_its_cycle_alive(loop):
    # cancel() drops the callback and its arguments but not the context: a cycle
    # Owner -> Handle -> context -> Owner, collected only if the cancelled Handle is
    # back under the collector's eye once it left the queue.
    var = contextvars.ContextVar('var')
    owner = Owner()
    context = contextvars.copy_context()
    context.run(var.set, owner)
    owner.handle = loop.call_soon(owner.callback, context=context)
    owner.handle.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    ref = weakref.ref(owner)
    del owner, context
    assert collected_after(ref)


def test_handles_still_queued_at_close_do_not_keep_their_cycles_alive(loop_kind):
    from loops import LOOP_FACTORIES
    loop = LOOP_FACTORIES[loop_kind]()
    owner = Owner()
    owner.handle = loop.call_soon(owner.callback)
    ref = weakref.ref(owner)
    del owner
    loop.close()
    del loop
    assert collected_after(ref)


def test_a_cycle_through_a_handles_context_is_collected(loop):
    var = contextvars.ContextVar('var')

    def keep(box):
        # The callback stores, in its own context, an object that holds the Handle.
        var.set(box)

    box = Owner()
    box.handle = loop.call_soon(keep, box)
    loop.run_until_complete(asyncio.sleep(0))
    if hasattr(box.handle, 'get_context'):      # asyncio's Handle: 3.12+
        assert box.handle.get_context()[var] is box
    ref = weakref.ref(box)
    del box
    assert collected_after(ref)


def test_a_handle_kept_by_the_exception_handler_is_collected_with_its_cycle(loop):
    kept = []
    loop.set_exception_handler(lambda loop, context: kept.append(context))

    def fail(owner):
        raise ZeroDivisionError

    owner = Owner()
    loop.call_soon(fail, owner)
    loop.run_until_complete(asyncio.sleep(0))
    assert kept and kept[0]['handle'] is not None
    owner.context = kept.pop()     # owner -> context -> handle -> args -> owner
    ref = weakref.ref(owner)
    del owner
    assert collected_after(ref)


@pytest.mark.skipif(FREE_THREADED, reason='queued Handles stay tracked without a GIL')
def test_queued_handles_are_out_of_the_collector_until_they_leave_the_queue(uvloop_loop):
    handle = uvloop_loop.call_soon(Owner().callback)
    assert not gc.is_tracked(handle)
    uvloop_loop.run_until_complete(asyncio.sleep(0))
    # It left the queue while we held it: tracked again, with its context.
    assert gc.is_tracked(handle)
    assert gc.is_tracked(handle.get_context())


@pytest.mark.skipif(FREE_THREADED, reason='queued Handles stay tracked without a GIL')
def test_a_queued_handles_context_handed_out_is_tracked(uvloop_loop):
    handle = uvloop_loop.call_soon(Owner().callback)
    assert gc.is_tracked(handle.get_context())
    handle.cancel()
    uvloop_loop.run_until_complete(asyncio.sleep(0))


def test_thousands_of_queued_handles_run_in_order(loop):
    order = []
    for i in range(5000):
        loop.call_soon(order.append, i)
    loop.run_until_complete(asyncio.sleep(0))
    assert order == list(range(5000))
    assert sys.getrefcount(order) == 2
