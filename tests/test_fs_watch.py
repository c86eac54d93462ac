"""loop._monitor_fs(path, callback): upstream uvloop's filesystem watch, on our loop only
(asyncio's loop has none). Real files change in a temporary directory."""

import asyncio
import contextvars
import errno
import gc
import logging
import os
import pathlib
import time
import weakref

import pytest

from uvloop.loop import FileSystemEvent

from loops import run_until

RENAME, CHANGE = FileSystemEvent.RENAME, FileSystemEvent.CHANGE


def watch(loop, path):
    """Start a watch on path; returns (handle, list of the callback's args)."""
    events = []
    return loop._monitor_fs(path, lambda *args: events.append(args)), events


def test_event_flags_are_libuvs():
    assert (int(RENAME), int(CHANGE)) == (1, 2)
    assert FileSystemEvent.RENAME_CHANGE == RENAME | CHANGE


def test_creating_writing_and_renaming_files_in_a_watched_directory(
        uvloop_loop, tmp_path):
    handle, events = watch(uvloop_loop, tmp_path)
    (tmp_path / 'a').write_bytes(b'x')
    run_until(uvloop_loop, lambda: (b'a', CHANGE) in events)
    assert events[0] == (b'a', RENAME)     # created
    for name, flags in events:
        assert type(name) is bytes and type(flags) is FileSystemEvent

    events.clear()
    (tmp_path / 'a').rename(tmp_path / 'b')
    run_until(uvloop_loop, lambda: (b'b', RENAME) in events)
    assert (b'a', RENAME) in events
    handle.cancel()


def test_watching_one_file_reports_its_own_name(uvloop_loop, tmp_path):
    path = tmp_path / 'log.txt'
    path.write_bytes(b'')
    handle, events = watch(uvloop_loop, str(path))
    with open(path, 'ab') as f:
        f.write(b'more')
    run_until(uvloop_loop, lambda: (b'log.txt', CHANGE) in events)
    handle.cancel()


@pytest.mark.parametrize('to_path', [str, os.fsencode, pathlib.Path],
                         ids=['str', 'bytes', 'Path'])
def test_path_forms(uvloop_loop, tmp_path, to_path):
    handle, events = watch(uvloop_loop, to_path(str(tmp_path)))
    (tmp_path / 'f').touch()
    run_until(uvloop_loop, lambda: events)
    handle.cancel()


def test_the_callback_runs_in_the_context_current_at_monitor_fs(
        uvloop_loop, tmp_path):
    var = contextvars.ContextVar('var', default='unset')
    seen = []
    var.set('at _monitor_fs')
    handle = uvloop_loop._monitor_fs(tmp_path, lambda *args: seen.append(var.get()))
    var.set('later')

    async def touch_from_a_task():
        var.set('in the task')
        (tmp_path / 'f').touch()
        await asyncio.sleep(0)

    uvloop_loop.run_until_complete(touch_from_a_task())
    run_until(uvloop_loop, lambda: seen)
    assert set(seen) == {'at _monitor_fs'}
    handle.cancel()


def test_no_callback_after_cancel(uvloop_loop, tmp_path):
    handle, events = watch(uvloop_loop, tmp_path)
    assert not handle.cancelled()
    handle.cancel()
    handle.cancel()
    assert handle.cancelled()
    (tmp_path / 'f').write_bytes(b'x')
    uvloop_loop.run_until_complete(asyncio.sleep(0.05))
    assert events == []


def test_cancel_inside_the_callback_stops_the_events_read_with_it(
        uvloop_loop, tmp_path):
    # Three files, several inotify events, one read by libuv: after cancel() in the
    # first callback, the rest of the batch is not delivered.
    events = []

    def callback(*args):
        events.append(args)
        handle.cancel()

    handle = uvloop_loop._monitor_fs(tmp_path, callback)
    for name in 'abc':
        (tmp_path / name).write_bytes(b'x')
    uvloop_loop.run_until_complete(asyncio.sleep(0.05))
    assert events == [(b'a', RENAME)]


