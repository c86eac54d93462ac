# TLS over our stream transports: the protocol that sits on the stream (TLSProtocol,
# net/tls.pyx) and the transport the app protocol sees (TLSTransport,
# net/tls_transport.pyx).

cdef enum TLSState:
    TLS_UNWRAPPED   # before connection_made, and after the end (or a failure)
    TLS_HANDSHAKE
    TLS_WRAPPED     # application data flows both ways
    TLS_FLUSHING    # close() asked: the app's batched writes go out first
    TLS_SHUTDOWN    # our close_notify is out: waiting for the peer's


cdef class TLSProtocol:
    cdef:
        Loop _loop
        UVStream _transport           # the stream under us, once connection_made ran
        TLSTransport _app_transport
        object _app_protocol
        bint _app_buffered            # the app protocol has get_buffer/buffer_updated
        bint _app_connected           # app connection_made done, connection_lost not yet
        bint _app_eof_delivered
        object _waiter                # set when the handshake ends
        TLSState _state
        dict _extra

        object _sslobj                # ssl.SSLObject, handed out as 'ssl_object'
        object _tls                   # its C object (_ssl._SSLSocket): the hot calls
        object _tls_read              # bound methods of the hot calls
        object _tls_write
        object _incoming_write
        object _outgoing_read
        object _incoming              # ssl.MemoryBIO: ciphertext from the peer
        object _outgoing              # ssl.MemoryBIO: ciphertext for the peer
        object _plain_view            # memoryview of the loop's receive buffer

        double _handshake_timeout
        double _shutdown_timeout
        double _handshake_started    # loop time, in debug mode
        object _timeout_handle        # the handshake's or the shutdown's TimerHandle

        # Reading. Plaintext decrypted while the app cannot take it (paused, or
        # start_tls() has not returned yet) waits in `_held`.
        bint _app_reading_paused
        bint _delivery_held
        object _delivery_handle       # a scheduled _deliver(), or None
        list _held
        Py_ssize_t _held_size
        bint _close_notify_received
        bint _input_drained           # the last _decrypt() left nothing to decrypt
        bint _eof_received            # the stream under us reached EOF
        bint _transport_reading_paused
        Py_ssize_t _read_high_water
        Py_ssize_t _read_low_water

        # Writing: the app's writes of one loop iteration, encrypted together at the
        # end of it (Loop._tls_flushes) or once they add up to a record's worth.
        list _backlog
        Py_ssize_t _backlog_size
        bint _flush_scheduled
        bint _write_wants_read        # SSL_write waits for the peer (renegotiation)
        bint _app_writing_paused
        Py_ssize_t _conn_lost         # writes dropped after the close

    cdef _call_app_flow_control(self, method, str message)
    cdef _start_handshake(self)
    cdef _do_handshake(self)
    cdef _on_handshake_complete(self, exc)
    cdef _wake_waiter(self, exc)
    cdef _process_incoming(self)
    cdef _on_incoming(self)
    cdef _deliver(self)
    cdef bint _can_deliver(self)
    cdef Py_ssize_t _decrypt(self, list chunks, Py_ssize_t limit) except -1
    cdef _flush_backlog_then_close(self)
    cdef _deliver_held(self)
    cdef _deliver_buffered(self)
    cdef _deliver_data(self, data)
    cdef _on_close_notify(self)
    cdef _deliver_eof(self)
    cdef _read_into_void(self)
    cdef _control_transport_reading(self)
    cdef _schedule_delivery(self)
    cdef _release_delivery(self)

    cdef _write_appdata(self, data)
    cdef _schedule_flush(self)
    cdef _run_flush(self)
    cdef _flush(self)
    cdef _encrypt_backlog(self)
    cdef _flush_outgoing(self)
    cdef Py_ssize_t _write_buffer_size(self)
    cdef _set_write_buffer_limits(self, high, low)
    cdef _pause_app_reading(self)
    cdef _resume_app_reading(self)
    cdef _set_read_buffer_limits(self, high, low)

    cdef _start_shutdown(self)
    cdef _do_shutdown(self)
    cdef _on_shutdown_complete(self, exc)
    cdef _abort(self, exc)
    cdef _fatal_error(self, exc, str message)
    cdef _cancel_timeout(self)
    cdef _set_app_protocol(self, protocol)
    cdef _get_extra_info(self, name, default)


cdef class TLSTransport:
    cdef:
        TLSProtocol _protocol
        bint _closed
        object __weakref__
