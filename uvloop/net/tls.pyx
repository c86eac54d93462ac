# TLSProtocol: TLS as a protocol layered on one of our stream transports (TCP or Unix),
# between it and the app's protocol, which gets a TLSTransport (net/tls_transport.pyx).
# Ciphertext goes through an ssl.SSLObject over two ssl.MemoryBIOs; there is no second
# socket path. The semantics are asyncio's (Lib/asyncio/sslproto.py) except where
# asyncio loses or misroutes data (see the README's TLS section).
#
# Needs: UVStream (transports/stream.pyx), TLSTransport (net/tls_transport.pyx), the
# loop's receive buffer (transports/transport.pyx), Loop._tls_flushes (loop.pyx runs
# _flush_tls_writes() at the end of every iteration), asyncio's TLS constants
# (asyncio_compat.pyx).
#
# States (tls.pxd): UNWRAPPED -> HANDSHAKE -> WRAPPED -> FLUSHING -> SHUTDOWN ->
# UNWRAPPED; any state -> UNWRAPPED on an error or a lost connection.
#
# Rules:
# - Reading: ciphertext from the stream goes into the incoming BIO and is decrypted at
#   once. Plaintext goes to the app when it can take it; else (reading paused, or
#   start_tls() has not returned the new transport yet) it waits in `_held`, and the
#   stream is paused once the incoming BIO and `_held` reach the read high-water mark.
#   The end of the input (the peer's close_notify, or EOF without one) reaches the app
#   as eof_received() once every byte before it has, even while reading is paused.
#   Nothing reaches the app after close().
# - Writing: the app's writes of one loop iteration wait in `_backlog` and are
#   encrypted together at the end of the iteration (or as soon as they add up to
#   FLUSH_THRESHOLD): many small writes make few records and one write to the stream.
#   abort() sends the backlog first, as far as the socket takes it at once.
#   The stream's water marks are the app's, so the stream's pause_writing() and
#   resume_writing() are the app's.
# - Closing: close() flushes the backlog, sends close_notify and waits for the peer's
#   (the shutdown timeout bounds the wait), then closes the stream. Bytes after the
#   peer's close_notify, and application data after ours, are an SSLError
#   (APPLICATION_DATA_AFTER_CLOSE_NOTIFY) given to connection_lost().
# - Every callback of the app protocol runs in the stream's context.
# - The hot calls go to the SSLObject's C object (`ssl.SSLObject._sslobj`, the same on
#   CPython 3.11 to 3.13): SSLObject's methods are Python wrappers around it. Their
#   bound methods are kept, so a call costs no attribute lookup.
# - What this layer uses of the stream beyond the transport API (stream.pxd):
#   `_context` (its callbacks' context), `_protocol_paused`, `_queued_bytes()`, and
#   `_write()`/`_drop_write()` (write() without the checks that cannot fail here).

from cpython.bytes cimport PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.buffer cimport PyBUF_WRITE

import asyncio
import ssl as ssl_module

cdef object CancelledError = asyncio.CancelledError
cdef object SSLError = ssl_module.SSLError
cdef object SSLWantReadError = ssl_module.SSLWantReadError
cdef object SSLSyscallError = ssl_module.SSLSyscallError
cdef object CertificateError = ssl_module.CertificateError
cdef object MemoryBIO = ssl_module.MemoryBIO


cdef enum:
    # Batched writes are encrypted without waiting for the end of the iteration once
    # this much waits: four full records, one write to the stream.
    FLUSH_THRESHOLD = 64 * 1024


cdef _application_data_after_close_notify():
    # The error OpenSSL raises for application data after our close_notify; we raise
    # the same for bytes after the peer's, which OpenSSL never reads.
    exc = SSLError(1, '[SSL: APPLICATION_DATA_AFTER_CLOSE_NOTIFY] '
                      'application data after close notify')
    exc.library = 'SSL'
    exc.reason = 'APPLICATION_DATA_AFTER_CLOSE_NOTIFY'
    return exc