def test_watches_on_one_directory_each_get_every_event(uvloop_loop, tmp_path):
    first, first_events = watch(uvloop_loop, tmp_path)
    second, second_events = watch(uvloop_loop, tmp_path)
    (tmp_path / 'f').touch()
    run_until(uvloop_loop, lambda: first_events and second_events)
    first.cancel()
    (tmp_path / 'g').touch()
    run_until(uvloop_loop, lambda: (b'g', RENAME) in second_events)
    assert (b'g', RENAME) not in first_events
    second.cancel()


def test_callback_errors_go_to_the_exception_handler(uvloop_loop, tmp_path):
    errors = []
    uvloop_loop.set_exception_handler(lambda loop, context: errors.append(context))
    calls = []

    def callback(name, flags):
        calls.append(name)
        raise ZeroDivisionError(name)

    handle = uvloop_loop._monitor_fs(tmp_path, callback)
    (tmp_path / 'a').touch()
    run_until(uvloop_loop, lambda: errors)
    (tmp_path / 'b').touch()
    run_until(uvloop_loop, lambda: b'b' in calls)     # still watching
    context = errors[0]
    assert isinstance(context['exception'], ZeroDivisionError)
    assert context['message'].startswith('Exception in callback')
    assert context['handle'] is not None
    handle.cancel()


@pytest.mark.parametrize('exc_type', [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_end_run_forever(
        uvloop_loop, tmp_path, exc_type):
    def callback(name, flags):
        raise exc_type(name)

    handle = uvloop_loop._monitor_fs(tmp_path, callback)
    uvloop_loop.call_later(0.01, (tmp_path / 'f').touch)
    with pytest.raises(exc_type):
        uvloop_loop.run_forever()
    assert not uvloop_loop.is_running()
    handle.cancel()


def test_closing_the_loop_ends_an_active_watch(uvloop_loop, tmp_path):
    # The callback holds the handle (a cycle through the loop's handle set): both
    # are freed once the loop closed the watch. The leak check is the fixture's.
    loop = uvloop_loop
    events = []

    def callback(*args):
        events.append((handle, args))

    handle = loop._monitor_fs(tmp_path, callback)
    callback_ref = weakref.ref(callback)
    del callback
    loop.close()
    assert handle.cancelled()
    handle.cancel()
    del handle
    gc.collect()
    assert callback_ref() is None
    (tmp_path / 'f').touch()
    assert events == []


def test_a_missing_path_raises_file_not_found(uvloop_loop, tmp_path):
    missing = str(tmp_path / 'missing')
    with pytest.raises(FileNotFoundError) as info:
        uvloop_loop._monitor_fs(missing, print)
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == missing
    with pytest.raises(FileNotFoundError):
        uvloop_loop._monitor_fs('', print)


@pytest.mark.parametrize('path, exc_type', [
    (None, TypeError), (123, TypeError), ('/tmp\0x', ValueError),
])
def test_a_bad_path_raises(uvloop_loop, path, exc_type):
    with pytest.raises(exc_type):
        uvloop_loop._monitor_fs(path, print)


def test_a_bad_callback_raises_type_error(uvloop_loop, tmp_path):
    async def coroutine_function(name, flags):
        pass

    with pytest.raises(TypeError, match='callable'):
        uvloop_loop._monitor_fs(tmp_path, 5)
    with pytest.raises(TypeError, match='coroutines'):
        uvloop_loop._monitor_fs(tmp_path, coroutine_function)


def test_a_closed_loop_refuses(uvloop_loop, tmp_path):
    uvloop_loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        uvloop_loop._monitor_fs(tmp_path, print)


def test_a_slow_callback_is_logged_in_debug_mode(uvloop_loop, tmp_path, caplog):
    uvloop_loop.set_debug(True)
    uvloop_loop.slow_callback_duration = 0.001

    def slow_callback(name, flags):
        time.sleep(0.005)

    handle = uvloop_loop._monitor_fs(tmp_path, slow_callback)
    (tmp_path / 'f').touch()
    with caplog.at_level(logging.WARNING, logger='asyncio'):
        run_until(uvloop_loop, lambda: 'slow_callback' in caplog.text)
    assert 'Executing <Handle' in caplog.text
    handle.cancel()
