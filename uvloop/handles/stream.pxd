# The memory behind a stream handle: the uv handle itself (what libuv sees) followed by
# what the allocation callback needs, so that it runs without taking the GIL.
ctypedef union _UVStreamHandle:
    uv.uv_tcp_t tcp
    uv.uv_pipe_t pipe

ctypedef struct _StreamMemory:
    _UVStreamHandle handle
    char* recv_buffer         # the loop's receive buffer (Loop._recv_buffer)
    size_t recv_buffer_size
    bint protocol_buffered    # reads go to protocol.get_buffer() instead


# A write request: the uv request and the Python object(s) whose memory it sends.
ctypedef struct _WriteRequest:
    uv.uv_write_t req
    PyObject* owner           # strong reference: bytes, or a list of bytes


cdef class UVStream(UVHandle):
    # Two closes, on purpose: the C-level `close()` inherited from UVHandle closes the
    # libuv handle now (Loop.close() uses it); the Python-level `close()` defined here
    # is asyncio's Transport.close() (flush, then connection_lost). Cython code that
    # holds a UVStream (or subclass) reference gets the transport's; to close the uv
    # handle, call `UVHandle.close(stream)`.
    cdef:
        object __weakref__
        int _fd                       # libuv's descriptor (owned by libuv)

        object _protocol
        bint _protocol_connected
        bint _protocol_paused         # pause_writing() called, resume_writing() not yet
        object _context               # contextvars.Context of protocol callbacks
        object _server                # Server that accepted this connection, or None
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
        bint _paused                  # pause_reading()
        bint _eof                     # write_eof()
        Py_ssize_t _conn_lost         # connection_lost() scheduled (+ dropped writes)
        Py_ssize_t _high_water
        Py_ssize_t _low_water
        Py_ssize_t _write_requests    # uv_write requests whose callback is pending
        object _empty_waiter          # loop.sendfile(): waits for the queue to drain

        # BufferedProtocol: the buffer get_buffer() returned, held from the
        # allocation callback to the read callback.
        Py_buffer _read_view
        bint _read_view_held
        # No buffer for this read (libuv then reports UV_ENOBUFS), and why: the
        # get_buffer() error is handled in the read callback, because the allocation
        # callback must not stop reading (libuv would call a NULL read callback).
        bint _read_aborted
        object _get_buffer_error

    cdef _init_stream(self, Loop loop, size_t handle_size)
    cdef _open_fd(self, int fd)
    cdef _adopted(self)
    cdef _start(self, protocol, waiter, server, context)
    cdef _set_protocol(self, protocol)
    cdef inline bint _is_reading(self):
        return not self._paused and not self._transport_closing
    cdef _start_reading(self)
    cdef _stop_reading(self)
    cdef inline uv.uv_stream_t* _stream(self):
        return <uv.uv_stream_t*>self._handle
    cdef size_t _queued_bytes(self)

    cdef _drop_write(self)
    cdef _write(self, data)
    cdef _writev(self, list buffers)
    cdef _queue_write(self, object owner, uv.uv_buf_t* bufs, unsigned int nbufs)
    cdef _on_write_done(self, int status)
    cdef _maybe_pause_protocol(self)
    cdef _maybe_resume_protocol(self)
    cdef _shutdown(self)

    cdef _on_read(self, ssize_t nread, const uv.uv_buf_t* buf)
    cdef _on_read_buffered(self, ssize_t nread)
    cdef _get_protocol_buffer(self, uv.uv_buf_t* buf)
    cdef _release_read_view(self)
    cdef _on_eof(self)
    cdef _on_data_received_error(self, exc)
    cdef _on_read_error(self, exc)
    cdef _on_write_error(self, exc)
    cdef _on_drained(self)

    cdef _close_transport(self)
    cdef _force_close(self, exc)
    cdef _fatal_error(self, exc, str message)
    cdef _schedule_connection_lost(self, exc)
    cdef _release_file(self)
    cdef _forget_python_refs(self)
    cdef _call_protocol_method(self, method, arg, str failure_message)
    cdef _capture_addresses(self)
    cdef _get_transport_socket(self)
    cdef _register_fds(self)


cdef class UVStreamServer(UVHandle):
    # A listening uv_tcp_t or uv_pipe_t. Each accepted connection becomes a new
    # transport of the class given by `_new_client()`.
    cdef:
        object _server                # uvloop Server
        object _protocol_factory
        object _context
        int _fd

    cdef _init_server(self, Loop loop, size_t handle_size)
    cdef _listen(self, int fd, int backlog, server, protocol_factory, context)
    cdef int _open_listening_fd(self, int fd)
    cdef UVStream _new_client(self)
    cdef _on_connection(self, int status)
