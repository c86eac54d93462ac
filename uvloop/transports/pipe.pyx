# The read and write pipe transports behind loop.connect_read_pipe() /
# connect_write_pipe() and a subprocess's stdio (asyncio's _UnixReadPipeTransport and
# _UnixWritePipeTransport), over uv_pipe_t handles; and the uv_pipe_t set-up that Unix
# sockets (unix.pyx) share.
#
# Needs: UVStream (stream.pyx), UVPoll (handles/poll.pyx), _dup_fd and
# _check_pollable (fds.pyx).
#
# Life rules are those of every transport (transport.pyx, stream.pyx): `new()` runs
# uv_pipe_init() and attaches the handle; libuv owns the descriptor it is given and
# closes it with the handle. A pipe is opened from a Python file object: libuv gets a
# dup() of its fd; the file object is the transport's `_file` (get_extra_info('pipe')),
# closed after connection_lost() as asyncio closes it. `_new_pipe_transport()` is the
# one way to make one.
#
# A write pipe learns that its reader went away from a UVPoll on one more dup() of the
# descriptor (libuv allows one watcher per fd number, and epoll reports EPOLLERR on
# every descriptor of the pipe): poll and dup are closed as soon as the transport is
# closing.

import os
import stat as stat_module


cdef int _init_pipe_handle(UVStream stream, Loop loop) except -1:
    stream._init_stream(loop)
    stream._attach_or_raise(
        uv.uv_pipe_init(loop.uvloop, <uv.uv_pipe_t*>stream._handle, 0))
    return 0


cdef int _open_pipe_fd(UVStream stream, int fd) except -1:
    err = uv.uv_pipe_open(<uv.uv_pipe_t*>stream._handle, fd)
    if err < 0:
        close(fd)
        raise convert_error(err)
    stream._on_fd_opened()
    return 0


cdef _PipeTransport _new_pipe_transport(Loop loop, bint for_write, pipe, protocol,
                                        waiter, context):
    """A started read (or write) pipe transport over the file object `pipe`, after
    asyncio's checks of what it is; its callbacks run in `context` (None: a copy of
    the current one)."""
    cdef _PipeTransport transport
    fileno = pipe.fileno()
    mode = os.fstat(fileno).st_mode
    if not (stat_module.S_ISFIFO(mode) or stat_module.S_ISSOCK(mode) or
            stat_module.S_ISCHR(mode)):
        if for_write:
            raise ValueError("Pipe transport is only for "
                             "pipes, sockets and character devices")
        raise ValueError("Pipe transport is for pipes/sockets only.")
    if for_write:
        transport = WritePipeTransport.new(loop)
        # asyncio watches FIFOs and sockets only (not character devices).
        (<WritePipeTransport>transport)._watch_reader = (
            stat_module.S_ISFIFO(mode) or stat_module.S_ISSOCK(mode))
    else:
        if stat_module.S_ISCHR(mode):
            _check_pollable(fileno)
        transport = ReadPipeTransport.new(loop)
    transport._open_file(pipe)
    transport._extra = {'pipe': pipe}
    transport._start(protocol, waiter, context)
    return transport


class _Absent:
    """A method the transport has not, as asyncio's of the same kind has not (a read
    pipe cannot write): looking it up raises AttributeError."""

    def __init__(self, name):
        self.name = name

    def __get__(self, transport, owner=None):
        raise AttributeError(
            f"'{owner.__name__}' object has no attribute '{self.name}'")


cdef class _PipeTransport(UVStream):
    """What the read and write pipe transports share: the 'pipe' extra info and
    plain (not buffered) protocols."""

    cdef _open_fd(self, int fd):
        _open_pipe_fd(self, fd)

    cdef _set_protocol(self, protocol):
        # asyncio's pipe transports always call data_received(): the base's, not the
        # stream's (which picks buffered reads).
        UVTransport._set_protocol(self, protocol)

    def get_extra_info(self, name, default=None):
        if self._extra is not None:
            return self._extra.get(name, default)
        return default


