# The machinery behind the loop's sock_* methods.
#
# Each method first tries its operation at once (Loop._sock_io; most calls complete
# without waiting). When the socket would block, Loop._sock_wait() watches the fd and
# retries `operation(*args)` each time it is ready: an operation raises BlockingIOError to say
# "not yet", returns its result when done, or raises the error for the caller. The
# future's done-callback removes the watch, so cancellation cleans up too.

from asyncio import exceptions as aio_exceptions


cdef _check_nonblocking_socket(sock):
    aio_base_events._check_ssl_socket(sock)
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
    if for_write:
        loop._remove_writer(fileno)
    else:
        loop._remove_reader(fileno)


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


cdef class _SendFile:
    """sock_sendfile's operation: os.sendfile() until count bytes or EOF."""
    cdef object sock
    cdef int fileno
    cdef readonly object offset
    cdef object count
    cdef object blocksize
    cdef readonly object total_sent

    def __cinit__(self, sock, int fileno, offset, count, blocksize):
        self.sock = sock
        self.fileno = fileno
        self.offset = offset
        self.count = count
        self.blocksize = blocksize
        self.total_sent = 0

    def __call__(self):
        while True:
            blocksize = self.blocksize
            if self.count:
                blocksize = self.count - self.total_sent
                if blocksize <= 0:
                    return self.total_sent
            try:
                sent = os.sendfile(self.sock.fileno(), self.fileno, self.offset,
                                   blocksize)
            except (BlockingIOError, InterruptedError):
                raise BlockingIOError
            except OSError as exc:
                if self.total_sent == 0:
                    # Not a regular (mmap-able) file, or sendfile() refused this
                    # socket: the caller falls back to plain sends.
                    raise aio_exceptions.SendfileNotAvailableError(
                        "os.sendfile call failed") from exc
                if exc.errno == ENOTCONN_CODE and type(exc) is not ConnectionError:
                    raise ConnectionError("socket is not connected",
                                          ENOTCONN_CODE) from exc
                raise
            if sent == 0:
                return self.total_sent
            self.offset += sent
            self.total_sent += sent


cdef int ENOTCONN_CODE = 107


def _update_file_position(_SendFile sender, fut):
    # The file position ends after the last byte sent, as with asyncio.
    if sender.total_sent > 0:
        os.lseek(sender.fileno, sender.offset, os.SEEK_SET)


async def _sock_sendfile_native(Loop loop, sock, file, offset, count):
    try:
        fileno = file.fileno()
    except (AttributeError, io_module.UnsupportedOperation):
        raise aio_exceptions.SendfileNotAvailableError("not a regular file")
    try:
        fsize = os.fstat(fileno).st_size
    except OSError:
        raise aio_exceptions.SendfileNotAvailableError("not a regular file")
    blocksize = count if count else fsize
    if not blocksize:
        return 0
    sender = _SendFile(sock, fileno, offset, count, blocksize)
    try:
        result = sender()
    except BlockingIOError:
        pass
    else:
        _update_file_position(sender, None)
        return result
    fut = loop._sock_wait(sock, True, sender, ())
    fut.add_done_callback(functools.partial(_update_file_position, sender))
    return await fut