cdef double _timeout_or_default(str name, value, default) except -1:
    if value is None:
        return default
    if value <= 0:
        raise ValueError(f'{name} should be a positive number, got {value}')
    return value


cdef TLSProtocol _new_tls_protocol(Loop loop, app_protocol, ssl, waiter,
                                   bint server_side, server_hostname,
                                   handshake_timeout, shutdown_timeout,
                                   bint call_connection_made=True):
    """The TLS layer for `app_protocol`; `ssl` is an SSLContext, or True for a
    default client context. With call_connection_made False (start_tls) the app
    protocol is connected already, and gets no data until _release_delivery()."""
    cdef TLSProtocol self = TLSProtocol.__new__(TLSProtocol)
    if isinstance(ssl, bool):
        if server_side:
            raise ValueError('Server side SSL needs a valid SSLContext')
        ssl = ssl_module.create_default_context()
        if not server_hostname:
            ssl.check_hostname = False
    self._handshake_timeout = _timeout_or_default(
        'ssl_handshake_timeout', handshake_timeout, aio_SSL_HANDSHAKE_TIMEOUT)
    self._shutdown_timeout = _timeout_or_default(
        'ssl_shutdown_timeout', shutdown_timeout, aio_SSL_SHUTDOWN_TIMEOUT)
    self._loop = loop
    self._extra = {'sslcontext': ssl}
    self._incoming = MemoryBIO()
    self._outgoing = MemoryBIO()
    self._sslobj = ssl.wrap_bio(
        self._incoming, self._outgoing, server_side=server_side,
        server_hostname=server_hostname if server_hostname and not server_side
        else None)
    self._tls = self._sslobj._sslobj
    self._tls_read = self._tls.read
    self._tls_write = self._tls.write
    self._incoming_write = self._incoming.write
    self._outgoing_read = self._outgoing.read
    self._plain_view = PyMemoryView_FromMemory(_loop_recv_buffer(loop),
                                               RECV_BUFFER_SIZE, PyBUF_WRITE)
    self._read_high_water, self._read_low_water = _flow_control_limits(
        None, None, aio_FLOW_CONTROL_HIGH_WATER_SSL_READ * 1024)
    self._held = []
    self._backlog = []
    self._app_connected = not call_connection_made
    self._delivery_held = not call_connection_made
    self._set_app_protocol(app_protocol)
    self._app_transport = TLSTransport.__new__(TLSTransport)
    self._app_transport._protocol = self
    self._waiter = waiter
    return self


cdef _flush_tls_writes(Loop loop):
    """The end of a loop iteration: encrypt and send what each TLS transport was
    given during it."""
    cdef TLSProtocol tls
    cdef list flushes
    cdef Py_ssize_t i
    # A flush may schedule another (a close_notify after the last data): it runs in
    # this pass too, or the loop could go to sleep with it pending.
    while loop._tls_flushes:
        flushes = loop._tls_flushes
        loop._tls_flushes = []
        for i in range(len(flushes)):
            tls = <TLSProtocol>flushes[i]
            try:
                tls._run_flush()
            except BaseException:
                # KeyboardInterrupt or SystemExit: the others still get their turn.
                loop._tls_flushes.extend(flushes[i + 1:])
                raise


cdef inline object _owned_bytes(data):
    """`data` if it is bytes (immutable), else a bytes copy of it."""
    return data if PyBytes_CheckExact(data) else bytes(data)


