"""loop.connect_read_pipe() and loop.connect_write_pipe(): asyncio's pipe transports."""

import asyncio
import os
import socket

import pytest

from loops import run
from netutil import RecordingProtocol, open_fds, payload


async def read_pipe(loop, fd):
    return await loop.connect_read_pipe(lambda: RecordingProtocol(loop),
                                        open(fd, 'rb', buffering=0))


async def write_pipe(loop, fd):
    return await loop.connect_write_pipe(lambda: RecordingProtocol(loop),
                                         open(fd, 'wb', buffering=0))


def test_read_pipe_reports_data_then_eof_then_connection_lost(loop):
    async def main():
        r, w = os.pipe()
        transport, proto = await read_pipe(loop, r)
        os.write(w, b'hello')
        os.close(w)
        assert await proto.lost is None
        assert proto.events == ['made', 'data', 'eof', 'lost']
        assert proto.data == b'hello'
        assert transport.is_closing()

    run(loop, main())


WRITE_SIDE = ('write', 'writelines', 'write_eof', 'can_write_eof', 'abort',
              'get_write_buffer_size', 'get_write_buffer_limits',
              'set_write_buffer_limits')


def test_read_pipe_has_no_write_side_and_keeps_reading(loop):
    async def main():
        r, w = os.pipe()
        transport, proto = await read_pipe(loop, r)
        for name in WRITE_SIDE:
            assert not hasattr(transport, name), name
        with pytest.raises(AttributeError, match="has no attribute 'write'"):
            transport.write(b'into the read end')
        os.write(w, b'still read')
        assert await proto.received(10) == b'still read'
        assert not transport.is_closing()
        os.close(w)
        assert await proto.lost is None

    run(loop, main())


def test_write_pipe_cannot_pause_or_resume_reading(loop):
    async def main():
        r, w = os.pipe()
        transport, proto = await write_pipe(loop, w)
        for name in ('pause_reading', 'resume_reading', 'is_reading'):
            with pytest.raises(NotImplementedError):
                getattr(transport, name)()
        transport.write(b'still written')
        transport.close()
        await proto.lost
        assert os.read(r, 100) == b'still written'
        os.close(r)

    run(loop, main())


def test_write_pipe_delivers_every_byte_in_order(loop):
    async def main():
        r, w = os.pipe()
        _, reader = await read_pipe(loop, r)
        writer_transport, writer = await write_pipe(loop, w)
        data = payload(4 * 1024 * 1024 + 3)
        writer_transport.write(data[:1])
        writer_transport.write(bytearray(data[1:1000]))
        writer_transport.write(memoryview(data)[1000:])
        writer_transport.close()
        assert await reader.lost is None
        assert reader.data == data
        assert await writer.lost is None

    run(loop, main())


