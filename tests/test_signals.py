"""Signal handlers and Ctrl-C while a loop runs."""

import asyncio
import os
import signal
import threading
import time

import pytest

import uvloop

from loops import LOOP_FACTORIES, keep_busy


def send_later(signum, delay=0.05):
    timer = threading.Timer(delay, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_signal_handler_runs_with_its_args(loop):
    got = []

    def on_signal(*args):
        got.append(args)
        loop.stop()

    loop.add_signal_handler(signal.SIGUSR1, on_signal, 'a', 1)
    try:
        send_later(signal.SIGUSR1)
        loop.run_forever()
    finally:
        assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert got == [('a', 1)]
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_signal_arriving_before_the_loop_runs_is_delivered(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR2, got.append, 'usr2')
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        loop.call_later(0.05, loop.stop)
        loop.run_forever()
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
    assert got == ['usr2']


def test_remove_signal_handler_without_a_handler_returns_false(loop):
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_remove_sigint_handler_restores_default_int_handler(loop):
    loop.add_signal_handler(signal.SIGINT, print)
    loop.remove_signal_handler(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize('sig, error', [
    ('1', TypeError), (0, ValueError), (1000, ValueError),
    (signal.SIGKILL, RuntimeError), (signal.SIGSTOP, RuntimeError),
])
def test_bad_signals_raise_asyncio_errors(loop, sig, error):
    with pytest.raises(error):
        loop.add_signal_handler(sig, print)


def test_coroutine_signal_handler_raises_type_error(loop):
    async def handler():
        pass

    with pytest.raises(TypeError, match='coroutines cannot be used'):
        loop.add_signal_handler(signal.SIGUSR1, handler)


def test_add_signal_handler_outside_the_main_thread_raises(loop_kind):
    errors = []

    def worker():
        lp = LOOP_FACTORIES[loop_kind]()
        try:
            lp.add_signal_handler(signal.SIGUSR1, print)
        except RuntimeError as exc:
            errors.append(exc)
        finally:
            lp.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(errors) == 1 and 'main thread' in str(errors[0])


def test_close_removes_signal_handlers(loop):
    loop.add_signal_handler(signal.SIGUSR1, print)
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_ctrl_c_while_the_loop_sleeps_raises_keyboard_interrupt(loop):
    send_later(signal.SIGINT)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(asyncio.sleep(5))
    assert time.monotonic() - start < 2
    # The loop is still usable afterwards.
    assert loop.run_until_complete(asyncio.sleep(0, 'ok')) == 'ok'


def test_ctrl_c_under_asyncio_runner_cancels_the_main_task(loop_kind):
    cancelled = []

    async def main():
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    send_later(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with asyncio.Runner(loop_factory=LOOP_FACTORIES[loop_kind]) as runner:
            runner.run(main())
    assert cancelled == [True]


def test_ctrl_c_under_uvloop_run():
    send_later(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        uvloop.run(asyncio.sleep(5))


def test_wakeup_fd_is_restored_after_run(loop):
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    loop.run_until_complete(asyncio.sleep(0))
    after = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(after)
    assert after == before


class WatchdogError(Exception):
    """What an app's signal handler raises (not SystemExit, not KeyboardInterrupt)."""


def raise_from_signal(sig, exc_type):
    """Install a Python-level handler for `sig` that raises `exc_type`, and deliver
    `sig` in 50 ms: SIGALRM by the process's alarm timer, others by another thread.
    Returns a function that restores the previous handler."""
    def handler(signum, frame):
        raise exc_type(f'signal {signum}')

    previous = signal.signal(sig, handler)
    if sig == signal.SIGALRM:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
    else:
        send_later(sig)

    def restore():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(sig, previous)
    return restore


signal_errors = pytest.mark.parametrize('sig, exc_type', [
    pytest.param(sig, exc_type, id=f'{sig.name}-{exc_type.__name__}')
    for sig in (signal.SIGALRM, signal.SIGTERM)
    for exc_type in (SystemExit, WatchdogError)
])


@signal_errors
def test_signal_handler_error_ends_an_idle_loop(loop, sig, exc_type):
    reported = []
    loop.set_exception_handler(lambda lp, context: reported.append(context))
    restore = raise_from_signal(sig, exc_type)
    start = time.monotonic()
    try:
        with pytest.raises(exc_type):
            loop.run_until_complete(asyncio.sleep(5))
    finally:
        restore()
    assert time.monotonic() - start < 2
    assert reported == []
    assert loop.run_until_complete(asyncio.sleep(0, 'ok')) == 'ok'


@signal_errors
def test_signal_handler_error_in_a_busy_loop_is_never_lost(loop, sig, exc_type):
    # The handler runs where Python notices the signal. Outside any callback (on
    # our loop: between iterations) its error ends the run; inside a callback's own
    # code it is that callback's error, which SystemExit ends the run with too and
    # an Exception reaches the exception handler with (asyncio's loop does either,
    # depending on timing).
    reported = []
    loop.set_exception_handler(lambda lp, context: reported.append(context))
    keep_busy(loop)
    restore = raise_from_signal(sig, exc_type)
    try:
        loop.run_until_complete(asyncio.sleep(1))
    except exc_type:
        assert reported == []
    else:
        assert exc_type is not SystemExit
        assert [type(c['exception']) for c in reported] == [exc_type]
    finally:
        restore()


@signal_errors
def test_signal_handler_error_ends_a_loop_busy_in_c_callbacks(uvloop_loop, sig,
                                                             exc_type):
    # With no Python code in the callbacks, the handler can only run at the loop's
    # own check, every iteration: its error always ends the run.
    reported = []
    uvloop_loop.set_exception_handler(lambda lp, context: reported.append(context))
    keep_busy(uvloop_loop, python_callbacks=False)
    restore = raise_from_signal(sig, exc_type)
    start = time.monotonic()
    try:
        with pytest.raises(exc_type):
            uvloop_loop.run_until_complete(asyncio.sleep(5))
    finally:
        restore()
    assert time.monotonic() - start < 2
    assert reported == []