cdef class ReadPipeTransport(_PipeTransport):
    """asyncio's _UnixReadPipeTransport: EOF closes the transport; nothing of a
    write transport (a write would fail later and close the pipe)."""

    write = _Absent('write')
    writelines = _Absent('writelines')
    write_eof = _Absent('write_eof')
    can_write_eof = _Absent('can_write_eof')
    abort = _Absent('abort')
    get_write_buffer_size = _Absent('get_write_buffer_size')
    get_write_buffer_limits = _Absent('get_write_buffer_limits')
    set_write_buffer_limits = _Absent('set_write_buffer_limits')

    @staticmethod
    cdef ReadPipeTransport new(Loop loop):
        cdef ReadPipeTransport transport = ReadPipeTransport.__new__(ReadPipeTransport)
        _init_pipe_handle(transport, loop)
        return transport

    cdef _on_eof(self):
        if self._loop._debug:
            aio_logger.info("%r was closed by peer", self)
        self._transport_closing = True
        self._loop._call_soon(self._protocol.eof_received, (), self._context)
        self._schedule_connection_lost(None)

    cdef _on_data_received_error(self, exc):
        # Not fatal for a read pipe: asyncio reports it as a failed callback.
        self._loop._handle_callback_error(exc, self)

    cdef _on_read_error(self, exc):
        self._fatal_error(exc, 'Fatal read error on pipe transport')

    cdef bint _is_quiet_error(self, exc):
        # EIO: the other end of a pseudo-terminal went away. Every other error of a
        # read pipe goes to the exception handler.
        return isinstance(exc, OSError) and exc.errno == EIO


cdef class WritePipeTransport(_PipeTransport):
    """asyncio's _UnixWritePipeTransport: close() and write_eof() both close the
    pipe once the queued data is written; the reader going away closes it too."""

    def __cinit__(self):
        self._reader_watch_fd = -1

    @staticmethod
    cdef WritePipeTransport new(Loop loop):
        cdef WritePipeTransport transport = WritePipeTransport.__new__(
            WritePipeTransport)
        _init_pipe_handle(transport, loop)
        return transport

    def write(self, data):
        assert isinstance(data, (bytes, bytearray, memoryview)), repr(data)
        if not data:
            return
        if self._conn_lost or self._transport_closing or not self.is_open():
            if self._conn_lost >= aio_LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                aio_logger.warning('pipe closed by peer or '
                                   'os.write(pipe, data) raised exception.')
            self._conn_lost += 1
            return
        self._write(data)

    def writelines(self, list_of_data):
        self.write(b''.join(list_of_data))

    def write_eof(self):
        self._close_transport()

    # A write transport does not read (asyncio's raise as the abstract
    # ReadTransport's do).

    def pause_reading(self):
        raise NotImplementedError

    def resume_reading(self):
        raise NotImplementedError

    def is_reading(self):
        raise NotImplementedError

    cdef _on_write_error(self, exc):
        self._conn_lost += 1
        self._fatal_error(exc, 'Fatal write error on pipe transport')

    # "Reading" a write pipe is watching for its reader to go away.

    cdef _start_reading(self):
        cdef int fd
        if (not self._watch_reader or self._reader_watch is not None or
                self._transport_closing or not self.is_open()):
            return
        fd = _dup_fd(self._fd)
        try:
            watch = UVPoll.new(self._loop, fd)
            watch.set_handle(False, Handle(self._on_reader_gone, (), self._loop,
                                              self._context))
        except BaseException:
            close(fd)
            raise
        self._reader_watch = watch
        self._reader_watch_fd = fd

    cdef _stop_reading(self):
        watch = self._reader_watch
        if watch is None:
            return
        self._reader_watch = None
        (<UVPoll>watch).reader.cancel()
        # uv_close() takes the fd out of epoll at once, so closing it next is safe.
        UVHandle.close(<UVHandle>watch)
        close(self._reader_watch_fd)
        self._reader_watch_fd = -1

    def _on_reader_gone(self):
        if self._loop._debug:
            aio_logger.info("%r was closed by peer", self)
        self._force_close(BrokenPipeError() if self._requests else None)

    cdef _on_closed(self):
        self._stop_reading()
        UVStream._on_closed(self)
