# UVStream: a libuv stream handle (uv_tcp_t or uv_pipe_t) and the asyncio stream
# transport over it, written once for TCP, Unix sockets and pipes: reading (into the
# loop's buffer, or a buffered protocol's), writing (uv_try_write first, then queued
# uv_write requests), write_eof (uv_shutdown). The semantics are those of asyncio's
# _SelectorSocketTransport; the pipe transports (pipe.pyx) override the hooks where
# asyncio's pipe transports differ. What all transports share is in transport.pyx,
# and so are the life rules of the handle, its descriptor and the Python references.
#
# Needs: UVTransport and the receive buffer (transport.pyx), UVHandle
# (handles/handle.pyx), Server (net/server.pyx) for accepted connections (its
# _detach).
#
# Stream specifics:
# - A subclass's `new()` allocates the handle sized for _StreamMemory (the uv handle,
#   then what the allocation callback needs, so that it touches no Python object), runs
#   uv_<type>_init() and attaches it; `_open_fd()` (or uv_accept()) gives it its fd.
# - Each queued write and each shutdown is one malloc'ed request, freed in its
#   callback; a write request holds a reference to the bytes it sends.

from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE,
                             PyBUF_WRITABLE)
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_CheckExact,
                            PyBytes_FromStringAndSize, PyBytes_GET_SIZE)

import sys


cdef enum:
    # Buffers of writelines() that go on the stack; more take a heap array.
    WRITEV_STACK_BUFFERS = 16


cdef str _WRITE_EOF_ERROR = 'Cannot call write() after write_eof()'
# Python 3.12 gave writelines() its own messages; before, it called write().
cdef str _WRITELINES_EOF_ERROR = (
    'Cannot call writelines() after write_eof()' if sys.version_info >= (3, 12)
    else _WRITE_EOF_ERROR)
cdef str _WRITELINES_SENDFILE_ERROR = (
    'unable to writelines; sendfile is in progress' if sys.version_info >= (3, 12)
    else 'unable to write; sendfile is in progress')


cdef void _on_stream_alloc(uv.uv_handle_t* handle, size_t suggested_size,
                           uv.uv_buf_t* buf) noexcept:
    cdef _StreamMemory* memory = <_StreamMemory*>handle
    memory.read_from_protocol = memory.protocol_buffered
    if memory.protocol_buffered:
        _alloc_from_protocol(handle, buf)
        return
    buf.base = memory.recv_buffer
    buf.len = memory.recv_buffer_size


cdef void _alloc_from_protocol(uv.uv_handle_t* handle,
                               uv.uv_buf_t* buf) noexcept:
    cdef UVStream stream = <UVStream>handle.data
    buf.base = NULL
    buf.len = 0
    context = stream._context
    PyContext_Enter(context)
    try:
        stream._get_protocol_buffer(buf)
    except BaseException as exc:
        stream._loop._handle_callback_error(exc, stream)
    finally:
        PyContext_Exit(context)


cdef void _on_stream_read(uv.uv_stream_t* handle, ssize_t nread,
                          const uv.uv_buf_t* buf) noexcept:
    # libuv ends each burst of reads with nread == 0 (EAGAIN): with the loop's
    # buffer there is nothing to do.
    if nread == 0 and not (<_StreamMemory*>handle).read_from_protocol:
        return
    cdef UVStream stream = <UVStream>handle.data
    context = stream._context
    PyContext_Enter(context)
    try:
        if (<_StreamMemory*>handle).read_from_protocol:
            stream._on_read_buffered(nread)
        else:
            stream._on_read(nread, buf)
    except BaseException as exc:
        stream._loop._handle_callback_error(exc, stream)
    finally:
        PyContext_Exit(context)


cdef void _on_stream_write(uv.uv_write_t* req, int status) noexcept:
    _complete_request(<UVTransport>req.handle.data, req,
                      (<_WriteRequest*>req).owner, status)


