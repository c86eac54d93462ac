# UDPTransport: a uv_udp_t and asyncio's datagram transport over it (the semantics of
# asyncio's _SelectorDatagramTransport): datagram_received / error_received,
# sendto() that tries to send at once and queues only what would block, flow
# control over the queued bytes, close() after the queue drained, abort().
#
# Needs: UVTransport and the receive buffer (transport.pyx), the address
# conversions (net/sockaddr.pyx).
#
# Life rules are those of every transport (transport.pyx): `new()` runs uv_udp_init()
# and attaches the handle; libuv owns the descriptor given to `_open_fd()` and closes
# it with the handle. Each queued datagram is one malloc'ed request holding a
# reference to its bytes, freed in its callback.
#
# Receiving is ours, not libuv's (whose receive path makes an address object and a
# buffer call per datagram): each time the socket is readable we read what is queued,
# up to DATAGRAMS_PER_WAKEUP datagrams, until EAGAIN. Reading only one per wake-up
# (as asyncio's selector transport does) saves that last system call when one
# datagram waits, but under load costs a loop iteration and an epoll_wait() per
# datagram: 1.4x the server CPU per datagram with the reference harness's 10 busy
# clients (6.55 us against 4.52). We watch a dup() of
# the socket (libuv's uv_udp_t watches the socket itself for its sends):
# `_DatagramReadWatch`, a uv_poll_t owned by its transport, closed with it.

from libc.string cimport memcmp, memcpy
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_CheckExact,
                            PyBytes_FromStringAndSize, PyBytes_GET_SIZE)

import sys

# As libuv's own UDP reads: enough to drain a busy socket's queue, bounded so that
# one socket cannot hold the loop.
cdef enum:
    DATAGRAMS_PER_WAKEUP = 32

# Python 3.13's asyncio sends empty datagrams; before, sendto(b'') did nothing.
cdef bint _SEND_EMPTY_DATAGRAMS = sys.version_info >= (3, 13)


cdef void _on_datagram_readable(uv.uv_poll_t* handle, int status,
                                int events) noexcept:
    cdef _DatagramReadWatch watch = <_DatagramReadWatch>handle.data
    cdef UDPTransport transport = watch.transport
    context = transport._context
    PyContext_Enter(context)
    try:
        transport._read_datagrams()
        if status < 0 and transport._read_watch is watch:
            # libuv stopped the watch on EPOLLERR (an ICMP error on a connected
            # socket); the read above took the error to error_received(). asyncio
            # reads on, so do we.
            watch._start()
    except BaseException as exc:
        transport._loop._handle_callback_error(exc, transport)
    finally:
        PyContext_Exit(context)


cdef class _DatagramReadWatch(UVHandle):
    """Readiness of a dup() of a UDPTransport's socket, for reading."""

    def __cinit__(self):
        self._fd = -1

    @staticmethod
    cdef _DatagramReadWatch new(UDPTransport transport):
        cdef _DatagramReadWatch watch = _DatagramReadWatch.__new__(_DatagramReadWatch)
        watch._alloc(transport._loop, sizeof(uv.uv_poll_t))
        try:
            watch._fd = _dup_fd(transport._fd)
        except BaseException:
            watch._free_unattached()
            raise
        err = uv.uv_poll_init(transport._loop.uvloop, <uv.uv_poll_t*>watch._handle,
                              watch._fd)
        if err < 0:
            close(watch._fd)
            watch._fd = -1
        watch._attach_or_raise(err)
        watch.transport = transport
        try:
            watch._start()
        except BaseException:
            watch.close()
            raise
        return watch

    cdef _start(self):
        err = uv.uv_poll_start(<uv.uv_poll_t*>self._handle, uv.UV_READABLE,
                               _on_datagram_readable)
        if err < 0:
            raise convert_error(err)

    cdef _on_closed(self):
        # uv_close() took the fd out of epoll: it is ours to close now.
        close(self._fd)
        self._fd = -1
        self.transport = None


cdef void _on_udp_send(uv.uv_udp_send_t* req, int status) noexcept:
    _complete_request(<UVTransport>req.handle.data, req,
                      (<_SendRequest*>req).owner, status)


