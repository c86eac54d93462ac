# The memory behind a stream handle: the uv handle itself (what libuv sees) followed by
# what the allocation callback needs, so that it touches no Python object.
ctypedef union _UVStreamHandle:
    uv.uv_tcp_t tcp
    uv.uv_pipe_t pipe

ctypedef struct _StreamMemory:
    _UVStreamHandle handle
    char* recv_buffer         # the loop's receive buffer (Loop._recv_buffer)
    size_t recv_buffer_size
    bint protocol_buffered    # reads go to protocol.get_buffer() instead
    bint read_from_protocol   # this read's buffer came from the protocol


# A write request: the uv request and the Python object(s) whose memory it sends.
ctypedef struct _WriteRequest:
    uv.uv_write_t req
    PyObject* owner           # strong reference: bytes, or a list of bytes


cdef class UVStream(UVTransport):
    cdef:
        object _server                # Server that accepted this connection, or None
        bint _paused                  # pause_reading()
        bint _eof                     # write_eof()
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

    cdef _init_stream(self, Loop loop)
    cdef inline bint _is_reading(self):
        return not self._paused and not self._transport_closing
    cdef inline uv.uv_stream_t* _stream(self):
        return <uv.uv_stream_t*>self._handle

    cdef _get_protocol_buffer(self, uv.uv_buf_t* buf)
    cdef _release_read_view(self)
    cdef _on_read(self, ssize_t nread, const uv.uv_buf_t* buf)
    cdef _on_read_buffered(self, ssize_t nread)
    cdef _on_eof(self)
    cdef _on_data_received_error(self, exc)
    cdef _on_read_error(self, exc)

    cdef _write(self, data)
    cdef _writev(self, list buffers)
    cdef _queue_write(self, object owner, uv.uv_buf_t* bufs, unsigned int nbufs)
    cdef _on_drained(self)
    cdef _on_write_error(self, exc)
    cdef _shutdown(self)


cdef class UVSocketStream(UVStream):
    pass
