"""loop.sendfile(): the kernel's sendfile() on stream sockets, else the fallback."""

import asyncio
import io
import os
import socket

import pytest

from loops import run
from netutil import RecordingProtocol, payload


DATA = payload(3 * 1024 * 1024 + 17)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(DATA)
    with open(path, 'rb') as f:
        yield f


class Receiver:
    """A server that records what each connection receives."""

    def __init__(self, loop):
        self.loop = loop
        self.protocols = []

    def __call__(self):
        self.protocols.append(RecordingProtocol(self.loop))
        return self.protocols[-1]

    async def received(self, nbytes):
        while not self.protocols:
            await asyncio.sleep(0.001)
        return await self.protocols[0].received(nbytes)


async def connected_pair(loop, unix_path=None):
    receiver = Receiver(loop)
    if unix_path:
        server = await loop.create_unix_server(receiver, unix_path)
        transport, proto = await loop.create_unix_connection(
            lambda: RecordingProtocol(loop), unix_path)
    else:
        server = await loop.create_server(receiver, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, proto = await loop.create_connection(
            lambda: RecordingProtocol(loop), '127.0.0.1', port)
    return server, receiver, transport, proto


async def finish(server, transport, proto):
    transport.close()
    await proto.lost
    server.close()


def test_sendfile_sends_the_whole_file(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        sent = await loop.sendfile(transport, data_file)
        assert sent == len(DATA)
        assert data_file.tell() == len(DATA)
        assert await receiver.received(len(DATA)) == DATA
        await finish(server, transport, proto)

    run(loop, main())


def test_sendfile_with_offset_and_count_sends_that_slice(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        sent = await loop.sendfile(transport, data_file, offset=1000, count=70000)
        assert sent == 70000
        assert data_file.tell() == 71000
        assert await receiver.received(70000) == DATA[1000:71000]
        await finish(server, transport, proto)

    run(loop, main())


def test_sendfile_count_beyond_the_end_stops_at_the_end(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        offset = len(DATA) - 100
        sent = await loop.sendfile(transport, data_file, offset, count=10_000)
        assert sent == 100
        assert await receiver.received(100) == DATA[offset:]
        await finish(server, transport, proto)

    run(loop, main())


def test_sendfile_over_a_unix_socket(loop, data_file, tmp_path):
    async def main():
        server, receiver, transport, proto = await connected_pair(
            loop, str(tmp_path / 'sock'))
        assert await loop.sendfile(transport, data_file) == len(DATA)
        assert await receiver.received(len(DATA)) == DATA
        await finish(server, transport, proto)

    run(loop, main())


def test_data_written_before_sendfile_arrives_first_and_writing_goes_on(loop,
                                                                        data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        transport.write(b'header')
        await loop.sendfile(transport, data_file)
        transport.write(b'trailer')
        expected = b'header' + DATA + b'trailer'
        assert await receiver.received(len(expected)) == expected
        await finish(server, transport, proto)

    run(loop, main())


def test_reading_goes_on_after_sendfile(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        await loop.sendfile(transport, data_file, count=10)
        assert transport.is_reading()
        await receiver.received(10)
        receiver.protocols[0].transport.write(b'reply')
        assert await proto.received(5) == b'reply'
        await finish(server, transport, proto)

    run(loop, main())


def test_write_during_sendfile_raises(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        await receiver.received(0)
        peer = receiver.protocols[0].transport
        # A small send buffer and a peer that does not read: sendfile must wait.
        peer.pause_reading()
        transport.get_extra_info('socket').setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        task = asyncio.ensure_future(loop.sendfile(transport, data_file))
        await asyncio.sleep(0.01)
        assert not task.done()
        with pytest.raises(RuntimeError, match='sendfile is in progress'):
            transport.write(b'x')
        with pytest.raises(RuntimeError, match='sendfile is in progress'):
            transport.writelines([b'x'])
        transport.get_extra_info('socket').setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        peer.resume_reading()
        assert await task == len(DATA)
        assert await receiver.received(len(DATA)) == DATA
        await finish(server, transport, proto)

    run(loop, main())


def test_a_file_without_fileno_falls_back_to_plain_writes(loop):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        sent = await loop.sendfile(transport, io.BytesIO(DATA), offset=5, count=100000)
        assert sent == 100000
        assert await receiver.received(100000) == DATA[5:100005]
        await finish(server, transport, proto)

    run(loop, main())


def test_no_fallback_means_sendfile_not_available(loop):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        with pytest.raises(asyncio.SendfileNotAvailableError):
            await loop.sendfile(transport, io.BytesIO(DATA), fallback=False)
        await finish(server, transport, proto)

    run(loop, main())


def test_sendfile_on_a_closing_or_pipe_transport_raises(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        transport.close()
        with pytest.raises(RuntimeError, match='Transport is closing'):
            await loop.sendfile(transport, data_file)
        await proto.lost
        server.close()
        r, w = os.pipe()
        pipe_transport, pipe_proto = await loop.connect_write_pipe(
            lambda: RecordingProtocol(loop), open(w, 'wb', buffering=0))
        with pytest.raises(RuntimeError, match='sendfile is not supported'):
            await loop.sendfile(pipe_transport, data_file)
        pipe_transport.close()
        await pipe_proto.lost
        os.close(r)

    run(loop, main())


def test_sendfile_argument_errors(loop, data_file):
    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        with pytest.raises(ValueError, match='offset must be a non-negative integer'):
            await loop.sendfile(transport, data_file, offset=-1)
        with pytest.raises(ValueError, match='count must be a positive integer'):
            await loop.sendfile(transport, data_file, count=0)
        with pytest.raises(TypeError, match='count must be a positive integer'):
            await loop.sendfile(transport, data_file, count='1')
        await finish(server, transport, proto)

    run(loop, main())


def test_native_sendfile_makes_no_os_module_call(uvloop_loop, data_file, monkeypatch):
    # Blocking-call detectors (blockbuster) patch os functions and flag any call on
    # the loop's thread; our sendfile path calls the kernel from C, so it is never
    # flagged. (asyncio calls os.sendfile.)
    loop = uvloop_loop
    calls = []

    def recording(name, original):
        def function(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return function

    async def main():
        server, receiver, transport, proto = await connected_pair(loop)
        with monkeypatch.context() as patch:
            for name in ('sendfile', 'fstat', 'stat', 'lseek', 'read'):
                patch.setattr(os, name, recording(name, getattr(os, name)))
            sent = await loop.sendfile(transport, data_file, offset=10,
                                       count=len(DATA) - 10, fallback=False)
        received = await receiver.received(len(DATA) - 10)
        await finish(server, transport, proto)
        return sent, received

    sent, received = run(loop, main())
    assert calls == []
    assert sent == len(DATA) - 10 and received == DATA[10:]
    assert data_file.tell() == len(DATA)