cdef class UDPTransport(UVTransport):

    @staticmethod
    cdef UDPTransport new(Loop loop):
        cdef UDPTransport transport = UDPTransport.__new__(UDPTransport)
        transport._alloc(loop, sizeof(uv.uv_udp_t))
        transport._recv_buffer = _loop_recv_buffer(loop)
        transport._attach_or_raise(
            uv.uv_udp_init(loop.uvloop, <uv.uv_udp_t*>transport._handle))
        return transport

    cdef _open_fd(self, int fd):
        cdef int reuse = 0
        cdef socklen_t size = sizeof(reuse)
        # uv_udp_open() turns SO_REUSEADDR on; asyncio leaves the socket's options
        # alone (address reuse on UDP lets another process steal the port).
        getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, &size)
        err = uv.uv_udp_open(<uv.uv_udp_t*>self._handle, fd)
        if err < 0:
            close(fd)
            raise convert_error(err)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse))
        self._on_fd_opened()

    cdef _on_fd_opened(self):
        UVTransport._on_fd_opened(self)
        self._capture_addresses()
        self._connected = self._peername.valid
        self._family = self._sockname.storage.ss_family
        self._register_fds()

    # ----- receiving --------------------------------------------------------------

    cdef _start_reading(self):
        if self._transport_closing or not self.is_open() or \
                self._read_watch is not None:
            return
        try:
            self._read_watch = _DatagramReadWatch.new(self)
        except OSError as exc:
            self._fatal_error(exc, 'Fatal read error on datagram transport')

    cdef _stop_reading(self):
        watch = self._read_watch
        if watch is not None:
            self._read_watch = None
            UVHandle.close(<UVHandle>watch)

    cdef _read_datagrams(self):
        """The datagrams queued on the socket (at most DATAGRAMS_PER_WAKEUP), each to
        datagram_received(); an error to error_received() ends the batch."""
        cdef sockaddr_storage addr
        cdef socklen_t length
        cdef ssize_t nread
        cdef int i
        for i in range(DATAGRAMS_PER_WAKEUP):
            # The protocol may have closed the transport.
            if self._connection_lost_scheduled or self._read_watch is None:
                return
            addr.ss_family = AF_UNSPEC
            length = sizeof(addr)
            nread = recvfrom(self._fd, self._recv_buffer, RECV_BUFFER_SIZE, 0,
                             <sockaddr*>&addr, &length)
            if nread < 0:
                if errno == EAGAIN or errno == EWOULDBLOCK or errno == EINTR:
                    return
                self._protocol.error_received(OSError(errno, os_strerror(errno)))
                return
            self._protocol.datagram_received(
                PyBytes_FromStringAndSize(self._recv_buffer, nread),
                self._source_address(<sockaddr*>&addr, length))

    cdef object _source_address(self, const sockaddr* addr, socklen_t length):
        if length < sizeof(sa_family_t) or addr.sa_family == AF_UNSPEC:
            return None
        if (self._last_source_py is None or length != self._last_source_length or
                memcmp(addr, &self._last_source, length) != 0):
            self._last_source_py = _sockaddr_to_py(addr, length)
            memcpy(&self._last_source, addr, length)
            self._last_source_length = length
        return self._last_source_py

    # ----- sending ----------------------------------------------------------------

    cdef size_t _queued_bytes(self):
        if not self.is_open():
            return 0
        return uv.uv_udp_get_send_queue_size(<uv.uv_udp_t*>self._handle)

    def sendto(self, data, addr=None):
        """Send one datagram to addr (None on a connected endpoint)."""
        cdef sockaddr* dest = NULL
        cdef Py_buffer view
        cdef uv.uv_buf_t buf
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if not data and not _SEND_EMPTY_DATAGRAMS:
            return
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(
                    f'Invalid address: must be None or {self._address}')
            addr = self._address
        if (self._conn_lost and self._address) or not self.is_open():
            self._drop_write()
            return
        if not self._connected and (addr is None or
                                    addr is not self._last_destination_py):
            self._last_destination_py = None
            try:
                numeric = self._destination(addr, &self._last_destination)
            except OSError as exc:
                self._send_failed(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return
            if not numeric:
                # As upstream uvloop: no name resolution (which would block the loop)
                # on the send path. asyncio's socket.sendto() resolves it.
                raise ValueError(f'{addr!r}: socket family mismatch or a DNS lookup '
                                 f'is required')
            self._last_destination_py = addr
        if not self._connected:
            dest = <sockaddr*>&self._last_destination
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            buf.base = <char*>view.buf
            buf.len = view.len
            if (<uv.uv_udp_t*>self._handle).send_queue_count == 0:
                err = uv.uv_udp_try_send(<uv.uv_udp_t*>self._handle, &buf, 1, dest)
                if err >= 0:
                    return
                if err != uv.UV_EAGAIN:
                    self._send_failed(convert_error(err))
                    return
            self._queue_send(data, &buf, dest)
        finally:
            PyBuffer_Release(&view)
        self._maybe_pause_protocol()

    cdef bint _destination(self, addr, sockaddr_storage* storage) except -1:
        """The C address for `addr`: False if its host is not a numeric address of
        the socket's family; raises as socket.sendto() would for a malformed one."""
        cdef socklen_t length
        return _numeric_sockaddr(addr, self._family, storage, &length) == 0

    cdef _queue_send(self, data, const uv.uv_buf_t* buf, const sockaddr* dest):
        cdef uv.uv_buf_t copy
        cdef _SendRequest* request
        # What waits in the queue must not change: keep bytes, copy the rest.
        owner = data if PyBytes_CheckExact(data) else PyBytes_FromStringAndSize(
            buf.base, buf.len)
        copy.base = PyBytes_AS_STRING(owner)
        copy.len = PyBytes_GET_SIZE(owner)
        request = <_SendRequest*>PyMem_RawMalloc(sizeof(_SendRequest))
        if request is NULL:
            raise MemoryError()
        err = uv.uv_udp_send(&request.req, <uv.uv_udp_t*>self._handle, &copy, 1,
                             dest, _on_udp_send)
        if err < 0:
            PyMem_RawFree(request)
            self._send_failed(convert_error(err))
            return
        _track_request(self, &request.owner, owner)

    cdef _send_failed(self, exc):
        """error_received() for a sendto() that failed at once (called from any
        task: the protocol hears of it in its own context)."""
        context = self._context
        entered = _enter_context(context)
        try:
            self._protocol.error_received(exc)
        finally:
            if entered:
                PyContext_Exit(context)

    cdef _on_request_done(self, int status):
        if status == uv.UV_ECANCELED:
            return
        if status < 0 and not self._connection_lost_scheduled:
            self._protocol.error_received(convert_error(status))
        self._maybe_resume_protocol()
        if self._requests == 0 and self._transport_closing:
            # close() waited for the queue.
            self._schedule_connection_lost(None)


cdef UDPTransport _new_datagram_transport(Loop loop, sock, protocol, address, waiter):
    """A started datagram transport. The socket (the user's, or the one asyncio's
    create_datagram_endpoint made for us) stays a Python object, closed after
    connection_lost(); libuv works on a dup() of it."""
    cdef UDPTransport transport = UDPTransport.new(loop)
    transport._address = address
    transport._open_file(sock)
    transport._start(protocol, waiter, None)
    return transport
