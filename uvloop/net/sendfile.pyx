# sendfile: loop.sendfile() (over a transport) and loop.sock_sendfile() (over a
# socket), with the kernel's sendfile() where it can, else by reading the file and
# writing the chunks.
#
# Needs: UVStream (transports/stream.pyx), _sock_wait (net/sock.pyx).
#
# The kernel calls (sendfile, fstat, lseek) are made from C, not through `os`: they do
# not block, and tools that flag blocking calls on the loop's thread by patching `os`
# must not see them.

from posix.stat cimport fstat, struct_stat
from posix.unistd cimport lseek, SEEK_SET

import asyncio
import functools
import io as io_module


async def _sendfile(Loop loop, transport, file, offset, count, bint fallback):
    """loop.sendfile() on an open transport."""
    mode = getattr(transport, '_sendfile_compatible', aio_SendfileMode.UNSUPPORTED)
    if mode is aio_SendfileMode.UNSUPPORTED:
        raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
    if mode is aio_SendfileMode.TRY_NATIVE:
        try:
            return await _sendfile_native(loop, transport, file, offset, count)
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
    if not fallback:
        raise RuntimeError(
            f"fallback is disabled and native sendfile is not "
            f"supported for transport {transport!r}")
    return await _sendfile_fallback(loop, transport, file, offset, count)


cdef bint _is_writing_paused(transport):
    """Whether the transport told its protocol to pause writing: ours, our TLS
    transports' and asyncio's transports all keep it as `_protocol_paused`."""
    if isinstance(transport, UVStream):
        return (<UVStream>transport)._protocol_paused
    return bool(getattr(transport, '_protocol_paused', False))


class _SendfileFallbackProtocol(asyncio.Protocol):
    """Stands in for the transport's protocol while loop.sendfile() writes the file
    with plain writes: reading is paused, drain() waits while writing is paused, and
    a lost connection reaches the real protocol too. restore() puts things back.
    Any transport will do: only its public methods are used."""

    def __init__(self, Loop loop, transport):
        self._transport = transport
        self._loop = loop
        self._protocol = transport.get_protocol()
        self._resume_reading = transport.is_reading()
        self._writing_was_paused = _is_writing_paused(transport)
        self._write_ready = None
        transport.pause_reading()
        transport.set_protocol(self)
        if self._writing_was_paused:
            self._write_ready = self._loop.create_future()

    async def drain(self):
        if self._transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if self._write_ready is not None:
            await self._write_ready

    def connection_made(self, transport):
        raise RuntimeError("Invalid state: "
                           "connection should have been established already.")

    def connection_lost(self, exc):
        if self._write_ready is not None:
            # The file was not sent in full: that is an error for the sender.
            self._write_ready.set_exception(
                exc if exc is not None
                else ConnectionError("Connection is closed by peer"))
        self._protocol.connection_lost(exc)

    def pause_writing(self):
        if self._write_ready is None:
            self._write_ready = self._loop.create_future()

    def resume_writing(self):
        if self._write_ready is not None:
            self._write_ready.set_result(False)
            self._write_ready = None

    def data_received(self, data):
        raise RuntimeError("Invalid state: reading should be paused")

    def eof_received(self):
        raise RuntimeError("Invalid state: reading should be paused")

    async def restore(self):
        self._transport.set_protocol(self._protocol)
        if self._resume_reading:
            self._transport.resume_reading()
        if self._write_ready is not None:
            self._write_ready.cancel()
        if self._writing_was_paused:
            self._protocol.resume_writing()


async def _sendfile_fallback(Loop loop, transport, file, offset, count):
    """loop.sendfile() with file.readinto() in the executor and transport.write()."""
    if offset:
        file.seek(offset)
    chunk = min(count, 16384) if count else 16384
    buffer = bytearray(chunk)
    sent = 0
    stand_in = _SendfileFallbackProtocol(loop, transport)
    try:
        while not count or sent < count:
            if count:
                chunk = min(count - sent, chunk)
            view = memoryview(buffer)[:chunk]
            nread = await loop.run_in_executor(None, file.readinto, view)
            if not nread:
                break
            await stand_in.drain()
            transport.write(view[:nread])
            sent += nread
        return sent
    finally:
        if sent > 0 and hasattr(file, 'seek'):
            file.seek(offset + sent)
        await stand_in.restore()


async def _sendfile_native(Loop loop, UVStream transport, file, offset, count):
    """loop.sendfile() with the kernel's sendfile() on a dup() of the transport's
    socket, once its write queue is empty; reading is paused meanwhile."""
    transport._get_transport_socket()
    sock = transport._file
    if sock is None:
        raise RuntimeError("Transport is closing")
    fileno = sock.fileno()
    loop._transports.pop(fileno, None)
    resume_reading = transport.is_reading()
    transport.pause_reading()
    await transport._make_empty_waiter()
    try:
        return await loop.sock_sendfile(sock, file, offset, count, fallback=False)
    finally:
        transport._reset_empty_waiter()
        if resume_reading:
            transport.resume_reading()
        loop._transports[fileno] = transport


cdef class _SendFile:
    """sock_sendfile's operation: sendfile(2) until count bytes or EOF."""
    cdef object sock
    cdef int file_fd
    cdef off_t _offset
    cdef object count
    cdef object blocksize
    cdef readonly object total_sent

    def __cinit__(self, sock, int file_fd, offset, count, blocksize):
        self.sock = sock
        self.file_fd = file_fd
        self._offset = offset
        self.count = count
        self.blocksize = blocksize
        self.total_sent = 0

    def __call__(self):
        cdef ssize_t sent
        cdef size_t size
        cdef int err
        while True:
            blocksize = self.blocksize
            if self.count:
                blocksize = self.count - self.total_sent
                if blocksize <= 0:
                    return self.total_sent
            size = blocksize
            sent = sendfile(self.sock.fileno(), self.file_fd, &self._offset, size)
            if sent < 0:
                err = errno
                if err == EAGAIN or err == EINTR:
                    raise BlockingIOError
                exc = OSError(err, os_strerror(err))
                if self.total_sent == 0:
                    # Not a regular (mmap-able) file, or sendfile() refused this
                    # socket: the caller falls back to plain sends.
                    raise asyncio.SendfileNotAvailableError(
                        "os.sendfile call failed") from exc
                if err == ENOTCONN:
                    raise ConnectionError("socket is not connected",
                                          ENOTCONN) from exc
                raise exc
            if sent == 0:
                return self.total_sent
            self.total_sent += sent


def _update_file_position(_SendFile sender, fut):
    # The file position ends after the last byte sent, as with asyncio.
    if sender.total_sent > 0:
        if lseek(sender.file_fd, sender._offset, SEEK_SET) < 0:
            raise_errno()


async def _sock_sendfile_native(Loop loop, sock, file, offset, count):
    cdef struct_stat st
    try:
        fileno = file.fileno()
    except (AttributeError, io_module.UnsupportedOperation):
        raise asyncio.SendfileNotAvailableError("not a regular file")
    if fstat(fileno, &st) < 0:
        raise asyncio.SendfileNotAvailableError("not a regular file")
    blocksize = count if count else st.st_size
    if not blocksize:
        return 0
    sender = _SendFile(sock, fileno, offset, count, blocksize)
    try:
        result = sender()
    except BlockingIOError:
        pass        # the rest is sent when the socket is writable
    except BaseException:
        _update_file_position(sender, None)     # after what was sent, as asyncio
        raise
    else:
        _update_file_position(sender, None)
        return result
    fut = _sock_wait(loop, sock, True, sender, ())
    fut.add_done_callback(functools.partial(_update_file_position, sender))
    return await fut