cdef void _on_stream_shutdown(uv.uv_shutdown_t* req, int status) noexcept:
    cdef UVStream stream = <UVStream>req.handle.data
    PyMem_RawFree(req)
    if UVLOOP_DEBUG:
        uvloop_count(UVLOOP_REQUESTS_LIVE, -1)
    if status >= 0 or status == uv.UV_ECANCELED or stream._context is None:
        return
    context = stream._context
    PyContext_Enter(context)
    try:
        if not stream._connection_lost_scheduled:
            stream._on_write_error(convert_error(status))
    except BaseException as exc:
        stream._loop._handle_callback_error(exc, stream)
    finally:
        PyContext_Exit(context)


cdef class UVStream(UVTransport):

    cdef _init_stream(self, Loop loop):
        """Allocate the handle memory (room for a uv_tcp_t or a uv_pipe_t); the
        subclass then runs uv_<type>_init()."""
        cdef _StreamMemory* memory
        self._alloc(loop, sizeof(_StreamMemory))
        memory = <_StreamMemory*>self._handle
        memory.recv_buffer = _loop_recv_buffer(loop)
        memory.recv_buffer_size = RECV_BUFFER_SIZE

    cdef _set_protocol(self, protocol):
        UVTransport._set_protocol(self, protocol)
        if self._handle is not NULL:
            # Duck typing, as upstream uvloop (asyncio wants the subclass).
            (<_StreamMemory*>self._handle).protocol_buffered = (
                hasattr(protocol, 'get_buffer') and
                hasattr(protocol, 'buffer_updated'))

    cdef _forget_python_refs(self):
        server = self._server
        empty_waiter = self._empty_waiter
        self._server = None
        self._empty_waiter = None
        UVTransport._forget_python_refs(self)
        if server is not None:
            server._detach(self)
        if empty_waiter is not None and not empty_waiter.done():
            empty_waiter.set_exception(
                ConnectionError("Connection is closed by peer"))

    cdef _on_closed(self):
        self._release_read_view()
        UVTransport._on_closed(self)

    # ----- reading ----------------------------------------------------------------

    def is_reading(self):
        return self._is_reading()

    def pause_reading(self):
        if not self._is_reading():
            return
        self._paused = True
        self._stop_reading()
        if self._loop._debug:
            aio_logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self._transport_closing or not self._paused:
            return
        self._paused = False
        self._start_reading()
        if self._loop._debug:
            aio_logger.debug("%r resumes reading", self)

    cdef _start_reading(self):
        if not self._is_reading() or not self.is_open():
            return
        err = uv.uv_read_start(self._stream(), _on_stream_alloc, _on_stream_read)
        if err < 0 and err != uv.UV_EALREADY:
            self._on_read_error(convert_error(err))

    cdef _stop_reading(self):
        if self.is_open():
            uv.uv_read_stop(self._stream())

    cdef _get_protocol_buffer(self, uv.uv_buf_t* buf):
        # BufferedProtocol: libuv reads straight into the protocol's buffer.
        if self._connection_lost_scheduled:
            self._read_aborted = True
            return
        try:
            buffer = self._protocol.get_buffer(-1)
            PyObject_GetBuffer(buffer, &self._read_view, PyBUF_WRITABLE)
            self._read_view_held = True
            if self._read_view.len == 0:
                raise RuntimeError('get_buffer() returned an empty buffer')
        except (SystemExit, KeyboardInterrupt):
            self._release_read_view()
            self._read_aborted = True
            raise
        except BaseException as exc:
            self._release_read_view()
            self._read_aborted = True
            self._get_buffer_error = exc
            return
        buf.base = <char*>self._read_view.buf
        buf.len = self._read_view.len

    cdef _release_read_view(self):
        if self._read_view_held:
            self._read_view_held = False
            PyBuffer_Release(&self._read_view)

    cdef _on_read(self, ssize_t nread, const uv.uv_buf_t* buf):
        if nread > 0:
            data = PyBytes_FromStringAndSize(buf.base, nread)
            try:
                self._protocol.data_received(data)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._on_data_received_error(exc)
        elif nread == uv.UV_EOF:
            self._on_eof()
        elif nread < 0:
            self._on_read_error(convert_error(nread))

    cdef _on_read_buffered(self, ssize_t nread):
        self._release_read_view()
        if self._read_aborted:
            # No buffer was given for this read: libuv says UV_ENOBUFS.
            self._read_aborted = False
            exc = self._get_buffer_error
            if exc is not None:
                self._get_buffer_error = None
                self._fatal_error(exc,
                                  'Fatal error: protocol.get_buffer() call failed.')
            return
        if nread > 0:
            try:
                self._protocol.buffer_updated(nread)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(
                    exc, 'Fatal error: protocol.buffer_updated() call failed.')
        elif nread == uv.UV_EOF:
            self._on_eof()
        elif nread < 0:
            self._on_read_error(convert_error(nread))

    cdef _on_eof(self):
        # libuv stopped reading already. The protocol decides: keep the connection
        # half-open (to go on writing), or close it.
        if self._loop._debug:
            aio_logger.debug("%r received EOF", self)
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.eof_received() call failed.')
            return
        if not keep_open:
            self._close_transport()

    cdef _on_data_received_error(self, exc):
        self._fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')

    cdef _on_read_error(self, exc):
        self._fatal_error(exc, 'Fatal read error on socket transport')

    # ----- writing ----------------------------------------------------------------

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if self._eof:
            raise RuntimeError(_WRITE_EOF_ERROR)
        if self._empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        if not data:
            return
        if self._conn_lost or not self.is_open():
            self._drop_write()
            return
        self._write(data)

    def writelines(self, list_of_data):
        if self._eof:
            raise RuntimeError(_WRITELINES_EOF_ERROR)
        if self._empty_waiter is not None:
            raise RuntimeError(_WRITELINES_SENDFILE_ERROR)
        buffers = []
        for data in list_of_data:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f'data argument must be a bytes-like object, '
                                f'not {type(data).__name__!r}')
            if data:
                # Queued data must not change under us: copy what is mutable.
                buffers.append(data if PyBytes_CheckExact(data) else bytes(data))
        if not buffers:
            return
        if self._conn_lost or not self.is_open():
            self._drop_write()
            return
        self._writev(buffers)

    cdef size_t _queued_bytes(self):
        if not self.is_open():
            return 0
        return self._stream().write_queue_size

    cdef _write(self, data):
        """Send `data` now as far as the kernel takes it; queue the rest."""
        cdef Py_buffer view
        cdef uv.uv_buf_t buf
        cdef int written = 0
        cdef bint is_bytes = PyBytes_CheckExact(data)
        if is_bytes:
            buf.base = PyBytes_AS_STRING(data)
            buf.len = PyBytes_GET_SIZE(data)
        else:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            buf.base = <char*>view.buf
            buf.len = view.len
        try:
            if self._stream().write_queue_size == 0:
                written = uv.uv_try_write(self._stream(), &buf, 1)
                if written >= 0 and <size_t>written == buf.len:
                    return
                if written < 0:
                    if written != uv.UV_EAGAIN:
                        self._on_write_error(convert_error(written))
                        return
                    written = 0
            if is_bytes:
                owner = data
                buf.base += written
                buf.len -= written
            else:
                # asyncio copies what it buffers: a bytearray may change later.
                owner = PyBytes_FromStringAndSize(buf.base + written,
                                                  buf.len - written)
                buf.base = PyBytes_AS_STRING(owner)
                buf.len = PyBytes_GET_SIZE(owner)
            self._queue_write(owner, &buf, 1)
        finally:
            if not is_bytes:
                PyBuffer_Release(&view)
        self._maybe_pause_protocol()

    cdef _writev(self, list buffers):
        """write() for many bytes objects at once (one writev, one request)."""
        cdef uv.uv_buf_t stack_bufs[WRITEV_STACK_BUFFERS]
        cdef uv.uv_buf_t* bufs = stack_bufs
        cdef Py_ssize_t nbufs = len(buffers)
        cdef Py_ssize_t i, first = 0
        cdef int written = 0
        if nbufs > WRITEV_STACK_BUFFERS:
            bufs = <uv.uv_buf_t*>PyMem_RawMalloc(nbufs * sizeof(uv.uv_buf_t))
            if bufs is NULL:
                raise MemoryError()
        try:
            for i in range(nbufs):
                data = buffers[i]
                bufs[i].base = PyBytes_AS_STRING(data)
                bufs[i].len = PyBytes_GET_SIZE(data)
            if self._stream().write_queue_size == 0:
                written = uv.uv_try_write(self._stream(), bufs, <unsigned int>nbufs)
                if written < 0:
                    if written != uv.UV_EAGAIN:
                        self._on_write_error(convert_error(written))
                        return
                    written = 0
                while first < nbufs and <size_t>written >= bufs[first].len:
                    written -= bufs[first].len
                    first += 1
                if first == nbufs:
                    return
                bufs[first].base += written
                bufs[first].len -= written
            self._queue_write(buffers, bufs + first, <unsigned int>(nbufs - first))
        finally:
            if bufs is not stack_bufs:
                PyMem_RawFree(bufs)
        self._maybe_pause_protocol()

    cdef _queue_write(self, object owner, uv.uv_buf_t* bufs, unsigned int nbufs):
        cdef _WriteRequest* request = <_WriteRequest*>PyMem_RawMalloc(
            sizeof(_WriteRequest))
        if request is NULL:
            raise MemoryError()
        err = uv.uv_write(&request.req, self._stream(), bufs, nbufs, _on_stream_write)
        if err < 0:
            PyMem_RawFree(request)
            self._on_write_error(convert_error(err))
            return
        _track_request(self, &request.owner, owner)

    cdef _on_request_done(self, int status):
        if status < 0:
            if status == uv.UV_ECANCELED or self._connection_lost_scheduled:
                return
            exc = convert_error(status)
            self._on_write_error(exc)
            if self._empty_waiter is not None and not self._empty_waiter.done():
                self._empty_waiter.set_exception(exc)
            return
        self._maybe_resume_protocol()
        if self._requests == 0:
            self._on_drained()

    cdef _on_drained(self):
        # The write queue just emptied.
        if self._empty_waiter is not None and not self._empty_waiter.done():
            self._empty_waiter.set_result(None)
        if self._transport_closing:
            # close() waited for this flush.
            self._schedule_connection_lost(None)

    cdef _on_write_error(self, exc):
        self._fatal_error(exc, 'Fatal write error on socket transport')

    def write_eof(self):
        if self._transport_closing or self._eof:
            return
        self._eof = True
        self._shutdown()

    def can_write_eof(self):
        return True

    cdef _shutdown(self):
        # libuv shuts the write side down once the queued writes are out.
        cdef uv.uv_shutdown_t* req
        if not self.is_open():
            return
        req = <uv.uv_shutdown_t*>PyMem_RawMalloc(sizeof(uv.uv_shutdown_t))
        if req is NULL:
            raise MemoryError()
        err = uv.uv_shutdown(req, self._stream(), _on_stream_shutdown)
        if err < 0:
            PyMem_RawFree(req)
            raise convert_error(err)
        if UVLOOP_DEBUG:
            uvloop_count(UVLOOP_REQUESTS_LIVE, 1)

    # ----- sendfile support -------------------------------------------------------

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop.create_future()
        if self._requests == 0:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None


cdef class UVSocketStream(UVStream):
    """A stream over a socket (TCP or Unix): its addresses are known, its fds are
    refused by add_reader(), and loop.sendfile() may use the kernel's sendfile()."""

    cdef _on_fd_opened(self):
        UVStream._on_fd_opened(self)
        self._capture_addresses()
        self._register_fds()

    @property
    def _sendfile_compatible(self):
        return aio_SendfileMode.TRY_NATIVE

    @property
    def _start_tls_compatible(self):
        return True
