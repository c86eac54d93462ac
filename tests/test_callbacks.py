"""call_soon, call_later, call_at, Handle and TimerHandle semantics."""

import asyncio
import contextvars
import logging
import random
import time

import pytest

import uvloop
from loops import debug_counters, debug_counters_or_skip


def run_briefly(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def test_call_soon_runs_callbacks_in_fifo_order_with_args(loop):
    calls = []
    for i in range(10):
        loop.call_soon(calls.append, i)
    run_briefly(loop)
    assert calls == list(range(10))


def test_call_soon_runs_in_a_copy_of_the_current_context(loop):
    var = contextvars.ContextVar('var', default='unset')
    seen = []
    var.set('at scheduling')
    loop.call_soon(lambda: seen.append(var.get()))
    var.set('changed later')
    run_briefly(loop)
    assert seen == ['at scheduling']


def test_call_soon_with_an_explicit_context(loop):
    var = contextvars.ContextVar('var', default='unset')
    ctx = contextvars.copy_context()
    ctx.run(var.set, 'in ctx')
    seen = []
    handle = loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    run_briefly(loop)
    assert seen == ['in ctx']
    if hasattr(asyncio.Handle, 'get_context'):
        assert handle.get_context() is ctx


def test_cancelled_handle_does_not_run(loop):
    calls = []
    handle = loop.call_soon(calls.append, 'x')
    assert not handle.cancelled()
    handle.cancel()
    assert handle.cancelled()
    run_briefly(loop)
    assert calls == []


def test_handle_repr_names_the_callback(loop):
    def my_callback():
        pass

    handle = loop.call_soon(my_callback)
    assert 'my_callback' in repr(handle)
    handle.cancel()
    assert 'cancelled' in repr(handle)


def test_call_later_fires_in_deadline_order(loop):
    calls = []
    for delay in (0.03, 0.01, 0.02):
        loop.call_later(delay, calls.append, delay)
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert calls == [0.01, 0.02, 0.03]


def test_call_later_is_never_early(loop):
    fired = []
    start = loop.time()
    loop.call_later(0.05, lambda: fired.append(loop.time()))
    loop.call_later(0.06, loop.stop)
    loop.run_forever()
    assert fired and fired[0] - start >= 0.05


def test_call_at_and_when(loop):
    when = loop.time() + 0.01
    calls = []
    timer = loop.call_at(when, calls.append, 'at')
    assert timer.when() == when
    loop.call_at(when + 0.01, loop.stop)
    loop.run_forever()
    assert calls == ['at']


def test_call_later_with_zero_and_negative_delays_runs_at_once(loop):
    calls = []
    loop.call_later(-1, calls.append, 'negative')
    loop.call_later(0, calls.append, 'zero')
    loop.call_later(0.001, loop.stop)
    loop.run_forever()
    assert sorted(calls) == ['negative', 'zero']


def test_cancelled_timer_does_not_fire(loop):
    calls = []
    timer = loop.call_later(0.01, calls.append, 'timer')
    timer.cancel()
    assert timer.cancelled()
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert calls == []


def test_timer_handles_compare_by_deadline(loop):
    early = loop.call_at(10, print)
    late = loop.call_at(20, print)
    assert early < late and late > early and early <= late and early != late
    early.cancel()
    late.cancel()


def test_call_later_none_delay_raises(loop):
    with pytest.raises(TypeError, match='delay must not be None'):
        loop.call_later(None, print)


def test_call_at_none_when_raises(loop):
    with pytest.raises(TypeError, match='when cannot be None'):
        loop.call_at(None, print)


@pytest.mark.parametrize('method', ['call_soon', 'call_later', 'call_at',
                                    'call_soon_threadsafe'])
def test_non_callable_raises_type_error(loop, method):
    # asyncio checks callbacks in debug mode; uvloop checks them always.
    loop.set_debug(True)
    args = (1,) if method in ('call_later', 'call_at') else ()
    with pytest.raises(TypeError, match='a callable object was expected'):
        getattr(loop, method)(*args, 'not callable')


@pytest.mark.parametrize('method', ['call_soon', 'call_later', 'call_at',
                                    'call_soon_threadsafe'])
def test_coroutine_raises_type_error(loop, method):
    loop.set_debug(True)

    async def coro_function():
        pass

    args = (1,) if method in ('call_later', 'call_at') else ()
    coro = coro_function()
    with pytest.raises(TypeError, match='coroutines cannot be used'):
        getattr(loop, method)(*args, coro)
    with pytest.raises(TypeError, match='coroutines cannot be used'):
        getattr(loop, method)(*args, coro_function)
    coro.close()


def test_uvloop_checks_callbacks_without_debug_mode(uvloop_loop):
    with pytest.raises(TypeError, match='a callable object was expected'):
        uvloop_loop.call_soon(42)


def test_exception_in_callback_reaches_the_handler_and_loop_continues(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append((lp, ctx)))

    def fail():
        raise ValueError('boom')

    calls = []
    handle = loop.call_soon(fail)
    loop.call_soon(calls.append, 'still running')
    run_briefly(loop)
    assert calls == ['still running']
    [(handler_loop, context)] = contexts
    assert handler_loop is loop
    assert set(context) == {'message', 'exception', 'handle'}
    assert context['message'].startswith('Exception in callback ')
    assert 'fail' in context['message']
    assert isinstance(context['exception'], ValueError)
    assert context['handle'] is handle


def test_default_exception_handler_logs_the_error(loop, caplog):
    def fail():
        raise ZeroDivisionError('boom')

    loop.call_soon(fail)
    with caplog.at_level(logging.ERROR, logger='asyncio'):
        run_briefly(loop)
    [record] = [r for r in caplog.records if r.name == 'asyncio']
    assert 'Exception in callback' in record.getMessage()
    assert record.exc_info[0] is ZeroDivisionError


def test_failing_exception_handler_is_logged(loop, caplog):
    def bad_handler(lp, ctx):
        raise RuntimeError('handler broke')

    loop.set_exception_handler(bad_handler)
    with caplog.at_level(logging.ERROR, logger='asyncio'):
        loop.call_exception_handler({'message': 'original'})
    assert any('Unhandled error in exception handler' in r.getMessage()
               for r in caplog.records)


def test_exception_handler_api(loop):
    assert loop.get_exception_handler() is None

    def handler(lp, ctx):
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    with pytest.raises(TypeError, match='A callable object or None is expected'):
        loop.set_exception_handler('nope')
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_debug_mode_warns_about_slow_callbacks(loop, caplog):
    loop.set_debug(True)
    assert loop.get_debug()
    loop.slow_callback_duration = 0.01

    def slow_callback():
        time.sleep(0.03)

    loop.call_soon(slow_callback)
    with caplog.at_level(logging.WARNING, logger='asyncio'):
        run_briefly(loop)
    assert any('Executing' in r.getMessage() and 'slow_callback' in r.getMessage()
               and 'took' in r.getMessage() for r in caplog.records)


def test_debug_mode_records_where_a_handle_was_created(loop):
    loop.set_debug(True)
    handle = loop.call_soon(print)
    assert handle._source_traceback
    assert handle._source_traceback[-1].name == \
        'test_debug_mode_records_where_a_handle_was_created'
    handle.cancel()


def test_time_follows_time_monotonic(loop):
    before = time.monotonic()
    now = loop.time()
    after = time.monotonic()
    assert before <= now <= after


def test_100000_timers_fire_in_deadline_order(loop):
    rng = random.Random(508)
    delays = [rng.uniform(0, 0.2) for _ in range(100_000)]
    fired = []
    start = loop.time()
    for delay in delays:
        loop.call_at(start + delay, fired.append, delay)
    loop.call_at(start + 0.25, loop.stop)
    loop.run_forever()
    assert fired == sorted(delays)


def test_timers_with_equal_deadlines_fire_in_scheduling_order(uvloop_loop):
    fired = []
    when = uvloop_loop.time() + 0.01
    for i in range(100):
        uvloop_loop.call_at(when, fired.append, i)
    uvloop_loop.call_at(when + 0.01, uvloop_loop.stop)
    uvloop_loop.run_forever()
    assert fired == list(range(100))


def test_cancelling_a_timer_frees_it_at_once(uvloop_loop):
    before = debug_counters_or_skip()
    timers = [uvloop_loop.call_later(3600, print) for _ in range(1000)]
    assert debug_counters()['timers_scheduled'] == before['timers_scheduled'] + 1000
    for timer in timers:
        timer.cancel()
    del timers, timer
    after = debug_counters()
    assert after['timers_scheduled'] == before['timers_scheduled']
    assert after['callback_handles_live'] == before['callback_handles_live']


def test_cancelling_timers_in_any_order_keeps_the_rest_ordered(uvloop_loop):
    rng = random.Random(1)
    start = uvloop_loop.time()
    fired = []
    timers = [uvloop_loop.call_at(start + rng.uniform(0, 0.05), fired.append, i)
              for i in range(2000)]
    cancelled = set(rng.sample(range(2000), 1000))
    for i in cancelled:
        timers[i].cancel()
    uvloop_loop.call_at(start + 0.06, uvloop_loop.stop)
    uvloop_loop.run_forever()
    expected = sorted((t.when(), i) for i, t in enumerate(timers) if i not in cancelled)
    assert fired == [i for _, i in expected]


def test_closing_the_loop_drops_pending_timers(uvloop_loop):
    before = debug_counters_or_skip()
    for _ in range(10):
        uvloop_loop.call_later(3600, print)
    uvloop_loop.close()
    assert debug_counters()['timers_scheduled'] == before['timers_scheduled']
