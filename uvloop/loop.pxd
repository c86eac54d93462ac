# The table of contents of the extension module `uvloop.loop`: every cdef class and its
# fields. The handle and transport .pyx files are included into loop.pyx.

from libc.stdint cimport uint64_t, int64_t
from posix.types cimport gid_t
from cpython.object cimport PyObject

from .includes cimport uv
from .includes.python cimport PyThread_type_lock
from .includes.spawn cimport uvloop_spawn_plan, uvloop_spawn_report
from .includes.system cimport sockaddr, sockaddr_storage, socklen_t


cdef class Loop
cdef class ChildPlan


include "callbacks.pxd"
include "handles/handle.pxd"
include "handles/timer.pxd"
include "handles/async_.pxd"
include "handles/poll.pxd"
include "handles/process.pxd"
include "handles/fs_event.pxd"
include "timers.pxd"
include "fd_watches.pxd"
include "signals.pxd"
include "spawn/plan.pxd"
include "net/sockaddr.pxd"
include "transports/transport.pxd"
include "transports/stream.pxd"
include "transports/tcp.pxd"
include "transports/unix.pxd"
include "transports/pipe.pxd"
include "transports/udp.pxd"
include "net/listener.pxd"
include "net/tls.pxd"


cdef class Loop:
    cdef:
        uv.uv_loop_t* uvloop
        bint _closed
        readonly bint _debug
        bint _stopping
        object _thread_id
        object __weakref__

        # The ready queue: a list consumed from `_ready_head` (cheaper than a deque
        # from Cython), compacted when drained.
        list _ready
        Py_ssize_t _ready_head

        TimerQueue _timers

        # call_soon_threadsafe: other threads append under the GIL, or without one
        # under `_threadsafe_lock` (a C lock), and wake the loop with
        # `_wakeup_async`; the loop thread swaps the list out after uv_run().
        PyThread_type_lock _threadsafe_lock
        list _threadsafe_queue
        int _threadsafe_pending
        bint _threadsafe_closed
        UVAsync _wakeup_async

        # When the loop last let other threads run (a bytecode run, so that the
        # interpreter can hand the GIL over), in libuv's ms, and how often it must at
        # least (sys.getswitchinterval()).
        uint64_t _gil_handed_over_at
        uint64_t _switch_interval_ms

        FdWatches _fd_watches
        # fd -> transport, so add_reader refuses fds that a transport owns.
        object _transports
        # Where every stream and datagram read lands (transports/transport.pyx).
        bytearray _recv_buffer
        # TLS transports written to during this iteration: their writes are encrypted
        # together at its end (net/tls.pyx).
        list _tls_flushes

        # Every open UVHandle: the loop owns them until their close callback ran.
        set _handles

        # A BaseException (KeyboardInterrupt, SystemExit) raised inside a libuv
        # callback: re-raised by the loop once uv_run() returned.
        object _pending_exception

        public double slow_callback_duration
        readonly object _current_handle
        object _exception_handler
        object _task_factory
        dict _future_kwargs           # {'loop': self}, for create_future()
        object _default_executor
        bint _executor_shutdown_called
        object _asyncgens
        bint _asyncgens_shutdown_called
        bint _coroutine_origin_tracking_enabled
        object _coroutine_origin_tracking_saved_depth

        SignalHandlers _signals
        bint _signals_arrived         # the signal wakeup fd was readable this uv_run()

        # The process being spawned by this loop, while uv_spawn() runs: a spawn
        # started while it is set is re-entrant (see handles/process.pyx).
        readonly UVProcess active_process_handler

    cdef inline _check_closed(self)
    cdef _check_thread(self)
    cdef inline _append_ready(self, Handle handle)
    cdef Handle _call_soon(self, callback, tuple args, context)
    cdef inline TimerHandle _call_at(self, double when, callback, tuple args, context)
    cdef _run_once(self)
    cdef inline _let_other_threads_run(self)
    cdef _run_ready(self)
    cdef _run_handle_debug(self, Handle handle)
    cdef inline _lock_threadsafe_queue(self)
    cdef inline _unlock_threadsafe_queue(self)
    cdef _drain_threadsafe_queue(self)
    cdef _handle_callback_error(self, exc, source)


    cdef tuple _checked_watch(self, fd, callback, tuple args, str method)

    cdef _close_handles(self)
