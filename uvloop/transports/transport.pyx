# UVTransport: what every transport over a libuv handle shares, written once for the
# stream transports (stream.pyx) and the datagram transport (udp.pyx): the protocol
# and the one context all its callbacks run in, whoever triggers them; closing
# (close, abort, fatal errors, connection_lost exactly once), write flow control at
# the water marks, and the extra info of sockets; and the loop's receive buffer,
# where every read lands.
#
# Needs: UVHandle (handles/handle.pyx), the socket addresses (net/sockaddr.pyx),
# _dup_fd (fds.pyx).
#
# Life rules, for every transport:
# - The subclass allocates and initialises its uv handle, then attaches it: the loop
#   holds the object (Loop._handles) until the handle's close callback ran.
# - libuv owns the file descriptor it was given and closes it with the handle. No
#   Python object wraps that descriptor: a user's socket or pipe is dup()ed for libuv
#   and kept in `_file`; get_extra_info('socket') wraps a dup() too. `_file` is closed
#   after connection_lost(), so neither side ever closes the other's descriptor.
# - The uv handle is closed in _call_connection_lost(), after protocol.connection_lost();
#   abort() closes it at once when requests are queued, to drop them; Loop.close()
#   closes whatever is still open. Python references are dropped in
#   _call_connection_lost(), or in _on_closed() if the loop closed the handle first.
# - `_requests` counts the subclass's write/send requests in flight; libuv runs their
#   callbacks (UV_ECANCELED at worst) before the handle's close callback.

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.ref cimport Py_INCREF, Py_XDECREF

import socket as socket_module


cdef enum:
    # Bytes per read() call (and above the largest UDP datagram). Measured on a
    # 100 KiB TCP echo: 256 KiB (asyncio's max_size) doubles the CPU per request
    # (the kernel's copy into a buffer that size is slow, likely cache-bound); 32
    # and 64 KiB cost more read calls; 128 KiB is the cheapest, from 1 KiB to 1 MiB.
    RECV_BUFFER_SIZE = 128 * 1024


cdef char* _loop_recv_buffer(Loop loop) except NULL:
    """The loop's receive buffer: every read of every stream and datagram handle of
    this loop lands here first (reads never overlap: they run on the loop thread).

    Its start is aligned to 64 bytes. A block this large is mmap()ed by malloc and
    starts 16 bytes into a page, and there the kernel's copy out of a pipe (read())
    runs at half speed on this project's machines (2x the CPU per MB)."""
    cdef size_t start
    if loop._recv_buffer is None:
        loop._recv_buffer = bytearray(RECV_BUFFER_SIZE + 64)
    start = <size_t>PyByteArray_AS_STRING(loop._recv_buffer)
    return <char*>((start + 63) & ~(<size_t>63))


cdef int _track_request(UVTransport transport, PyObject** slot, owner) except -1:
    """A write/send request was queued: it keeps `owner` (the bytes it sends)
    alive in `slot` until _complete_request()."""
    Py_INCREF(owner)
    slot[0] = <PyObject*>owner
    transport._requests += 1
    if UVLOOP_DEBUG:
        uvloop_count(UVLOOP_REQUESTS_LIVE, 1)
    return 0


cdef void _complete_request(UVTransport transport, void* request, PyObject* owner,
                            int status) noexcept:
    """The completion callback of every write/send request: free it, then tell the
    transport (unless its handle was closed under it: then nobody is listening)."""
    Py_XDECREF(owner)
    PyMem_RawFree(request)
    if UVLOOP_DEBUG:
        uvloop_count(UVLOOP_REQUESTS_LIVE, -1)
    transport._requests -= 1
    context = transport._context
    if context is None:
        return
    PyContext_Enter(context)
    try:
        transport._on_request_done(status)
    except BaseException as exc:
        transport._loop._handle_callback_error(exc, transport)
    finally:
        PyContext_Exit(context)


cdef Py_ssize_t _water_mark(limit) except -1:
    return PY_SSIZE_T_MAX if limit >= PY_SSIZE_T_MAX else int(limit)


cdef tuple _flow_control_limits(high, low, Py_ssize_t default_high):
    """asyncio's (high, low) water marks from the optional arguments."""
    if high is None:
        high = default_high if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f'high ({high!r}) must be >= low ({low!r}) must be >= 0')
    return high, low


