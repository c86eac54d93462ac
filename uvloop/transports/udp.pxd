# A queued datagram: the uv request and the bytes it sends.
ctypedef struct _SendRequest:
    uv.uv_udp_send_t req
    PyObject* owner               # strong reference to a bytes object


cdef class _DatagramReadWatch(UVHandle):
    cdef:
        int _fd                       # a dup() of the transport's socket, ours
        UDPTransport transport

    @staticmethod
    cdef _DatagramReadWatch new(UDPTransport transport)
    cdef _start(self)


cdef class UDPTransport(UVTransport):
    cdef:
        _DatagramReadWatch _read_watch   # while reading
        char* _recv_buffer               # the loop's (transport.pyx)
        object _address               # remote_addr given at creation, or None
        bint _connected               # a connected socket: no address per datagram
        int _family
        # One-entry caches of address conversions: a reply usually goes to (the very
        # tuple of) the address the request came from.
        sockaddr_storage _last_source
        socklen_t _last_source_length
        object _last_source_py
        sockaddr_storage _last_destination
        object _last_destination_py

    @staticmethod
    cdef UDPTransport new(Loop loop)
    cdef bint _destination(self, addr, sockaddr_storage* storage) except -1
    cdef _queue_send(self, data, const uv.uv_buf_t* buf, const sockaddr* dest)
    cdef _send_failed(self, exc)
    cdef _read_datagrams(self)
    cdef object _source_address(self, const sockaddr* addr, socklen_t length)
