# cython: language_level=3
# The extension module `uvloop.loop`: the event loop and everything it drives.
#
# How one iteration runs (`Loop._run_once`), mirroring asyncio's BaseEventLoop:
#   1. callbacks queued by other threads are moved to the ready queue;
#   2. uv_run(): UV_RUN_NOWAIT when callbacks are ready or the loop is stopping, else
#      UV_RUN_ONCE with the wake-up timer armed for the earliest TimerHandle. It runs
#      holding the GIL, released only while it blocks (loop_wait.h), so loops in other
#      threads run meanwhile; libuv callbacks run transports' and protocols' code at
#      once, and poll events append their Handles;
#      then Python-level signal handlers run (main thread), their errors propagating;
#   3. due TimerHandles join the ready queue;
#   4. the callbacks ready at that point run, in order; later ones wait a round;
#   5. what the TLS transports were given to write during the iteration is encrypted
#      and sent, many writes as few records (net/tls.pyx).

cimport cython
from libc.stdint cimport uint64_t
from cpython.object cimport PyObject, PyObject_Call

# The declarations every part uses (libuv, the system, CPython's C API, the debug
# counters); each included file cimports anything else it needs itself, and imports
# the Python modules it uses.
from .includes cimport uv
from .includes.debug cimport *
from .includes.python cimport *
from .includes.system cimport *
from .includes.loop_wait cimport *
from .includes.spawn cimport *
from cpython.pycapsule cimport PyCapsule_New

import asyncio
import concurrent.futures
import signal as signal_module
import socket as socket_module
import subprocess
import sys
import threading
import types
import warnings
import weakref

cdef object get_thread_ident = threading.get_ident
cdef object isfuture = asyncio.isfuture
cdef object ensure_future = asyncio.ensure_future
cdef object aio_Task = asyncio.Task
cdef object aio_Future = asyncio.Future
cdef object wrap_future = asyncio.wrap_future
# A function with one bytecode: calling it runs the interpreter's eval breaker (GIL
# hand-over, signals, stop-the-world requests) from code that is otherwise all C.
cdef object _eval_breaker_point = types.FunctionType(
    compile('', '<uvloop: let other threads run>', 'exec'), {})

# Bottom up: the layers of architecture.md (loop.pxd declares them in this order).
include "asyncio_compat.pyx"
include "errors.pyx"
include "fds.pyx"
include "callbacks.pyx"
include "handles/handle.pyx"
include "handles/timer.pyx"
include "handles/async_.pyx"
include "handles/poll.pyx"
include "handles/process.pyx"
include "handles/fs_event.pyx"
include "timers.pyx"
include "fd_watches.pyx"
include "signals.pyx"
include "executor.pyx"
include "spawn/plan.pyx"
include "spawn/spawn.pyx"
include "net/sockaddr.pyx"
include "transports/transport.pyx"
include "transports/stream.pyx"
include "transports/tcp.pyx"
include "transports/unix.pyx"
include "transports/pipe.pyx"
include "transports/udp.pyx"
include "transports/subprocess.pyx"
include "net/dns.pyx"
include "net/sock.pyx"
include "net/connect.pyx"
include "net/listener.pyx"
include "net/server.pyx"
include "net/sendfile.pyx"
include "net/tls.pyx"
include "net/tls_transport.pyx"
include "net/tls_start.pyx"


cdef _check_callback(callback, str method, bint full):
    """asyncio's argument check for callbacks: only callables, no coroutines.

    asyncio checks only in debug mode; we always run the cheap part (a callable,
    not an `async def` function or method), and asyncio's complete check (partials,
    coroutine markers) when `full` (debug mode).
    """
    if not PyCallable_Check(callback):
        if asyncio.iscoroutine(callback):
            raise TypeError(f"coroutines cannot be used with {method}()")
        raise TypeError(f'a callable object was expected by {method}(), '
                        f'got {callback!r}')
    if _is_async_def(callback) or (full and asyncio.iscoroutinefunction(callback)):
        raise TypeError(f"coroutines cannot be used with {method}()")


cdef inline bint _is_async_def(callback):
    if PyMethod_Check(callback):
        callback = <object>PyMethod_GET_FUNCTION(callback)
    return PyFunction_Check(callback) and \
        (<PyCodeObject*>PyFunction_GET_CODE(callback)).co_flags & CO_COROUTINE


cdef _fileno_of(fd):
    """asyncio's accepted fd forms: an int or an object with fileno(). A closed
    file object gives a negative number: FdWatches finds its watch by the object."""
    if isinstance(fd, int):
        return fd
    try:
        return int(fd.fileno())
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"Invalid file object: {fd!r}") from None


cdef _format_handle(Handle handle):
    callback = handle._callback
    if isinstance(getattr(callback, '__self__', None), aio_Task):
        return repr(callback.__self__)
    return str(handle)


def _run_until_complete_cb(fut):
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            # asyncio lets these propagate out of run_until_complete without
            # stopping the loop here.
            return
    fut.get_loop().stop()