cdef class TLSProtocol:

    # ----- the stream's protocol --------------------------------------------------

    def connection_made(self, UVStream transport):
        self._transport = transport
        high, low = _flow_control_limits(
            None, None, aio_FLOW_CONTROL_HIGH_WATER_SSL_WRITE * 1024)
        transport.set_write_buffer_limits(high, low)
        self._start_handshake()

    def connection_lost(self, exc):
        self._backlog = []
        self._backlog_size = 0
        self._held = []
        self._held_size = 0
        self._outgoing.read()
        self._cancel_timeout()
        if self._delivery_handle is not None:
            self._delivery_handle.cancel()
            self._delivery_handle = None
        self._app_transport._closed = True
        self._state = TLS_UNWRAPPED
        if self._waiter is not None:
            # The handshake never completed.
            self._wake_waiter(exc if exc is not None else ConnectionResetError(
                'Connection lost during the TLS handshake'))
        if self._app_connected:
            self._app_connected = False
            app_protocol = self._app_protocol
            self._app_protocol = None
            app_protocol.connection_lost(exc)

    def data_received(self, data):
        self._incoming_write(data)
        self._process_incoming()

    def eof_received(self):
        # The stream stays open: this layer closes it once the app had everything.
        self._eof_received = True
        if self._loop._debug:
            aio_logger.debug("%r received EOF", self)
        if self._state == TLS_HANDSHAKE:
            self._on_handshake_complete(
                ConnectionResetError('Connection lost during the TLS handshake'))
        elif self._state == TLS_UNWRAPPED:
            self._transport.close()
        else:
            self._process_incoming()
        return True

    def pause_writing(self):
        if self._app_connected and not self._app_writing_paused:
            self._app_writing_paused = True
            self._call_app_flow_control(self._app_protocol.pause_writing,
                                        'protocol.pause_writing() failed')

    def resume_writing(self):
        if self._app_writing_paused:
            self._app_writing_paused = False
            self._call_app_flow_control(self._app_protocol.resume_writing,
                                        'protocol.resume_writing() failed')

    cdef _call_app_flow_control(self, method, str message):
        # A write() from any context can cross the water marks: the callback still
        # runs in the stream's context (unless that is the running one already).
        context = self._transport._context
        entered = _enter_context(context)
        try:
            method()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self._app_transport,
                'protocol': self,
            })
        finally:
            if entered:
                PyContext_Exit(context)

    # ----- handshake --------------------------------------------------------------

    cdef _start_handshake(self):
        if self._loop._debug:
            aio_logger.debug("%r starts SSL handshake", self)
            self._handshake_started = self._loop.time()
        self._state = TLS_HANDSHAKE
        self._timeout_handle = self._loop.call_later(
            self._handshake_timeout, self._check_handshake_timeout,
            context=self._transport._context)
        self._process_incoming()

    def _check_handshake_timeout(self):
        self._timeout_handle = None
        if self._state == TLS_HANDSHAKE:
            self._fatal_error(ConnectionAbortedError(
                f'SSL handshake is taking longer than {self._handshake_timeout} '
                f'seconds: aborting the connection'), 'SSL handshake failed')

    cdef _do_handshake(self):
        try:
            self._tls.do_handshake()
        except (SSLWantReadError, SSLSyscallError):
            self._flush_outgoing()
            return
        except SSLError as exc:
            # Our alert tells the peer why.
            self._flush_outgoing()
            self._on_handshake_complete(exc)
            return
        # Our last handshake flight goes out with the app's first writes, at the end
        # of this iteration.
        self._schedule_flush()
        self._on_handshake_complete(None)

    cdef _on_handshake_complete(self, exc):
        self._cancel_timeout()
        if exc is None:
            try:
                peercert = self._sslobj.getpeercert()
            except Exception as error:
                exc = error
        if exc is not None:
            self._state = TLS_UNWRAPPED
            if isinstance(exc, CertificateError):
                message = 'SSL handshake failed on verifying the certificate'
            else:
                message = 'SSL handshake failed'
            self._fatal_error(exc, message)
            self._wake_waiter(exc)
            return
        self._state = TLS_WRAPPED
        if self._loop._debug:
            aio_logger.debug("%r: SSL handshake took %.1f ms", self,
                             (self._loop.time() - self._handshake_started) * 1e3)
        sslobj = self._sslobj
        self._extra.update(peercert=peercert, cipher=sslobj.cipher(),
                           compression=sslobj.compression(), ssl_object=sslobj)
        if not self._app_connected:
            self._app_connected = True
            self._app_protocol.connection_made(self._app_transport)
        if self._transport._protocol_paused:
            self.pause_writing()
        self._wake_waiter(None)
        if self._backlog:
            self._schedule_flush()
        # Application data may have come with the peer's last handshake flight.
        self._on_incoming()

    cdef _wake_waiter(self, exc):
        waiter = self._waiter
        if waiter is None:
            return
        self._waiter = None
        if not waiter.cancelled():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    # ----- reading ----------------------------------------------------------------

    cdef _process_incoming(self):
        """Whatever the bytes in the incoming BIO mean in this state."""
        try:
            self._on_incoming()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error on SSL protocol')

    cdef _on_incoming(self):
        cdef TLSState state = self._state
        if state == TLS_HANDSHAKE:
            self._do_handshake()
        elif state == TLS_WRAPPED:
            self._deliver()
            if self._state == TLS_WRAPPED:
                # Our answers to the peer's records (and, right after the handshake,
                # our last flight) go out with the app's writes of this iteration.
                if self._outgoing.pending or (self._write_wants_read and
                                              self._backlog):
                    self._schedule_flush()
                self._control_transport_reading()
        elif state == TLS_FLUSHING:
            self._read_into_void()
            if self._write_wants_read:
                self._flush()
            else:
                self._flush_outgoing()
        elif state == TLS_SHUTDOWN:
            self._do_shutdown()

    cdef bint _can_deliver(self):
        return not self._app_reading_paused and not self._delivery_held

    cdef Py_ssize_t _decrypt(self, list chunks, Py_ssize_t limit) except -1:
        """Decrypt what the incoming BIO holds into bytes appended to `chunks`, until
        `limit` bytes are reached (a batch may pass it): how many. 0 when nothing can
        be decrypted now, or a close_notify came (`_close_notify_received`)."""
        cdef Py_ssize_t total = 0, batch, n, want
        cdef bint check_tls
        cdef char* base = _loop_recv_buffer(self._loop)
        tls = self._tls
        tls_read = self._tls_read
        incoming = self._incoming
        view = self._plain_view
        self._input_drained = False
        while total < limit and not self._close_notify_received:
            # A batch fills the loop's receive buffer, then becomes one bytes object.
            batch = 0
            check_tls = True
            while batch < RECV_BUFFER_SIZE:
                # Reading an empty BIO raises an exception, costly on small
                # messages: stop before, when nothing is left to decrypt. A read
                # shorter than asked took a whole record, so then OpenSSL holds no
                # plaintext and only the BIO needs a look.
                if not incoming.pending and not (check_tls and tls.pending()):
                    self._input_drained = True
                    break
                want = RECV_BUFFER_SIZE - batch
                try:
                    n = tls_read(want, view[batch:] if batch else view)
                except (SSLWantReadError, SSLSyscallError):
                    self._input_drained = True
                    break
                if n == 0:
                    self._close_notify_received = True
                    break
                batch += n
                check_tls = n == want
            if batch == 0:
                break
            chunks.append(PyBytes_FromStringAndSize(base, batch))
            total += batch
            if batch < RECV_BUFFER_SIZE:
                break
        return total

    cdef _deliver(self):
        """Plaintext to the app while it can take it, else into `_held`; then the
        end of the input if every byte before it was delivered."""
        cdef list chunks
        if self._can_deliver():
            if self._held:
                self._deliver_held()
            if self._app_buffered:
                self._deliver_buffered()
            else:
                chunks = []
                while self._state == TLS_WRAPPED and self._can_deliver():
                    if not self._decrypt(chunks, 1):
                        break
                    self._deliver_data(chunks.pop())
                    if self._input_drained:
                        break
        if self._state != TLS_WRAPPED:
            return
        if not self._can_deliver():
            while self._held_size < self._read_high_water:
                n = self._decrypt(self._held, self._read_high_water - self._held_size)
                if not n:
                    break
                self._held_size += n
        if self._held or self._delivery_held:
            return
        if self._incoming.pending and not self._close_notify_received:
            return
        if self._close_notify_received:
            self._on_close_notify()
        elif self._eof_received:
            # The peer closed without close_notify: a plain EOF, as asyncio reports it.
            self._deliver_eof()
            if self._state == TLS_WRAPPED:
                self._state = TLS_UNWRAPPED
                self._flush_backlog_then_close()

    cdef _flush_backlog_then_close(self):
        self._encrypt_backlog()
        self._flush_outgoing()
        self._transport.close()

    cdef _deliver_held(self):
        cdef Py_ssize_t offset = 0, size, n
        data = self._held[0] if len(self._held) == 1 else b''.join(self._held)
        self._held = []
        self._held_size = 0
        if not self._app_buffered:
            self._deliver_data(data)
            return
        size = len(data)
        while offset < size:
            if self._state != TLS_WRAPPED:
                return
            if not self._can_deliver():
                rest = data[offset:]
                self._held.append(rest)
                self._held_size = len(rest)
                return
            view = memoryview(self._app_protocol.get_buffer(size - offset))
            n = min(len(view), size - offset)
            if n == 0:
                raise RuntimeError('get_buffer() returned an empty buffer')
            view[:n] = data[offset:offset + n]
            offset += n
            self._app_protocol.buffer_updated(n)

    cdef _deliver_buffered(self):
        # Records are decrypted straight into the app's buffer.
        cdef Py_ssize_t size, filled, n
        tls = self._tls
        incoming = self._incoming
        while self._state == TLS_WRAPPED and self._can_deliver():
            if self._close_notify_received or (not incoming.pending and
                                               not tls.pending()):
                return
            view = memoryview(self._app_protocol.get_buffer(incoming.pending or -1))
            size = len(view)
            if size == 0:
                raise RuntimeError('get_buffer() returned an empty buffer')
            filled = 0
            while filled < size and (incoming.pending or tls.pending()):
                try:
                    n = tls.read(size - filled, view[filled:] if filled else view)
                except (SSLWantReadError, SSLSyscallError):
                    break
                if n == 0:
                    self._close_notify_received = True
                    break
                filled += n
            view.release()
            if not filled:
                return
            self._app_protocol.buffer_updated(filled)

    cdef _deliver_data(self, data):
        self._app_protocol.data_received(data)

    cdef _on_close_notify(self):
        # Every byte before the peer's close_notify was delivered.
        self._deliver_eof()
        self._start_shutdown()

    cdef _deliver_eof(self):
        if not self._app_connected or self._app_eof_delivered:
            return
        self._app_eof_delivered = True
        if self._loop._debug:
            aio_logger.debug("%r: the peer's end of the TLS stream", self)
        try:
            keep_open = self._app_protocol.eof_received()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Error calling eof_received()')
            return
        if keep_open:
            aio_logger.warning('returning true from eof_received() '
                               'has no effect when using ssl')

    cdef _read_into_void(self):
        # After close(): what the peer sent before it saw our close_notify is read and
        # dropped, so that the shutdown does not take it for data after close_notify.
        cdef list chunks = []
        while self._decrypt(chunks, RECV_BUFFER_SIZE):
            chunks.clear()

    cdef _control_transport_reading(self):
        cdef Py_ssize_t size = self._incoming.pending + self._held_size
        if size >= self._read_high_water:
            if not self._transport_reading_paused:
                self._transport_reading_paused = True
                self._transport.pause_reading()
        elif size <= self._read_low_water and self._transport_reading_paused:
            self._transport_reading_paused = False
            self._transport.resume_reading()

    cdef _schedule_delivery(self):
        if self._delivery_handle is None and self._state == TLS_WRAPPED:
            self._delivery_handle = self._loop._call_soon(
                self._run_delivery, (), self._transport._context)

    def _run_delivery(self):
        self._delivery_handle = None
        self._process_incoming()

    cdef _release_delivery(self):
        """start_tls() returned the new transport: data may flow to the app."""
        self._delivery_held = False
        self._schedule_delivery()

    cdef _pause_app_reading(self):
        self._app_reading_paused = True

    cdef _resume_app_reading(self):
        if self._app_reading_paused:
            self._app_reading_paused = False
            self._schedule_delivery()

    cdef _set_read_buffer_limits(self, high, low):
        self._read_high_water, self._read_low_water = _flow_control_limits(
            high, low, aio_FLOW_CONTROL_HIGH_WATER_SSL_READ * 1024)
        if self._transport is not None and self._state == TLS_WRAPPED:
            self._control_transport_reading()

    # ----- writing ----------------------------------------------------------------

    cdef _write_appdata(self, data):
        cdef TLSState state = self._state
        cdef Py_ssize_t size = len(data)
        if state != TLS_WRAPPED and state != TLS_HANDSHAKE:
            if self._conn_lost >= aio_LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                aio_logger.warning('SSL connection is closed')
            self._conn_lost += 1
            return
        try:
            if (size >= FLUSH_THRESHOLD and state == TLS_WRAPPED and
                    not self._backlog):
                # A large write is encrypted at once, without a copy.
                self._backlog.append(data)
                self._backlog_size = size
                self._flush()
                return
            # Batched data must not change under us: copy what is mutable.
            self._backlog.append(_owned_bytes(data))
            self._backlog_size += size
            if self._backlog_size >= FLUSH_THRESHOLD and state == TLS_WRAPPED:
                self._flush()
            else:
                self._schedule_flush()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error on SSL protocol')

    cdef _schedule_flush(self):
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop._tls_flushes.append(self)

    cdef _run_flush(self):
        # Loop._tls_flushes: the end of an iteration, outside any protocol callback.
        self._flush_scheduled = False
        if self._transport is None:
            return
        context = self._transport._context
        if context is None:
            return
        PyContext_Enter(context)
        try:
            self._flush()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error on SSL protocol')
        finally:
            PyContext_Exit(context)

    cdef _flush(self):
        """Encrypt the backlog; after close(), send close_notify behind it; send
        what the outgoing BIO holds."""
        cdef TLSState state = self._state
        if state == TLS_WRAPPED or state == TLS_FLUSHING:
            self._encrypt_backlog()
            if state == TLS_FLUSHING and not self._backlog:
                self._state = TLS_SHUTDOWN
                self._read_into_void()
                self._do_shutdown()
                return
        if state != TLS_UNWRAPPED:
            self._flush_outgoing()

    cdef _encrypt_backlog(self):
        cdef Py_ssize_t n
        if not self._backlog:
            return
        data = self._backlog[0] if len(self._backlog) == 1 else b''.join(self._backlog)
        try:
            n = self._tls_write(data)
        except SSLWantReadError:
            # TLS 1.2 renegotiation: the write waits for the peer's next records.
            self._backlog = [_owned_bytes(data)]
            self._write_wants_read = True
            return
        self._write_wants_read = False
        if n < len(data):
            # A large write came uncopied: what waits must not change with the
            # app's buffer.
            self._backlog = [_owned_bytes(data[n:])]
            self._backlog_size = len(data) - n
        else:
            self._backlog = []
            self._backlog_size = 0

    cdef _flush_outgoing(self):
        cdef UVStream stream = self._transport
        data = self._outgoing_read()
        if not data:
            return
        if stream._conn_lost or not stream.is_open():
            stream._drop_write()
        else:
            stream._write(data)

    cdef Py_ssize_t _write_buffer_size(self):
        if self._transport is None:
            return self._backlog_size
        return (self._backlog_size + self._outgoing.pending +
                self._transport._queued_bytes())

    cdef _set_write_buffer_limits(self, high, low):
        high, low = _flow_control_limits(
            high, low, aio_FLOW_CONTROL_HIGH_WATER_SSL_WRITE * 1024)
        self._transport.set_write_buffer_limits(high, low)

    # ----- closing ----------------------------------------------------------------

    cdef _start_shutdown(self):
        cdef TLSState state = self._state
        if state == TLS_FLUSHING or state == TLS_SHUTDOWN or state == TLS_UNWRAPPED:
            return
        self._app_transport._closed = True
        if state == TLS_HANDSHAKE:
            self._abort(None)
            return
        self._state = TLS_FLUSHING
        self._held = []
        self._held_size = 0
        self._timeout_handle = self._loop.call_later(
            self._shutdown_timeout, self._check_shutdown_timeout,
            context=self._transport._context)
        if self._transport_reading_paused:
            self._transport_reading_paused = False
            self._transport.resume_reading()
        # The backlog and close_notify go out together at the end of the iteration.
        self._schedule_flush()

    def _check_shutdown_timeout(self):
        self._timeout_handle = None
        if self._state == TLS_FLUSHING or self._state == TLS_SHUTDOWN:
            self._transport._force_close(TimeoutError('SSL shutdown timed out'))

    cdef _do_shutdown(self):
        if self._eof_received:
            # The peer closed its side: our close_notify would go nowhere (and a
            # write to a closed socket fails), nothing more will come.
            self._on_shutdown_complete(
                _application_data_after_close_notify()
                if self._close_notify_received and self._incoming.pending else None)
            return
        try:
            self._tls.shutdown()
        except (SSLWantReadError, SSLSyscallError):
            self._flush_outgoing()
            return
        except SSLError as exc:
            self._flush_outgoing()
            self._on_shutdown_complete(exc)
            return
        self._flush_outgoing()
        if self._incoming.pending:
            self._on_shutdown_complete(_application_data_after_close_notify())
        else:
            self._on_shutdown_complete(None)

    cdef _on_shutdown_complete(self, exc):
        self._cancel_timeout()
        if exc is not None:
            self._fatal_error(exc, 'Fatal error on SSL protocol')
        else:
            self._state = TLS_UNWRAPPED
            self._transport.close()

    cdef _abort(self, exc):
        if self._state == TLS_WRAPPED or self._state == TLS_FLUSHING:
            # As in asyncio, whose writes are sent at once: what the app wrote goes
            # to the stream, which sends what the socket takes now and drops the rest
            # as it closes.
            self._encrypt_backlog()
            self._flush_outgoing()
        self._state = TLS_UNWRAPPED
        self._backlog = []
        self._backlog_size = 0
        if self._transport is not None:
            self._transport._force_close(exc)

    cdef _fatal_error(self, exc, str message):
        self._state = TLS_UNWRAPPED
        if self._transport is not None:
            self._transport._force_close(exc)
        if isinstance(exc, OSError):
            if self._loop._debug:
                aio_logger.debug("%r: %s", self, message, exc_info=exc)
        elif not isinstance(exc, CancelledError):
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self._transport,
                'protocol': self,
            })

    cdef _cancel_timeout(self):
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
            self._timeout_handle = None

    # ----- what the app transport asks --------------------------------------------

    cdef _set_app_protocol(self, protocol):
        self._app_protocol = protocol
        # Duck-typed, as a buffered protocol is on our other transports.
        self._app_buffered = (hasattr(protocol, 'get_buffer') and
                              hasattr(protocol, 'buffer_updated'))

    cdef _get_extra_info(self, name, default):
        try:
            return self._extra[name]
        except KeyError:
            pass
        if self._transport is not None:
            return self._transport.get_extra_info(name, default)
        return default

    def __repr__(self):
        names = {TLS_UNWRAPPED: 'unwrapped', TLS_HANDSHAKE: 'handshake',
                 TLS_WRAPPED: 'wrapped', TLS_FLUSHING: 'flushing',
                 TLS_SHUTDOWN: 'shutdown'}
        return f'<TLSProtocol {names[self._state]} transport={self._transport!r}>'
