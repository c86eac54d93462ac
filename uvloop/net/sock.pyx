# The machinery behind the loop's sock_* methods.
#
# Needs: FdWatches (fd_watches.pyx), Handle (callbacks.pyx).
#
# Each method first tries its operation at once (_sock_io; most calls complete
# without waiting). When the socket would block, _sock_wait() watches the fd and
# retries `operation(*args)` each time it is ready: an operation raises BlockingIOError to say
# "not yet", returns its result when done, or raises the error for the caller. The
# future's done-callback removes the watch, so cancellation cleans up too.

import functools
import socket as socket_module


async def _sock_io(Loop loop, sock, bint for_write, operation, tuple args):
    """operation(*args) at once if the socket is ready, else each time it is
    ready until it no longer raises BlockingIOError."""
    _check_nonblocking_socket(sock)
    try:
        return operation(*args)
    except (BlockingIOError, InterruptedError):
        pass
    return await _sock_wait(loop, sock, for_write, operation, args)


cdef _sock_wait(Loop loop, sock, bint for_write, operation, tuple args):
    """A future for operation(*args), retried each time sock is ready."""
    fut = loop.create_future()
    fileno = loop._ensure_fd_no_transport(sock)
    handle = Handle(_retry_sock_operation, (fut, operation, args), loop, None)
    loop._fd_watches.watch(fileno, for_write, handle)
    fut.add_done_callback(
        functools.partial(_stop_sock_wait, loop, fileno, for_write, handle))
    return fut


cdef _check_nonblocking_socket(sock):
    aio_check_ssl_socket(sock)
    if sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


def _retry_sock_operation(fut, operation, tuple args):
    if fut.done():
        return
    try:
        result = operation(*args)
    except (BlockingIOError, InterruptedError):
        return
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _stop_sock_wait(Loop loop, fileno, bint for_write, Handle handle, fut):
    # The handle is cancelled when another sock_* call replaced this watch: that
    # call owns the fd's registration now, so leave it alone.
    if handle._cancelled:
        return
    loop._fd_watches.unwatch(fileno, for_write)


def _accept_nonblocking(sock):
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