def test_write_pipe_pauses_and_resumes_writing_at_the_water_marks(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        transport.set_write_buffer_limits(high=1000, low=100)
        assert transport.get_write_buffer_limits() == (100, 1000)
        data = payload(1024 * 1024)
        transport.write(data)
        assert writer.events == ['made', 'pause_writing']
        assert transport.get_write_buffer_size() > 1000
        _, reader = await read_pipe(loop, r)
        await reader.received(len(data))
        assert reader.data == data
        assert writer.events == ['made', 'pause_writing', 'resume_writing']
        assert transport.get_write_buffer_size() == 0
        transport.close()
        await writer.lost

    run(loop, main())


def test_write_pipe_close_flushes_queued_data_before_connection_lost(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        data = payload(1024 * 1024)
        transport.write(data)
        transport.close()
        assert transport.is_closing()
        await asyncio.sleep(0.05)
        assert not writer.lost.done()       # nobody reads: the data waits
        _, reader = await read_pipe(loop, r)
        assert await reader.lost is None
        assert reader.data == data
        assert await writer.lost is None
        assert writer.events == ['made', 'pause_writing', 'resume_writing', 'lost']

    run(loop, main())


def test_write_pipe_abort_drops_queued_data(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        data = payload(1024 * 1024)
        transport.write(data)
        transport.abort()
        assert transport.is_closing()
        assert await writer.lost is None
        _, reader = await read_pipe(loop, r)
        await reader.lost
        assert 0 < len(reader.data) < len(data)
        assert reader.data == data[:len(reader.data)]

    run(loop, main())


def test_write_pipe_closes_when_its_reader_goes_away(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        os.close(r)
        assert await writer.lost is None
        assert writer.events == ['made', 'lost']
        assert transport.is_closing()

    run(loop, main())


def test_write_pipe_reader_gone_with_queued_data_is_a_broken_pipe(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        transport.write(payload(1024 * 1024))
        os.close(r)
        assert isinstance(await writer.lost, BrokenPipeError)

    run(loop, main())


def test_write_pipe_write_to_a_closed_reader_is_a_broken_pipe(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        os.close(r)
        transport.write(b'x')
        assert isinstance(await writer.lost, BrokenPipeError)

    run(loop, main())


def test_write_pipe_drops_writes_after_close(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        transport.close()
        transport.write(b'late')
        assert await writer.lost is None
        assert os.read(r, 100) == b''
        os.close(r)

    run(loop, main())


def test_write_pipe_write_eof_sends_the_data_then_closes(loop):
    async def main():
        r, w = os.pipe()
        transport, writer = await write_pipe(loop, w)
        assert transport.can_write_eof()
        transport.writelines([b'da', b'ta'])
        transport.write_eof()
        assert transport.is_closing()
        _, reader = await read_pipe(loop, r)
        assert await reader.lost is None
        assert reader.data == b'data'
        assert reader.events == ['made', 'data', 'eof', 'lost']
        assert await writer.lost is None

    run(loop, main())


def test_read_pipe_pause_reading_holds_data_back(loop):
    async def main():
        r, w = os.pipe()
        transport, reader = await read_pipe(loop, r)
        assert transport.is_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        os.write(w, b'abc')
        await asyncio.sleep(0.05)
        assert reader.data == b''
        transport.resume_reading()
        assert transport.is_reading()
        assert await reader.received(3) == b'abc'
        os.close(w)
        await reader.lost

    run(loop, main())


def test_read_pipe_close_calls_connection_lost_once_and_closes_the_pipe(loop):
    async def main():
        r, w = os.pipe()
        transport, reader = await read_pipe(loop, r)
        pipe = transport.get_extra_info('pipe')
        assert pipe.fileno() == r
        transport.close()
        transport.close()
        assert not transport.is_reading()
        assert await reader.lost is None
        await asyncio.sleep(0)
        assert reader.events == ['made', 'lost']
        assert pipe.closed
        os.close(w)

    run(loop, main())


def test_read_pipe_data_received_error_is_reported_and_reading_goes_on(loop):
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))

    class FailingOnce(RecordingProtocol):
        def data_received(self, data):
            super().data_received(data)
            if len(self.data) == 1:
                raise ZeroDivisionError

    async def main():
        r, w = os.pipe()
        transport, reader = await loop.connect_read_pipe(
            lambda: FailingOnce(loop), open(r, 'rb', buffering=0))
        os.write(w, b'1')
        await reader.received(1)
        await asyncio.sleep(0.01)
        os.write(w, b'2')
        assert await reader.received(2) == b'12'
        assert not transport.is_closing()
        os.close(w)
        await reader.lost

    run(loop, main())
    assert [type(c['exception']) for c in errors] == [ZeroDivisionError]


def test_pipe_transports_reject_regular_files(loop, tmp_path):
    path = tmp_path / 'file'
    path.write_bytes(b'')

    async def main():
        with open(path, 'rb') as f:
            with pytest.raises(ValueError, match='Pipe transport is for pipes/sockets only'):
                await loop.connect_read_pipe(asyncio.Protocol, f)
        with open(path, 'wb') as f:
            with pytest.raises(ValueError, match='Pipe transport is only for pipes, '
                                                 'sockets and character devices'):
                await loop.connect_write_pipe(asyncio.Protocol, f)

    run(loop, main())


def test_write_pipe_over_a_socket_closes_when_the_peer_closes(loop):
    async def main():
        ours, theirs = socket.socketpair()
        transport, writer = await loop.connect_write_pipe(
            lambda: RecordingProtocol(loop), ours)
        transport.write(b'ping')
        assert theirs.recv(10) == b'ping'
        theirs.close()
        assert await writer.lost is None
        assert ours.fileno() == -1       # the transport closed the socket

    run(loop, main())


def test_pipe_transports_leak_no_fd(loop):
    async def exchange():
        r, w = os.pipe()
        _, reader = await read_pipe(loop, r)
        writer_transport, writer = await write_pipe(loop, w)
        writer_transport.write(payload(200_000))
        writer_transport.close()
        await reader.lost
        await writer.lost

    async def main():
        # The first stream of a libuv loop opens the loop's reserve fd (for EMFILE):
        # count from there.
        await exchange()
        before = open_fds()
        for _ in range(20):
            await exchange()
        await asyncio.sleep(0)
        assert open_fds() == before

    run(loop, main())


def test_read_pipe_on_an_unpollable_device_raises_instead_of_aborting(uvloop_loop):
    loop = uvloop_loop

    async def main():
        with open(os.devnull, 'rb') as devnull:
            with pytest.raises(PermissionError):
                await loop.connect_read_pipe(asyncio.Protocol, devnull)

    run(loop, main())


def test_closing_the_loop_closes_open_pipe_transports(uvloop_loop):
    loop = uvloop_loop
    r, w = os.pipe()
    transport, reader = run(loop, read_pipe(loop, r))
    pipe = transport.get_extra_info('pipe')
    loop.close()
    assert pipe.closed
    assert transport.is_closing()
    assert reader.events == ['made']      # the loop is gone: nobody to tell
    os.close(w)
