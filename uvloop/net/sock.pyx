# The machinery behind the loop's sock_* methods.
#
# Needs: FdWatches and FdWaiter (fd_watches.pyx), Handle (callbacks.pyx).
#
# Each method first tries its operation at once (_sock_io; most calls complete
# without waiting). When the socket would block, _sock_wait() watches the fd and
# retries `operation(*args)` each time it is ready: an operation raises BlockingIOError
# to say "not yet", returns its result when done, or raises the error for the caller.
# The future's done-callback removes the watch, so cancellation cleans up too. A socket
# closed while a call waits on it makes the call fail as the closed socket does
# (OSError EBADF), at the latest after FdWatches' next closed-object check; its fd
# number is free at once (FdWatches watches a dup), so a new socket may reuse it.

import socket as socket_module


async def _sock_io(Loop loop, sock, bint for_write, operation, tuple args):
    """operation(*args) at once if the socket is ready, else each time it is
    ready until it no longer raises BlockingIOError. The caller ran
    _check_socket() first, before reading anything from the socket, as asyncio."""
    try:
        return operation(*args)
    except (BlockingIOError, InterruptedError):
        pass
    return await _sock_wait(loop, sock, for_write, operation, args)


cdef _sock_wait(Loop loop, sock, bint for_write, operation, tuple args):
    """A future for operation(*args), retried each time sock is ready."""
    cdef _SockWait wait = _SockWait.__new__(_SockWait)
    wait._loop = loop
    wait._callback = operation
    wait._args = args
    wait.fileno = loop._ensure_fd_no_transport(sock)
    wait.for_write = for_write
    wait.fut = loop.create_future()
    loop._fd_watches.watch(wait.fileno, for_write, wait, sock, sock.gettimeout() == 0)
    wait.fut.add_done_callback(wait)
    return wait.fut


cdef _check_socket(Loop loop, sock):
    """asyncio's checks: no SSL socket; a blocking one only in debug mode (outside
    it, the call blocks the loop, as in asyncio)."""
    aio_check_ssl_socket(sock)
    if loop._debug and sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


@cython.freelist(64)
cdef class _SockWait(FdWaiter):
    """A sock_* call waiting on its socket: the Handle that FdWatches runs when the
    socket is ready (its callback and args are the operation), and the future's
    done-callback."""
    cdef object fut
    cdef int fileno
    cdef bint for_write

    cdef _run(self):
        if self.fut.done():
            return
        try:
            result = self._callback(*self._args)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fut.set_exception(exc)
        else:
            self.fut.set_result(result)

    def __call__(self, fut):
        self._loop._fd_watches.unwatch_handle(self.fileno, self.for_write, self)


def _accept_nonblocking(sock):
    # asyncio reads the fd before accepting: an object that is no socket fails on
    # fileno there, so here too.
    sock.fileno()
    conn, address = sock.accept()
    conn.setblocking(False)
    return conn, address


cdef class _SendAll:
    """sock_sendall's operation: sends what is left, done when nothing is."""
    cdef object sock
    cdef object view
    cdef Py_ssize_t sent

    def __cinit__(self, sock, data, Py_ssize_t sent):
        self.sock = sock
        self.view = memoryview(data).cast('B')
        self.sent = sent

    def __call__(self):
        self.sent += self.sock.send(self.view[self.sent:])
        if self.sent < len(self.view):
            raise BlockingIOError
        return None


cdef class _ConnectResult:
    """sock_connect's operation: the outcome of a non-blocking connect()."""
    cdef object sock
    cdef object address

    def __cinit__(self, sock, address):
        self.sock = sock
        self.address = address

    def __call__(self):
        err = self.sock.getsockopt(socket_module.SOL_SOCKET, socket_module.SO_ERROR)
        if err != 0:
            raise OSError(err, f'Connect call failed {self.address}')
        return None