cdef class Loop:

    def __cinit__(self):
        self.uvloop = <uv.uv_loop_t*>PyMem_RawMalloc(sizeof(uv.uv_loop_t))
        if self.uvloop is NULL:
            raise MemoryError()
        err = uv.uv_loop_init(self.uvloop)
        if err < 0:
            PyMem_RawFree(self.uvloop)
            self.uvloop = NULL
            raise convert_error(err)
        self.uvloop.data = <void*>self
        self._threadsafe_lock = PyThread_allocate_lock()
        if self._threadsafe_lock is NULL:
            raise MemoryError()

    def __init__(self):
        self._ready = []
        self._ready_head = 0
        self._threadsafe_queue = []
        self._fd_watches = FdWatches(self)
        self._future_kwargs = {'loop': self}
        self._transports = weakref.WeakValueDictionary()
        self._tls_flushes = []
        self._handles = set()
        self._signals = SignalHandlers(self)
        self._asyncgens = weakref.WeakSet()
        self.slow_callback_duration = 0.1
        self._timers = TimerQueue(self)
        self._wakeup_async = UVAsync.new(self)
        self.set_debug(aio_is_debug_mode())

    def __dealloc__(self):
        # A loop that was never closed: Loop.__del__ closed it when possible. What
        # remains (the loop structure itself) is freed only if libuv agrees it is idle.
        if self.uvloop is not NULL:
            if uv.uv_loop_close(self.uvloop) == 0:
                PyMem_RawFree(self.uvloop)
            self.uvloop = NULL
        if self._threadsafe_lock is not NULL:
            PyThread_free_lock(self._threadsafe_lock)
            self._threadsafe_lock = NULL

    def __del__(self):
        if not self._closed:
            warnings.warn(f"unclosed event loop {self!r}", ResourceWarning,
                          source=self)
            if not self.is_running():
                self.close()

    def __repr__(self):
        return (f'<{type(self).__module__}.{type(self).__name__} '
                f'running={self.is_running()} closed={self._closed} '
                f'debug={self._debug}>')

    # ----- checks -----------------------------------------------------------------

    cdef inline _check_closed(self):
        if self._closed:
            raise RuntimeError('Event loop is closed')

    cdef _check_thread(self):
        if self._thread_id is None:
            return
        if get_thread_ident() != self._thread_id:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one")

    def _check_running(self):
        if self.is_running():
            raise RuntimeError('This event loop is already running')
        if aio_get_running_loop_or_none() is not None:
            raise RuntimeError(
                'Cannot run the event loop while another loop is running')

    # ----- running ----------------------------------------------------------------

    def run_forever(self):
        """Run until stop() is called."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_agen_hooks = sys.get_asyncgen_hooks()
        self._switch_interval_ms = max(1, <uint64_t>(sys.getswitchinterval() * 1e3))
        try:
            self._thread_id = get_thread_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            aio_set_running_loop(self)
            self._signals.install_wakeup()
            while True:
                self._run_once()
                if self._stopping:
                    break
        finally:
            self._stopping = False
            self._thread_id = None
            self._signals.uninstall_wakeup()
            aio_set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def run_until_complete(self, future):
        """Run until the future (or coroutine) is done; return its result."""
        self._check_closed()
        self._check_running()
        new_task = not isfuture(future)
        future = ensure_future(future, loop=self)
        if new_task:
            # An exception in the task is raised here; no need to log it as
            # "never retrieved" too.
            future._log_destroy_pending = False
        done_cb = _run_until_complete_cb
        future.add_done_callback(done_cb)
        try:
            self.run_forever()
        except BaseException:
            if new_task and future.done() and not future.cancelled():
                # Mark the exception retrieved: it propagates from here.
                future.exception()
            raise
        finally:
            future.remove_done_callback(done_cb)
        if not future.done():
            raise RuntimeError('Event loop stopped before Future completed.')
        return future.result()

    def stop(self):
        """Stop after the callbacks that are ready now have run."""
        self._stopping = True

    def is_running(self):
        return self._thread_id is not None

    def is_closed(self):
        return self._closed

    def close(self):
        """Close the loop: drop pending callbacks, close every handle, shut the
        default executor down without waiting. Idempotent."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        if self._debug:
            aio_logger.debug("Close %r", self)
        self._closed = True
        try:
            self._signals.remove_all()
        finally:
            self._close_handles()
            _forget_queue(self._ready, self._ready_head)
            self._ready = []
            self._ready_head = 0
            self._timers.clear()
            self._executor_shutdown_called = True
            executor = self._default_executor
            if executor is not None:
                self._default_executor = None
                executor.shutdown(wait=False)

    cdef _close_handles(self):
        # Other threads may be inside call_soon_threadsafe(): close the queue under
        # its lock first, so none of them can touch the async handle once it is gone.
        self._lock_threadsafe_queue()
        self._threadsafe_closed = True
        queue = self._threadsafe_queue
        self._threadsafe_queue = []
        self._unlock_threadsafe_queue()
        _forget_queue(queue, 0)

        self._fd_watches.close()
        self._signals.close()
        for handle in list(self._handles):
            (<UVHandle>handle).close()
        # Close callbacks run at the end of a loop iteration; requests still in
        # flight (a write to a closing stream) complete as cancelled meanwhile.
        while self._handles or uv.uv_loop_alive(self.uvloop):
            uv.uv_run(self.uvloop, uv.UV_RUN_NOWAIT)
            if self._handles:
                continue
            break
        err = uv.uv_loop_close(self.uvloop)
        if err == 0:
            PyMem_RawFree(self.uvloop)
            self.uvloop = NULL
        else:
            aio_logger.error('libuv could not close the loop: %s',
                             convert_error(err))

    cdef _run_once(self):
        # The empty cases are tested here, inline: most iterations of a busy server
        # have no timer due, nothing from other threads, no new fd watch.
        cdef uv.uv_run_mode mode
        if uvloop_atomic_load_int(&self._threadsafe_pending):
            self._drain_threadsafe_queue()
        if self._fd_watches._to_verify:
            # Before the mode is chosen: it may make ready the waiters of a closed fd.
            self._fd_watches.verify()
        if self._ready_head < len(self._ready) or self._stopping or self._tls_flushes:
            mode = uv.UV_RUN_NOWAIT
        else:
            mode = uv.UV_RUN_ONCE
            self._timers.arm_wakeup()
        # libuv's callbacks run holding the GIL; the wait itself releases it
        # (loop_wait.h).
        if mode == uv.UV_RUN_ONCE and not UVLOOP_WRAPPED_POLL:
            with nogil:
                uvloop_wait_for_io(self.uvloop)
            mode = uv.UV_RUN_NOWAIT
        uv.uv_run(self.uvloop, mode)
        if self._pending_exception is not None:
            exc = self._pending_exception
            self._pending_exception = None
            raise exc
        self._let_other_threads_run()
        if self._signals_arrived:
            # Python-level signal handlers (main thread only) run here, before any
            # callback, so what they raise ends run_forever as on asyncio's loop (its
            # select() runs them); inside a callback's own code it would be that
            # callback's error. Python's C handler wrote to our wakeup fd, whose
            # poll event set the flag in this uv_run() (signals.pyx).
            self._signals_arrived = False
            PyErr_CheckSignals()
        if uvloop_atomic_load_int(&self._threadsafe_pending):
            self._drain_threadsafe_queue()
        if self._timers._heap:
            self._timers.move_due(self._ready)
        if self._ready_head < len(self._ready):
            self._run_ready()
        if self._tls_flushes:
            _flush_tls_writes(self)

    cdef inline _let_other_threads_run(self):
        # A loop that never blocks (or only with a 0 ms timeout) and whose callbacks
        # run no Python code (C callbacks: futures, partials) would never give the
        # GIL up: once per switch interval, run a bytecode, where the interpreter
        # hands the GIL to a thread that asked for it (its usual way, which also
        # honours a free-threaded build's stop-the-world requests). Releasing and
        # taking the GIL back here would not do: a waiting thread sees the switch
        # and never asks, and rarely wins the race. libuv's clock (ms, updated by
        # uv_run()) is free to read.
        cdef uint64_t now = uv.uv_now(self.uvloop)
        if now - self._gil_handed_over_at < self._switch_interval_ms:
            return
        self._gil_handed_over_at = now
        _eval_breaker_point()

    cdef _run_ready(self):
        cdef Handle handle
        cdef list ready = self._ready
        cdef Py_ssize_t end = len(ready)
        while self._ready_head < end:
            handle = <Handle>ready[self._ready_head]
            ready[self._ready_head] = None
            self._ready_head += 1
            if handle._untracked:
                _dequeued(handle)
            if handle._cancelled:
                continue
            if self._debug:
                self._run_handle_debug(handle)
            else:
                handle._run()
        if self._ready_head and self._ready_head == len(ready):
            del ready[:]
            self._ready_head = 0
        elif self._ready_head > 4096:
            del ready[:self._ready_head]
            self._ready_head = 0

    cdef _run_handle_debug(self, Handle handle):
        # asyncio's debug mode: remember the running handle (for the exception
        # handler) and warn about callbacks slower than slow_callback_duration.
        self._current_handle = handle
        try:
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if dt >= self.slow_callback_duration:
                aio_logger.warning('Executing %s took %.3f seconds',
                                   _format_handle(handle), dt)
        finally:
            self._current_handle = None

    cdef _handle_callback_error(self, exc, source):
        """Route an exception raised inside a libuv callback: the loop keeps
        running; KeyboardInterrupt and SystemExit stop it and propagate."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            if self._pending_exception is None:
                self._pending_exception = exc
            uv.uv_stop(self.uvloop)
            return
        self.call_exception_handler({
            'message': f'Unhandled error in {source!r}',
            'exception': exc,
        })

    # ----- scheduling -------------------------------------------------------------

    cdef inline _append_ready(self, Handle handle):
        self._ready.append(handle)

    cdef Handle _call_soon(self, callback, tuple args, context):
        cdef Handle handle = Handle.__new__(Handle)
        _init_handle(handle, self, callback, args, context)
        _untrack_while_queued(handle, context is None)
        self._ready.append(handle)
        return handle

    def call_soon(self, callback, *args, context=None):
        """Call callback(*args) at the next iteration, in FIFO order."""
        self._check_closed()
        if self._debug:
            self._check_thread()
        _check_callback(callback, 'call_soon', self._debug)
        return self._call_soon(callback, args, context)

    def call_soon_threadsafe(self, callback, *args, context=None):
        """Like call_soon(), from any thread; wakes the loop if it sleeps."""
        # No unlocked _check_closed(): `_threadsafe_closed`, read under the lock
        # below, is the answer that cannot race with close() in the loop's thread.
        _check_callback(callback, 'call_soon_threadsafe', self._debug)
        cdef Handle handle = Handle.__new__(Handle)
        _init_handle(handle, self, callback, args, context)
        _untrack_while_queued(handle, context is None)
        self._lock_threadsafe_queue()
        if self._threadsafe_closed:
            self._unlock_threadsafe_queue()
            raise RuntimeError('Event loop is closed')
        self._threadsafe_queue.append(handle)
        uvloop_atomic_store_int(&self._threadsafe_pending, 1)
        self._wakeup_async.send()
        self._unlock_threadsafe_queue()
        return handle

    cdef inline _lock_threadsafe_queue(self):
        # With a GIL, the GIL is the guard: the critical sections run no Python code
        # and allocate nothing the collector could run finalizers for, so no other
        # thread runs inside them. Without a GIL, the holder never waits inside the
        # lock either, so the first try nearly always succeeds; only a real wait
        # releases the thread state, so that the holder can finish.
        if not UVLOOP_FREE_THREADED:
            return
        if PyThread_acquire_lock(self._threadsafe_lock, NOWAIT_LOCK):
            return
        with nogil:
            PyThread_acquire_lock(self._threadsafe_lock, WAIT_LOCK)

    cdef inline _unlock_threadsafe_queue(self):
        if UVLOOP_FREE_THREADED:
            PyThread_release_lock(self._threadsafe_lock)

    cdef _drain_threadsafe_queue(self):
        cdef list queue
        if not uvloop_atomic_load_int(&self._threadsafe_pending):
            return
        fresh = []
        self._lock_threadsafe_queue()
        queue = self._threadsafe_queue
        self._threadsafe_queue = fresh
        uvloop_atomic_store_int(&self._threadsafe_pending, 0)
        self._unlock_threadsafe_queue()
        self._ready.extend(queue)

    def call_later(self, delay, callback, *args, context=None):
        """Call callback(*args) after `delay` seconds; returns a TimerHandle."""
        if delay is None:
            raise TypeError('delay must not be None')
        return self._call_at(uv.uv_hrtime() * 1e-9 + delay, callback, args, context)

    def call_at(self, when, callback, *args, context=None):
        """Call callback(*args) at loop time `when`; returns a TimerHandle."""
        if when is None:
            raise TypeError("when cannot be None")
        return self._call_at(when, callback, args, context)

    cdef inline TimerHandle _call_at(self, double when, callback, tuple args, context):
        if when != when:
            # A NaN deadline compares false with everything: the heap cannot order it
            # and no wake-up time follows from it. Upstream uvloop raises ValueError.
            raise ValueError('a timer cannot be scheduled at NaN')
        self._check_closed()
        if self._debug:
            self._check_thread()
        _check_callback(callback, 'call_at', self._debug)
        cdef TimerHandle timer = TimerHandle.__new__(TimerHandle)
        _init_handle(timer, self, callback, args, context)
        timer._when = when
        timer._heap_index = -1
        self._timers.push(timer)
        return timer

    def time(self):
        """The loop's clock: CLOCK_MONOTONIC in seconds, as time.monotonic()."""
        return uv.uv_hrtime() * 1e-9

    # ----- file descriptors (the registry is in fd_watches.pyx) ------------------

    def _ensure_fd_no_transport(self, fd):
        fileno = _fileno_of(fd)
        transport = self._transports.get(fileno)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(
                f'File descriptor {fd!r} is used by transport {transport!r}')
        return fileno

    cdef tuple _checked_watch(self, fd, callback, tuple args, str method):
        """(fileno, Handle) for add_reader/add_writer, after asyncio's checks."""
        fileno = self._ensure_fd_no_transport(fd)
        self._check_closed()
        _check_callback(callback, method, self._debug)
        return fileno, Handle(callback, args, self, None)

    def add_reader(self, fd, callback, *args):
        """Call callback(*args) whenever fd is readable."""
        fileno, handle = self._checked_watch(fd, callback, args, 'add_reader')
        self._fd_watches.watch(fileno, False, handle, fd)

    def remove_reader(self, fd):
        """Stop watching fd for reading; True if it was watched."""
        return self._fd_watches.unwatch(self._ensure_fd_no_transport(fd), False, fd)

    def add_writer(self, fd, callback, *args):
        """Call callback(*args) whenever fd is writable."""
        fileno, handle = self._checked_watch(fd, callback, args, 'add_writer')
        self._fd_watches.watch(fileno, True, handle, fd)

    def remove_writer(self, fd):
        """Stop watching fd for writing; True if it was watched."""
        return self._fd_watches.unwatch(self._ensure_fd_no_transport(fd), True, fd)

    # ----- futures and tasks ------------------------------------------------------

    def create_future(self):
        # The keyword arguments dict is made once: the C Future reads it, never
        # keeps or changes it.
        return PyObject_Call(aio_Future, (), self._future_kwargs)

    def create_task(self, coro, *, name=None, context=None):
        """Schedule a coroutine as a Task (through the task factory, if set)."""
        self._check_closed()
        if self._task_factory is None:
            task = aio_Task(coro, loop=self, name=name, context=context)
            if task._source_traceback:
                del task._source_traceback[-1]
        else:
            if context is None:
                task = self._task_factory(self, coro)
            else:
                task = self._task_factory(self, coro, context=context)
            if name is not None:
                task.set_name(name)
        return task

    def set_task_factory(self, factory):
        if factory is not None and not callable(factory):
            raise TypeError('task factory must be a callable or None')
        self._task_factory = factory

    def get_task_factory(self):
        return self._task_factory

    # ----- executor (the machinery is in executor.pyx) ----------------------------

    def run_in_executor(self, executor, func, *args):
        """Run func(*args) in `executor` (default: a ThreadPoolExecutor)."""
        self._check_closed()
        if self._debug:
            _check_callback(func, 'run_in_executor', True)
        if executor is None:
            if self._executor_shutdown_called:
                raise RuntimeError('Executor shutdown has been called')
            executor = _default_executor(self)
        return wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor):
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError('executor must be ThreadPoolExecutor instance')
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout=None):
        """Wait for the default executor's threads to finish (up to `timeout`)."""
        self._executor_shutdown_called = True
        await _shutdown_default_executor(self, timeout)

    # ----- async generators -------------------------------------------------------

    def _asyncgen_finalizer_hook(self, agen):
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    def _asyncgen_firstiter_hook(self, agen):
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                f"loop.shutdown_asyncgens() call",
                ResourceWarning, source=self)
        self._asyncgens.add(agen)

    async def shutdown_asyncgens(self):
        """Close every async generator that is still open."""
        self._asyncgens_shutdown_called = True
        if not len(self._asyncgens):
            return
        closing_agens = list(self._asyncgens)
        self._asyncgens.clear()
        results = await asyncio.gather(
            *[ag.aclose() for ag in closing_agens], return_exceptions=True)
        for result, agen in zip(results, closing_agens):
            if isinstance(result, Exception):
                self.call_exception_handler({
                    'message': f'an error occurred during closing of '
                               f'asynchronous generator {agen!r}',
                    'exception': result,
                    'asyncgen': agen,
                })

    # ----- errors and debug -------------------------------------------------------

    def get_exception_handler(self):
        return self._exception_handler

    def set_exception_handler(self, handler):
        if handler is not None and not callable(handler):
            raise TypeError(f'A callable object or None is expected, '
                            f'got {handler!r}')
        self._exception_handler = handler

    def default_exception_handler(self, context):
        """Log the context: the message, the exception with its traceback, and
        (in debug mode) where the failing handle was created."""
        aio_default_exception_handler(self, context)

    def call_exception_handler(self, context):
        """Pass `context` to the exception handler; errors there are logged."""
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                aio_logger.error('Exception in default exception handler',
                                 exc_info=True)
            return
        try:
            ctx = None
            thing = context.get("task")
            if thing is None:
                thing = context.get("future")
            if thing is None:
                thing = context.get("handle")
            if thing is not None and hasattr(thing, "get_context"):
                ctx = thing.get_context()
            if ctx is not None and hasattr(ctx, "run"):
                ctx.run(self._exception_handler, self, context)
            else:
                self._exception_handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler({
                    'message': 'Unhandled error in exception handler',
                    'exception': exc,
                    'context': context,
                })
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                aio_logger.error('Exception in default exception handler '
                                 'while handling an unexpected error '
                                 'in custom exception handler',
                                 exc_info=True)

    def get_debug(self):
        return self._debug

    def set_debug(self, enabled):
        self._debug = bool(enabled)
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking,
                                      self._debug)

    def _set_coroutine_origin_tracking(self, enabled):
        if bool(enabled) == self._coroutine_origin_tracking_enabled:
            return
        if enabled:
            self._coroutine_origin_tracking_saved_depth = (
                sys.get_coroutine_origin_tracking_depth())
            sys.set_coroutine_origin_tracking_depth(
                aio_DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(
                self._coroutine_origin_tracking_saved_depth)
        self._coroutine_origin_tracking_enabled = bool(enabled)

    # ----- signals ----------------------------------------------------------------

    def _check_signal(self, sig):
        if not isinstance(sig, int):
            raise TypeError(f'sig must be an int, not {sig!r}')
        if sig not in signal_module.valid_signals():
            raise ValueError(f'invalid signal number {sig}')

    def add_signal_handler(self, sig, callback, *args):
        """Call callback(*args) when signal `sig` arrives (main thread only)."""
        if (asyncio.iscoroutine(callback) or
                asyncio.iscoroutinefunction(callback)):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError('set_wakeup_fd only works in main thread '
                               'of the main interpreter')
        self._signals.add(sig, Handle(callback, args, self, None))

    def remove_signal_handler(self, sig):
        """Remove the handler of `sig`; True if there was one."""
        self._check_signal(sig)
        return self._signals.remove(sig)

    # ----- filesystem watching (handles/fs_event.pyx) ------------------------------

    def _monitor_fs(self, path, callback):
        """Upstream uvloop's file watch: callback(filename, FileSystemEvent) runs on
        each change to the file or directory at `path`, until cancel() on the
        returned handle."""
        self._check_closed()
        if self._debug:
            self._check_thread()
        _check_callback(callback, '_monitor_fs', self._debug)
        return UVFSEvent.new(self, path, callback)

    # ----- DNS --------------------------------------------------------------------

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        """socket.getaddrinfo() without blocking the loop. Numeric hosts and ports
        are resolved at once; names go to the default executor, as in asyncio."""
        return await _getaddrinfo(self, host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        """socket.getnameinfo() without blocking the loop."""
        return await _getnameinfo(self, sockaddr, flags)

    # ----- sockets (the sock_* methods; the machinery is in net/sock.pyx) ------------

    async def sock_recv(self, sock, n):
        """Receive up to n bytes from a non-blocking socket."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, False, sock.recv, (n,))

    async def sock_recv_into(self, sock, buf):
        """Receive into buf; returns the number of bytes received."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, False, sock.recv_into, (buf,))

    async def sock_recvfrom(self, sock, bufsize):
        """Receive a datagram: (bytes, address)."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, False, sock.recvfrom, (bufsize,))

    async def sock_recvfrom_into(self, sock, buf, nbytes=0):
        """Receive a datagram into buf: (nbytes, address)."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, False, sock.recvfrom_into,
                                   (buf, nbytes or len(buf)))

    async def sock_sendall(self, sock, data):
        """Send all of data; returns None once the kernel took every byte."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, True, _SendAll(sock, data, 0), ())

    async def sock_sendto(self, sock, data, address):
        """Send a datagram to address; returns the number of bytes sent."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, True, sock.sendto, (data, 0, address))

    async def sock_connect(self, sock, address):
        """Connect a non-blocking socket (resolving host names first)."""
        _check_socket(self, sock)
        if sock.family in (socket_module.AF_INET, socket_module.AF_INET6):
            resolved = await aio_ensure_resolved(
                self, address, family=sock.family, type=sock.type,
                proto=sock.proto, loop=self)
            address = resolved[0][4]
        try:
            sock.connect(address)
            return
        except (BlockingIOError, InterruptedError):
            pass
        return await _sock_wait(self, sock, True, _ConnectResult(sock, address), ())

    async def sock_accept(self, sock):
        """Accept a connection: (non-blocking socket, address)."""
        _check_socket(self, sock)
        return await _sock_io(self, sock, False, _accept_nonblocking, (sock,))

    async def sock_sendfile(self, sock, file, offset=0, count=None, *,
                            fallback=True):
        """Send a file over a socket with the kernel's sendfile(); asyncio's own
        method does the checks and the fallback, through the three below."""
        return await aio_sock_sendfile(
            self, sock, file, offset, count, fallback=fallback)

    def _check_sendfile_params(self, sock, file, offset, count):
        return aio_check_sendfile_params(self, sock, file, offset, count)

    async def _sock_sendfile_native(self, sock, file, offset, count):
        return await _sock_sendfile_native(self, sock, file, offset, count)

    async def _sock_sendfile_fallback(self, sock, file, offset, count):
        return await aio_sock_sendfile_fallback(self, sock, file, offset, count)

    # ----- streams: TCP and Unix sockets ------------------------------------------
    # Argument checks and error messages are asyncio's, in asyncio's order; the work
    # is in net/connect.pyx (connecting, the transport) and net/server.pyx.

    async def create_connection(
            self, protocol_factory, host=None, port=None, *, ssl=None, family=0,
            proto=0, flags=0, sock=None, local_addr=None, server_hostname=None,
            ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
            happy_eyeballs_delay=None, interleave=None, all_errors=False):
        """Connect to a TCP server (or use the connected stream socket `sock`);
        returns (transport, protocol). Several addresses are tried in turn, or raced
        with Happy Eyeballs when happy_eyeballs_delay is given."""
        if server_hostname is not None and not ssl:
            raise ValueError('server_hostname is only meaningful with ssl')
        if server_hostname is None and ssl:
            if not host:
                raise ValueError('You must set server_hostname '
                                 'when using ssl without a host')
            server_hostname = host
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if sock is not None:
            aio_check_ssl_socket(sock)
        if happy_eyeballs_delay is not None and interleave is None:
            interleave = 1

        if host is not None or port is not None:
            if sock is not None:
                raise ValueError(
                    'host/port and sock can not be specified at the same time')
            sock = await _connect_tcp(self, host, port, family, proto, flags,
                                      local_addr, happy_eyeballs_delay, interleave,
                                      all_errors)
            users_socket = False
        else:
            if sock is None:
                raise ValueError(
                    'host and port was not specified and no sock specified')
            if sock.type != socket_module.SOCK_STREAM:
                # AF_UNIX stream sockets are accepted here too, as by asyncio.
                raise ValueError(f'A Stream Socket was expected, got {sock!r}')
            users_socket = True

        transport, protocol = await _open_stream_transport(
            self, sock, protocol_factory, users_socket, ssl, server_hostname, False,
            ssl_handshake_timeout, ssl_shutdown_timeout)
        if self._debug:
            aio_logger.debug("%r connected to %s:%r: (%r, %r)",
                             transport.get_extra_info('socket'), host, port,
                             transport, protocol)
        return transport, protocol

    def _ensure_resolved(self, address, *, family=0, type=socket_module.SOCK_STREAM,
                         proto=0, flags=0, loop):
        # asyncio's create_datagram_endpoint (which we call) resolves through this.
        return aio_ensure_resolved(self, address, family=family, type=type,
                                   proto=proto, flags=flags, loop=loop)

    async def connect_accepted_socket(self, protocol_factory, sock, *, ssl=None,
                                      ssl_handshake_timeout=None,
                                      ssl_shutdown_timeout=None):
        """Wrap a socket accepted elsewhere into a transport/protocol pair."""
        if sock.type != socket_module.SOCK_STREAM:
            raise ValueError(f'A Stream Socket was expected, got {sock!r}')
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        aio_check_ssl_socket(sock)
        transport, protocol = await _open_stream_transport(
            self, sock, protocol_factory, True, ssl, None, True, ssl_handshake_timeout,
            ssl_shutdown_timeout)
        if self._debug:
            aio_logger.debug("%r handled: (%r, %r)",
                             transport.get_extra_info('socket'), transport,
                             protocol)
        return transport, protocol

    async def create_unix_connection(
            self, protocol_factory, path=None, *, ssl=None, sock=None,
            server_hostname=None, ssl_handshake_timeout=None,
            ssl_shutdown_timeout=None):
        """Connect to a Unix socket at `path` (or use the connected `sock`)."""
        assert server_hostname is None or isinstance(server_hostname, str)
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if ssl:
            if server_hostname is None:
                raise ValueError('you have to pass server_hostname when using ssl')
        elif server_hostname is not None:
            raise ValueError('server_hostname is only meaningful with ssl')
        if path is not None:
            path, sock = _new_unix_stream_socket(path, sock)
            await _connect_unix(self, sock, path)
            users_socket = False
        else:
            if sock is None:
                raise ValueError('no path and sock were specified')
            _check_unix_stream_socket(sock)
            users_socket = True
        return await _open_stream_transport(
            self, sock, protocol_factory, users_socket, ssl, server_hostname, False,
            ssl_handshake_timeout, ssl_shutdown_timeout)

    async def create_server(
            self, protocol_factory, host=None, port=None, *,
            family=socket_module.AF_UNSPEC, flags=socket_module.AI_PASSIVE,
            sock=None, backlog=100, ssl=None, reuse_address=None, reuse_port=None,
            keep_alive=None, ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
            start_serving=True):
        """A TCP server on host (a name, or a sequence of names: one listening
        socket per address) and port, or on the listening socket `sock`."""
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        backlog = _checked_backlog(backlog)
        if sock is not None:
            aio_check_ssl_socket(sock)

        if host is not None or port is not None:
            if sock is not None:
                raise ValueError(
                    'host/port and sock can not be specified at the same time')
            if reuse_address is None:
                reuse_address = os.name == 'posix' and sys.platform != 'cygwin'
            sockets = await _bound_tcp_sockets(self, host, port, family, flags,
                                               reuse_address, reuse_port, keep_alive)
        else:
            if sock is None:
                raise ValueError('Neither host/port nor sock were specified')
            if sock.type != socket_module.SOCK_STREAM:
                raise ValueError(f'A Stream Socket was expected, got {sock!r}')
            sockets = [sock]

        server = await _serve(self, sockets, protocol_factory, backlog, ssl,
                              ssl_handshake_timeout, ssl_shutdown_timeout,
                              start_serving, None)
        if self._debug:
            aio_logger.info("%r is serving", server)
        return server

    async def create_unix_server(
            self, protocol_factory, path=None, *, sock=None, backlog=100, ssl=None,
            ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
            start_serving=True, cleanup_socket=_CLEANUP_UNIX_SOCKET_BY_DEFAULT):
        """A server on the Unix socket `path` (or the listening socket `sock`).
        A stale socket file at `path` is replaced; with cleanup_socket (the default
        from Python 3.13, as asyncio's) the file is removed when the server closes."""
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        backlog = _checked_backlog(backlog)

        if path is not None:
            path, sock = _new_unix_stream_socket(path, sock)
            _bind_unix_socket(sock, path)
        else:
            if sock is None:
                raise ValueError('path was not specified, and no sock specified')
            _check_unix_stream_socket(sock)
        return await _serve(self, [sock], protocol_factory, backlog, ssl,
                            ssl_handshake_timeout, ssl_shutdown_timeout,
                            start_serving, _unix_socket_inodes(sock, cleanup_socket))

    async def sendfile(self, transport, file, offset=0, count=None, *,
                       fallback=True):
        """Send a file over a transport: with the kernel's sendfile() on stream
        sockets, else (fallback=True) by reading it and writing the chunks."""
        if transport.is_closing():
            raise RuntimeError("Transport is closing")
        return await _sendfile(self, transport, file, offset, count, fallback)

    # ----- datagrams ---------------------------------------------------------------

    async def create_datagram_endpoint(
            self, protocol_factory, local_addr=None, remote_addr=None, *, family=0,
            proto=0, flags=0, reuse_port=None, allow_broadcast=None, sock=None):
        """A datagram (UDP, or Unix datagram) endpoint: (transport, protocol).
        The arguments are checked and the socket made by the running Python's
        asyncio code, which hands it to _make_datagram_transport()."""
        return await aio_create_datagram_endpoint(
            self, protocol_factory, local_addr, remote_addr, family=family,
            proto=proto, flags=flags, reuse_port=reuse_port,
            allow_broadcast=allow_broadcast, sock=sock)

    def _make_datagram_transport(self, sock, protocol, address=None, waiter=None,
                                 extra=None):
        return _new_datagram_transport(self, sock, protocol, address, waiter)

    # ----- pipes ------------------------------------------------------------------

    async def connect_read_pipe(self, protocol_factory, pipe):
        """Read from a pipe (or socket, or character device) with a protocol.
        The transport owns `pipe` and closes it after connection_lost()."""
        return await self._connect_pipe(False, protocol_factory, pipe)

    async def connect_write_pipe(self, protocol_factory, pipe):
        """Write to a pipe (or socket, or character device) with a protocol.
        The transport owns `pipe` and closes it after connection_lost()."""
        return await self._connect_pipe(True, protocol_factory, pipe)

    async def _connect_pipe(self, bint for_write, protocol_factory, pipe):
        protocol = protocol_factory()
        waiter = self.create_future()
        transport = _new_pipe_transport(self, for_write, pipe, protocol, waiter, None)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        if self._debug:
            aio_logger.debug('%s pipe %r connected: (%r, %r)',
                             'Write' if for_write else 'Read', pipe.fileno(),
                             transport, protocol)
        return transport, protocol

    # ----- subprocesses (the arguments: spawn/plan.pyx; the spawn: spawn/spawn.pyx;
    # the transport: transports/subprocess.pyx) ----------------------------------------

    async def subprocess_exec(self, protocol_factory, program, *args,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=False,
                              shell=False, bufsize=0, encoding=None, errors=None,
                              text=None, **kwargs):
        """Run `program` with `args` in a child process; (transport, protocol).

        The keyword arguments of subprocess.Popen that make sense here are accepted
        (cwd, env, executable, pass_fds, close_fds, preexec_fn, restore_signals,
        start_new_session, process_group, umask, pipesize). Safe to call from many
        loops in many threads at once."""
        _check_subprocess_args(universal_newlines, bufsize, text, encoding, errors)
        if shell:
            raise ValueError('shell must be False')
        return await self._subprocess(protocol_factory, (program,) + args, False,
                                      stdin, stdout, stderr, kwargs,
                                      f'execute program {program!r}')

    async def subprocess_shell(self, protocol_factory, cmd, *,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=False,
                               shell=True, bufsize=0, encoding=None, errors=None,
                               text=None, **kwargs):
        """Run `cmd` with /bin/sh -c in a child process; (transport, protocol)."""
        if not isinstance(cmd, (bytes, str)):
            raise ValueError('cmd must be a string')
        _check_subprocess_args(universal_newlines, bufsize, text, encoding, errors)
        if not shell:
            raise ValueError('shell must be True')
        return await self._subprocess(protocol_factory, cmd, True, stdin, stdout,
                                      stderr, kwargs, f'run shell command {cmd!r}')

    async def _subprocess(self, protocol_factory, args, bint shell, stdin, stdout,
                          stderr, dict kwargs, str debug_log):
        self._check_closed()
        protocol = protocol_factory()
        if self._debug:
            # Parameters are not logged: they may hold secrets, as asyncio says.
            aio_log_subprocess(None, debug_log, stdin, stdout, stderr)
        extra = kwargs.pop('extra', None)
        plan = _popen_plan(args, shell, stdin, stdout, stderr, kwargs)
        transport = await _make_subprocess_transport(self, protocol, plan, extra)
        if self._debug:
            aio_logger.info('%s: %r', debug_log, transport)
        return transport, protocol

    # ----- TLS (the mechanism is in net/tls.pyx) ---------------------------------------

    async def start_tls(self, transport, protocol, sslcontext, *, server_side=False,
                        server_hostname=None, ssl_handshake_timeout=None,
                        ssl_shutdown_timeout=None):
        """Upgrade a TCP or Unix connection to TLS; returns the new transport."""
        return await _start_tls(self, transport, protocol, sslcontext, server_side,
                                server_hostname, ssl_handshake_timeout,
                                ssl_shutdown_timeout)


def libuv_get_loop_t_ptr(loop):
    """A PyCapsule holding the loop's uv_loop_t* (for C libraries); unnamed, as
    upstream's, so C code written for it finds the pointer."""
    cdef Loop uvl = <Loop?>loop
    uvl._check_closed()
    return PyCapsule_New(<void*>uvl.uvloop, NULL, NULL)


def libuv_get_version():
    """libuv's version as an int, as uv_version() returns it."""
    return uv.uv_version()


def libuv_version_string():
    return uv.uv_version_string().decode()


def _debug_counters():
    """Live-object counters of a debug build (UVLOOP_DEBUG=1), else None."""
    if not UVLOOP_DEBUG:
        return None
    return {
        'handles_live': uvloop_counter_value(UVLOOP_HANDLES_LIVE),
        'handles_total': uvloop_counter_value(UVLOOP_HANDLES_TOTAL),
        'requests_live': uvloop_counter_value(UVLOOP_REQUESTS_LIVE),
        'callback_handles_live': uvloop_counter_value(UVLOOP_CB_HANDLES_LIVE),
        'timers_scheduled': uvloop_counter_value(UVLOOP_TIMERS_SCHEDULED),
    }

