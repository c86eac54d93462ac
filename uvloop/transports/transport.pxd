cdef class UVTransport(UVHandle):
    # close() is asyncio's Transport.close() (flush, then connection_lost), from
    # Python and Cython alike; it overrides UVHandle.close, so Loop.close() reaches it
    # too, and then (the loop is closed) it closes the handle at once. To close the uv
    # handle now, whatever the transport's state, call `UVHandle.close(transport)`.
    cdef:
        object __weakref__
        int _fd                       # libuv's descriptor (owned by libuv)

        object _protocol
        bint _protocol_connected
        bint _protocol_paused         # pause_writing() called, resume_writing() not yet
        object _context               # contextvars.Context of protocol callbacks
        dict _extra                   # extra info given at creation (e.g. 'pipe')

        # A Python socket or pipe object the transport owns: never libuv's fd (it is
        # the user's object, or a dup() made for get_extra_info('socket')); closed
        # after connection_lost().
        object _file
        object _transport_socket      # the TransportSocket handed out, or None
        _CapturedAddr _sockname
        _CapturedAddr _peername

        bint _transport_closing       # close() / abort() / a fatal error happened
        bint _connection_lost_scheduled  # at most once per transport
        Py_ssize_t _conn_lost         # connection_lost() scheduled (+ dropped writes)
        Py_ssize_t _high_water
        Py_ssize_t _low_water
        tuple _water_marks_given      # set_write_buffer_limits()'s (low, high)
        Py_ssize_t _requests          # write/send requests whose callback is pending

    cdef _open_fd(self, int fd)
    cdef _open_fd_or_close(self, int fd)
    cdef _open_file(self, fileobj)
    cdef _on_fd_opened(self)
    cdef _start(self, protocol, waiter, context)
    cdef _start_reading(self)
    cdef _stop_reading(self)
    cdef _set_protocol(self, protocol)
    cdef _call_protocol_method(self, method, str failure_message)

    cdef _drop_write(self)
    cdef size_t _queued_bytes(self)
    cdef _maybe_pause_protocol(self)
    cdef _maybe_resume_protocol(self)

    cpdef close(self)
    cdef _close_transport(self)
    # cpdef: asyncio's SSLProtocol calls it on the transport under it.
    cpdef _force_close(self, exc)
    cdef _on_request_done(self, int status)
    cdef bint _is_quiet_error(self, exc)
    cdef _fatal_error(self, exc, str message)
    cdef _schedule_connection_lost(self, exc)
    cdef _release_file(self)
    cdef _forget_python_refs(self)

    cdef _capture_addresses(self)
    cdef _get_transport_socket(self)
    cdef _register_fds(self)
