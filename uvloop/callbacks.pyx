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


cdef _new_context_or(context):
    if context is None:
        return PyContext_CopyCurrent()
    return context


@cython.freelist(256)
cdef class Handle:

    def __cinit__(self):
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_CB_HANDLES_LIVE, 1)

    def __dealloc__(self):
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_CB_HANDLES_LIVE, -1)

    def __init__(self, callback, args, loop, context=None):
        self._callback = callback
        self._args = tuple(args) if args is not None else ()
        self._loop = loop
        self._context = _new_context_or(context)
        if self._loop._debug:
            self._source_traceback = aio_extract_stack(sys_getframe(0))

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

    cdef _report_error(self, exc):
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
