# Handle and TimerHandle: what call_soon / call_later / call_at return.
#
# Needs: the Loop they belong to (its debug flag, exception handler, TimerQueue).
#
# Code compiled by Cython runs without Python frames of its own, so sys._getframe(0)
# there is already the user's frame: that is what debug mode's _source_traceback records.
#
# They follow asyncio.Handle and asyncio.TimerHandle (cancel, cancelled, when,
# get_context, the repr, the exception-handler context on failure) but are cdef classes:
# the ready queue and the timer heap touch their fields without Python attribute lookups.

from cpython.ref cimport Py_REFCNT

import sys

cdef object sys_getframe = sys._getframe


cdef inline _init_handle(Handle handle, Loop loop, callback, tuple args, context):
    """Fill a Handle made with __new__ (the fast path of call_soon and friends)."""
    handle._callback = callback
    handle._args = args
    handle._loop = loop
    handle._context = PyContext_CopyCurrent() if context is None else context
    if loop._debug:
        handle._source_traceback = aio_extract_stack(sys_getframe(0))


# Handles waiting in the ready queue are out of the cyclic GC. A call_soon() allocates
# two GC objects (the Handle and its context copy); with thousands queued, every
# young-generation collection walked them all, a fifth of call_soon's cost. While
# queued a Handle cannot be garbage (the queue holds it) and untracked objects count
# as roots, so nothing it refers to is collected early. When it leaves the queue
# (run, skipped once cancelled, or dropped by Loop.close()) and something else still
# holds it, it and its context are tracked again, so a cycle through it is found.
cdef enum:
    _UNTRACKED_HANDLE = 1
    _UNTRACKED_CONTEXT = 2


cdef inline _untrack_while_queued(Handle handle, bint own_context):
    """For call_soon's Handles (never TimerHandles: their heap is not a queue);
    `own_context`: the context is the copy _init_handle() made for this Handle."""
    if UVLOOP_UNTRACK_QUEUED_HANDLES:
        PyObject_GC_UnTrack(handle)
        handle._untracked = _UNTRACKED_HANDLE
        if own_context:
            PyObject_GC_UnTrack(handle._context)
            handle._untracked |= _UNTRACKED_CONTEXT


cdef inline _dequeued(Handle handle):
    """The queue just dropped `handle`, and the caller holds it. Checked before it
    runs: while it runs only _report_error() hands it out, and tracks it first."""
    if Py_REFCNT(handle) > 1:
        handle._track_again()


cdef _forget_queue(list queue, Py_ssize_t start):
    """The loop closes and drops queue[start:]: whatever of it lives on (a Handle
    someone holds) is in the cyclic GC again."""
    cdef Py_ssize_t i
    for i in range(start, len(queue)):
        handle = queue[i]
        if handle is not None and (<Handle>handle)._untracked:
            (<Handle>handle)._track_again()


@cython.freelist(256)
cdef class Handle:

    def __cinit__(self):
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_CB_HANDLES_LIVE, 1)

    def __dealloc__(self):
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_CB_HANDLES_LIVE, -1)
        if self._untracked & _UNTRACKED_CONTEXT:
            # A context's dealloc expects it tracked (CPython untracks it without
            # checking).
            PyObject_GC_Track(self._context)

    def __init__(self, callback, args, Loop loop, context=None):
        _init_handle(self, loop, callback, tuple(args) if args is not None else (),
                     context)

    cdef _run(self):
        cdef object callback = self._callback
        cdef tuple args = self._args
        cdef object context = self._context
        cdef object error = None
        PyContext_Enter(context)
        try:
            if args:
                callback(*args)
            else:
                callback()
        except (SystemExit, KeyboardInterrupt):
            PyContext_Exit(context)
            raise
        except BaseException as exc:
            error = exc
        PyContext_Exit(context)
        if error is not None:
            self._report_error(error)

    cdef _track_again(self):
        if self._untracked & _UNTRACKED_HANDLE:
            PyObject_GC_Track(self)
        if self._untracked & _UNTRACKED_CONTEXT:
            PyObject_GC_Track(self._context)
        self._untracked = 0

    cdef _report_error(self, exc):
        if self._untracked:
            self._track_again()      # the exception handler may keep it
        context = {
            'message': (f'Exception in callback '
                        f'{aio_format_callback_source(self._callback, self._args)}'),
            'exception': exc,
            'handle': self,
        }
        if self._source_traceback:
            context['source_traceback'] = self._source_traceback
        self._loop.call_exception_handler(context)

    def cancel(self):
        if self._cancelled:
            return
        self._cancelled = True
        if self._loop._debug:
            # Keep the callback's description for "Executing <Handle...> took" logs.
            self._repr = repr(self)
        self._callback = None
        self._args = None

    def cancelled(self):
        return self._cancelled

    def get_context(self):
        if self._untracked & _UNTRACKED_CONTEXT:
            # It leaves the Handle: back into the cyclic GC.
            PyObject_GC_Track(self._context)
            self._untracked &= ~_UNTRACKED_CONTEXT
        return self._context

    def _repr_info(self):
        info = [type(self).__name__]
        if self._cancelled:
            info.append('cancelled')
        if self._callback is not None:
            info.append(aio_format_callback_source(self._callback, self._args))
        if self._source_traceback:
            frame = self._source_traceback[-1]
            info.append(f'created at {frame[0]}:{frame[1]}')
        return info

    def __repr__(self):
        if self._repr is not None:
            return self._repr
        return '<{}>'.format(' '.join(self._repr_info()))


@cython.freelist(256)
cdef class TimerHandle(Handle):

    def __init__(self, when, callback, args, loop, context=None):
        Handle.__init__(self, callback, args, loop, context)
        self._when = when
        self._heap_index = -1

    def cancel(self):
        if not self._cancelled and self._heap_index >= 0:
            # Remove it from the heap at once, so a cancelled timer is freed now.
            self._loop._timers.remove(self)
        Handle.cancel(self)

    def when(self):
        return self._when

    def _repr_info(self):
        info = Handle._repr_info(self)
        info.insert(2 if self._cancelled else 1, f'when={self._when}')
        return info

    def __hash__(self):
        return hash(self._when)

    def __richcmp__(TimerHandle self, other, int op):
        cdef TimerHandle o
        if not isinstance(other, TimerHandle):
            return NotImplemented
        o = <TimerHandle>other
        if op == 0:
            return self._when < o._when
        if op == 4:
            return self._when > o._when
        equal = (self._when == o._when and self._callback == o._callback and
                 self._args == o._args and self._cancelled == o._cancelled)
        if op == 2:
            return equal
        if op == 3:
            return not equal
        if op == 1:
            return self._when < o._when or equal
        return self._when > o._when or equal