cdef bint _enter_context(context) except -1:
    """Enter `context` for a protocol callback that a caller in any context
    triggered (write() crossing the high-water mark, a failed sendto()). False when
    it is entered already (the caller is one of the transport's own callbacks):
    then there is nothing to exit."""
    if context is None:
        return False
    try:
        PyContext_Enter(context)
    except RuntimeError:
        return False
    return True


cdef class UVTransport(UVHandle):

    def __cinit__(self):
        self._fd = -1
        self._high_water = 64 * 1024
        self._low_water = 16 * 1024

    cdef _open_fd(self, int fd):
        """Give libuv the descriptor `fd` (libuv owns it from now on, even when
        this raises)."""
        raise NotImplementedError

    cdef _open_fd_or_close(self, int fd):
        """_open_fd(); if that fails, the handle is closed and the error raised."""
        try:
            self._open_fd(fd)
        except BaseException:
            UVHandle.close(self)
            raise

    cdef _open_file(self, fileobj):
        """Give libuv a dup() of `fileobj`'s descriptor and keep `fileobj` (a socket or
        pipe object, closed after connection_lost()); if that fails, the handle is
        closed and the error raised."""
        self._file = fileobj
        try:
            self._open_fd(_dup_fd(fileobj.fileno()))
        except BaseException:
            self._file = None
            UVHandle.close(self)
            raise

    cdef _on_fd_opened(self):
        """libuv has the descriptor (opened or accepted): learn its number.
        Socket transports extend this (addresses, TCP_NODELAY, fd registry)."""
        cdef uv.uv_os_fd_t fd = -1
        uv.uv_fileno(self._handle, &fd)
        self._fd = fd

    cdef _start(self, protocol, waiter, context):
        """Make the transport live, as asyncio's transport constructors do: the
        protocol's connection_made() runs at the next iteration, reading starts
        right after it, then the waiter (if any) gets its result. Protocol
        callbacks run in `context` (default: a copy of the current one)."""
        cdef Loop loop = self._loop
        if context is None:
            context = PyContext_CopyCurrent()
        self._context = context
        self._set_protocol(protocol)
        loop._call_soon(protocol.connection_made, (self,), context)
        loop._call_soon(self._begin_reading, (), context)
        if waiter is not None:
            loop._call_soon(aio_set_result_unless_cancelled, (waiter, None), context)

    def _begin_reading(self):
        self._start_reading()

    cdef _start_reading(self):
        pass

    cdef _stop_reading(self):
        pass

    # ----- protocol ---------------------------------------------------------------

    cdef _set_protocol(self, protocol):
        self._protocol = protocol
        self._protocol_connected = True

    def set_protocol(self, protocol):
        self._set_protocol(protocol)

    def get_protocol(self):
        return self._protocol

    cdef _call_protocol_method(self, method, str failure_message):
        """Call pause_writing() or resume_writing(); a failure goes to the
        exception handler (asyncio's _FlowControlMixin)."""
        try:
            method()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                'message': failure_message,
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })

    # ----- writing: flow control -------------------------------------------------

    cdef _drop_write(self):
        if self._conn_lost >= aio_LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            aio_logger.warning('socket.send() raised exception.')
        self._conn_lost += 1

    cdef size_t _queued_bytes(self):
        return 0

    def get_write_buffer_size(self):
        return self._queued_bytes()

    def get_write_buffer_limits(self):
        if self._water_marks_given is not None:
            return self._water_marks_given
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high=None, low=None):
        high, low = _flow_control_limits(high, low, 64 * 1024)
        # asyncio keeps any numbers (2**64, 1e6); compared with a byte count they
        # act as their integer part, capped at the largest count there can be.
        self._water_marks_given = (low, high)
        self._high_water = _water_mark(high)
        self._low_water = _water_mark(low)
        self._maybe_pause_protocol()

    cdef _maybe_pause_protocol(self):
        if <Py_ssize_t>self._queued_bytes() <= self._high_water:
            return
        if not self._protocol_paused:
            self._protocol_paused = True
            # write() may come from any task; the protocol hears of it in its own
            # context.
            context = self._context
            entered = _enter_context(context)
            try:
                self._call_protocol_method(self._protocol.pause_writing,
                                           'protocol.pause_writing() failed')
            finally:
                if entered:
                    PyContext_Exit(context)

    # Called from write completions only, in the transport's context already.
    cdef _maybe_resume_protocol(self):
        if (self._protocol_paused and
                <Py_ssize_t>self._queued_bytes() <= self._low_water):
            self._protocol_paused = False
            self._call_protocol_method(self._protocol.resume_writing,
                                       'protocol.resume_writing() failed')

    # ----- closing ----------------------------------------------------------------

    def is_closing(self):
        return self._transport_closing

    cpdef close(self):
        """Stop reading; once the queued data is sent, call connection_lost(None)."""
        if self._loop._closed:
            # Loop.close() closes every handle: no flush, no protocol callback.
            UVHandle.close(self)
        else:
            self._close_transport()

    def abort(self):
        """Close at once: queued data is dropped."""
        self._force_close(None)

    cdef _close_transport(self):
        if self._transport_closing:
            return
        self._transport_closing = True
        self._stop_reading()
        if self._requests == 0:
            self._conn_lost += 1
            self._schedule_connection_lost(None)

    # cpdef: asyncio's SSLProtocol calls it on the transport under it.
    cpdef _force_close(self, exc):
        if self._connection_lost_scheduled:
            return
        if self._requests:
            # Drop the queued writes: closing the handle cancels them.
            UVHandle.close(self)
        if not self._transport_closing:
            self._transport_closing = True
            self._stop_reading()
        self._conn_lost += 1
        self._schedule_connection_lost(exc)

    cdef _on_request_done(self, int status):
        pass

    cdef bint _is_quiet_error(self, exc):
        """Errors that only close the transport (logged in debug mode); others also
        go to the exception handler. asyncio: every OSError, for sockets."""
        return isinstance(exc, OSError)

    cdef _fatal_error(self, exc, str message):
        if self._is_quiet_error(exc):
            if self._loop._debug:
                aio_logger.debug("%r: %s", self, message, exc_info=exc)
        else:
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        self._force_close(exc)

    cdef _schedule_connection_lost(self, exc):
        if self._connection_lost_scheduled:
            return
        self._connection_lost_scheduled = True
        self._loop._call_soon(self._call_connection_lost, (exc,), self._context)

    def _call_connection_lost(self, exc):
        try:
            if self._protocol_connected:
                self._protocol.connection_lost(exc)
        finally:
            UVHandle.close(self)
            self._release_file()
            self._forget_python_refs()

    cdef _release_file(self):
        f = self._file
        if f is not None:
            self._file = None
            f.close()

    cdef _forget_python_refs(self):
        self._protocol = None
        self._protocol_connected = False

    cdef _on_closed(self):
        # The handle is gone. If the loop closed it (Loop.close()) before the
        # transport was done, the protocol is not told (as with asyncio, whose
        # transports outlive a closed loop), but nothing is kept alive either.
        if not self._connection_lost_scheduled:
            self._connection_lost_scheduled = True
            self._transport_closing = True
            self._conn_lost += 1
            self._release_file()
            self._forget_python_refs()
        self._context = None

    # ----- extra info -------------------------------------------------------------

    def get_extra_info(self, name, default=None):
        if name == 'socket':
            return self._get_transport_socket()
        if name == 'sockname':
            return _captured_sockaddr_to_py(&self._sockname)
        if name == 'peername':
            return _captured_sockaddr_to_py(&self._peername)
        if self._extra is not None:
            return self._extra.get(name, default)
        return default

    cdef _capture_addresses(self):
        _capture_sockaddr(&self._sockname, self._fd, False)
        _capture_sockaddr(&self._peername, self._fd, True)

    cdef _get_transport_socket(self):
        # A socket object on a dup() of libuv's descriptor: whatever the user does
        # with it (even close it through dup()), libuv's fd stays valid.
        cdef int fd
        if self._transport_socket is not None:
            return self._transport_socket
        if self._file is None:
            if not self.is_open():
                return None
            fd = _dup_fd(self._fd)
            try:
                sock = socket_module.socket(fileno=fd)
            except BaseException:
                close(fd)
                raise
            # The descriptor is non-blocking already; tell the socket object.
            sock.setblocking(False)
            self._file = sock
            self._loop._transports[fd] = self
        self._transport_socket = aio_TransportSocket(self._file)
        return self._transport_socket

    cdef _register_fds(self):
        """Let add_reader() and friends refuse our descriptors, as asyncio does."""
        self._loop._transports[self._fd] = self
        if self._file is not None:
            self._loop._transports[self._file.fileno()] = self

    def __repr__(self):
        info = [type(self).__name__]
        if self._handle is NULL:
            info.append('closed')
        elif self._transport_closing:
            info.append('closing')
        info.append(f'fd={self._fd}')
        if self.is_open():
            info.append(f'bufsize={self._queued_bytes()}')
        return '<{}>'.format(' '.join(info))
