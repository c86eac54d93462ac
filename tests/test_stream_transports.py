"""The stream transport contract, the same for TCP and Unix sockets (they share the
transport code): writing, flow control at the water marks, write_eof and half-close,
reading and pausing it, BufferedProtocol, close and abort, set_protocol, extra info,
the context protocol callbacks run in.

Every test runs for each stream kind ('tcp', 'unix') on each loop. What only one kind
has (addresses, name resolution, TCP options, socket files) is in test_tcp.py and
test_unix.py."""

import asyncio
import os
import socket

import pytest

from loops import debug_counters, debug_counters_or_skip, run
from netutil import (STREAM_KINDS, BufferedRecorder, ContextSeen, DuckBufferedRecorder,
                     RecordingProtocol, assert_echoed_then_close, current, open_fds,
                     open_stream_pair, payload)


@pytest.fixture(params=STREAM_KINDS)
def stream_kind(request):
    return request.param


@pytest.fixture
def open_pair(stream_kind, tmp_path):
    """open_pair(loop, server_protocol=EchoProtocol, client_protocol=None): a server of
    this test's stream kind and a client connected to it (netutil.StreamPair)."""
    def open_pair(loop, *args, **kwargs):
        return open_stream_pair(loop, stream_kind, tmp_path, *args, **kwargs)
    return open_pair


def connected_sockets(kind, directory):
    """Two connected blocking sockets of `kind`, made without a loop: (ours, peer)."""
    if kind == 'tcp':
        with socket.create_server(('127.0.0.1', 0)) as listener:
            peer = socket.create_connection(listener.getsockname())
            ours, _ = listener.accept()
        return ours, peer
    path = str(directory / 'sock')
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        peer = socket.socket(socket.AF_UNIX)
        peer.connect(path)
        ours, _ = listener.accept()
    return ours, peer


class PausedReceiver(RecordingProtocol):
    """Stops reading as soon as it is connected, so that the peer's writes queue up."""

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.pause_reading()


@pytest.mark.parametrize('size', [1, 1024, 65537, 1024 * 1024, 16 * 1024 * 1024],
                         ids=['1B', '1KiB', '64KiB+1', '1MiB', '16MiB'])
def test_echo_round_trip_keeps_every_byte(loop, open_pair, size):
    async def main():
        pair = await open_pair(loop)
        await assert_echoed_then_close(pair.transport, pair.client, payload(size))
        pair.close()

    run(loop, main())


def test_callbacks_come_in_order_made_data_eof_lost(loop, open_pair):
    class SendAndClose(asyncio.Protocol):
        def connection_made(self, transport):
            transport.write(b'bye')
            transport.close()

    async def main():
        pair = await open_pair(loop, SendAndClose)
        client = pair.client
        assert await client.lost is None
        assert client.events == ['made', 'data', 'eof', 'lost']
        assert client.data == b'bye'
        pair.close()

    run(loop, main())


def test_connection_made_has_run_when_connecting_returns(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        assert client.events == ['made']
        assert client.transport is transport
        transport.close()
        await client.lost
        pair.close()

    run(loop, main())


# ----- writing ------------------------------------------------------------------------


def test_write_buffer_limits_default_and_validation(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport = pair.transport
        assert transport.get_write_buffer_limits() == (16384, 65536)
        transport.set_write_buffer_limits(high=1000)
        assert transport.get_write_buffer_limits() == (250, 1000)
        transport.set_write_buffer_limits(low=100)
        assert transport.get_write_buffer_limits() == (100, 400)
        with pytest.raises(ValueError, match=r'high \(1\) must be >= low \(2\) '
                                             r'must be >= 0'):
            transport.set_write_buffer_limits(high=1, low=2)
        transport.close()
        await pair.client.lost
        pair.close()

    run(loop, main())


def test_write_buffer_limits_take_any_number_as_asyncio(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        transport.set_write_buffer_limits(high=2 ** 64)
        assert transport.get_write_buffer_limits() == (2 ** 62, 2 ** 64)
        transport.set_write_buffer_limits(high=10 ** 30, low=10 ** 29)
        assert transport.get_write_buffer_limits() == (10 ** 29, 10 ** 30)
        data = payload(4 * 1024 * 1024)
        transport.write(data)
        assert await client.received(len(data)) == data
        assert 'pause_writing' not in client.events
        transport.set_write_buffer_limits(high=1000.5)
        assert transport.get_write_buffer_limits() == (250.0, 1000.5)
        transport.close()
        await client.lost
        pair.close()

    run(loop, main())


def test_flow_control_pauses_then_resumes_writing(loop, open_pair):
    async def main():
        pair = await open_pair(loop, lambda: PausedReceiver(loop))
        transport, client = pair.transport, pair.client
        transport.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
        data = payload(8 * 1024 * 1024)
        transport.write(data)
        assert client.events == ['made', 'pause_writing']
        assert transport.get_write_buffer_size() > 64 * 1024
        receiver = await pair.peer()
        receiver.transport.resume_reading()
        assert await receiver.received(len(data)) == data
        while 'resume_writing' not in client.events:
            await asyncio.sleep(0.01)
        assert client.events == ['made', 'pause_writing', 'resume_writing']
        assert transport.get_write_buffer_size() == 0
        transport.close()
        await client.lost
        pair.close()

    run(loop, main())


def test_write_rejects_what_is_not_bytes(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport = pair.transport
        with pytest.raises(TypeError, match="data argument must be a bytes-like "
                                            "object, not 'str'"):
            transport.write('text')
        with pytest.raises(TypeError):
            transport.writelines(['text'])
        transport.close()
        await pair.client.lost
        pair.close()

    run(loop, main())


def test_writelines_and_bytearray_and_memoryview_are_sent_as_given(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        transport.writelines([b'a', bytearray(b'b'), memoryview(b'c'), b''])
        transport.write(bytearray(b'byte'))
        transport.write(memoryview(b'xxviewxx')[2:6])
        assert await client.received(11) == b'abcbyteview'
        transport.close()
        await client.lost
        pair.close()

    run(loop, main())


def test_queued_writes_are_counted_as_live_requests(uvloop_loop, open_pair):
    # The fixture checks that no request outlives a test; this checks that they
    # are counted at all.
    debug_counters_or_skip()
    loop = uvloop_loop

    async def main():
        pair = await open_pair(loop, lambda: PausedReceiver(loop))
        transport, client = pair.transport, pair.client
        before = debug_counters()['requests_live']
        transport.write(payload(8 * 1024 * 1024))
        transport.write(payload(8 * 1024 * 1024))
        assert debug_counters()['requests_live'] == before + 2
        transport.abort()
        await client.lost
        assert debug_counters()['requests_live'] == before
        (await pair.peer()).transport.abort()
        pair.close()

    run(loop, main())


# ----- write_eof and half-close ---------------------------------------------------------


def test_write_eof_half_closes_and_the_peer_can_still_answer(loop, open_pair):
    class AnswerOnEof(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.request = b''

        def data_received(self, data):
            self.request += data

        def eof_received(self):
            self.transport.write(self.request.upper())
            self.transport.close()
            return True

    async def main():
        pair = await open_pair(loop, AnswerOnEof)
        transport, client = pair.transport, pair.client
        assert transport.can_write_eof()
        transport.write(b'question')
        transport.write_eof()
        assert await client.lost is None
        assert client.data == b'QUESTION'
        assert client.events == ['made', 'data', 'eof', 'lost']
        pair.close()

    run(loop, main())


def test_eof_received_returning_true_keeps_the_transport_open(loop, open_pair):
    class CloseAfterSending(asyncio.Protocol):
        def connection_made(self, transport):
            transport.write(b'x')
            transport.write_eof()

    async def main():
        pair = await open_pair(loop, CloseAfterSending,
                               lambda: RecordingProtocol(loop, keep_open_on_eof=True))
        transport, client = pair.transport, pair.client
        await client.eof
        await asyncio.sleep(0.01)
        assert not transport.is_closing()
        assert not client.lost.done()
        transport.close()
        assert await client.lost is None
        pair.close()

    run(loop, main())


def test_write_after_write_eof_raises(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport = pair.transport
        transport.write_eof()
        with pytest.raises(RuntimeError, match=r'Cannot call write\(\) after '
                                               r'write_eof\(\)'):
            transport.write(b'late')
        transport.close()
        await pair.client.lost
        pair.close()

    run(loop, main())


# ----- reading ----------------------------------------------------------------------------


def test_pause_and_resume_reading(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        assert transport.is_reading()
        transport.pause_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        transport.write(b'echo me')
        await asyncio.sleep(0.05)
        assert client.data == b''
        transport.resume_reading()
        assert transport.is_reading()
        assert await client.received(7) == b'echo me'
        transport.close()
        assert not transport.is_reading()
        await client.lost
        pair.close()

    run(loop, main())


def test_set_protocol_switches_the_receiver(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, first = pair.transport, pair.client
        second = RecordingProtocol(loop)
        transport.set_protocol(second)
        assert transport.get_protocol() is second
        transport.write(b'to second')
        assert await second.received(9) == b'to second'
        assert first.data == b''
        transport.close()
        await second.lost
        pair.close()

    run(loop, main())


def test_buffered_protocol_receives_every_byte(loop, open_pair):
    async def main():
        pair = await open_pair(loop, client_protocol=lambda: BufferedRecorder(loop))
        transport, proto = pair.transport, pair.client
        data = payload(1024 * 1024)
        transport.write(data)
        while len(proto.data) < len(data):
            await asyncio.sleep(0.01)
        assert proto.data == data
        assert proto.hints == {-1}
        transport.close()
        await proto.lost
        pair.close()

    run(loop, main())


def test_a_protocol_with_get_buffer_and_buffer_updated_is_buffered(uvloop_loop,
                                                                   open_pair):
    # As upstream uvloop (asyncio's loop wants an asyncio.BufferedProtocol): by
    # connecting, and by set_protocol().
    loop = uvloop_loop

    async def main():
        data = payload(300 * 1024)
        pair = await open_pair(loop,
                               client_protocol=lambda: DuckBufferedRecorder(loop))
        second = DuckBufferedRecorder(loop)
        for proto in (pair.client, second):
            pair.transport.set_protocol(proto)
            pair.transport.write(data)
            while len(proto.data) < len(data):
                await asyncio.sleep(0.01)
            assert proto.data == data
        pair.transport.close()
        assert await second.lost is None
        pair.close()

    run(loop, main())


def test_protocol_errors_are_fatal_with_asyncio_messages(loop, open_pair):
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    class FailingReceiver(RecordingProtocol):
        def data_received(self, data):
            raise ZeroDivisionError

    class FailingBuffer(BufferedRecorder):
        def get_buffer(self, sizehint):
            raise ZeroDivisionError

    async def check(factory, message):
        pair = await open_pair(loop, client_protocol=factory)
        transport, proto = pair.transport, pair.client
        transport.write(b'x')
        exc = await proto.lost
        assert isinstance(exc, ZeroDivisionError)
        context = contexts.pop()
        assert context['message'] == message
        assert context['exception'] is exc
        assert context['transport'] is transport
        assert context['protocol'] is proto
        pair.close()

    async def main():
        await check(lambda: FailingReceiver(loop),
                    'Fatal error: protocol.data_received() call failed.')
        await check(lambda: FailingBuffer(loop),
                    'Fatal error: protocol.get_buffer() call failed.')

    run(loop, main())
    assert contexts == []


def test_keyboard_interrupt_in_a_protocol_callback_stops_the_loop(loop, open_pair):
    class Interrupting(RecordingProtocol):
        def data_received(self, data):
            raise KeyboardInterrupt

    pair = run(loop, open_pair(loop, client_protocol=lambda: Interrupting(loop)))
    pair.transport.write(b'x')
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(loop.create_future())
    pair.transport.abort()
    pair.close()
    run(loop, pair.client.lost)


# ----- close and abort ----------------------------------------------------------------


def test_close_delivers_all_queued_bytes_to_the_peer(loop, open_pair):
    async def main():
        pair = await open_pair(loop, lambda: RecordingProtocol(loop))
        transport, client = pair.transport, pair.client
        data = payload(8 * 1024 * 1024)
        transport.write(data)
        transport.close()
        assert transport.is_closing()
        assert await client.lost is None
        peer = await pair.peer()
        assert await peer.lost is None
        assert peer.data == data
        pair.close()

    run(loop, main())


def test_abort_drops_queued_data(loop, open_pair):
    async def main():
        pair = await open_pair(loop, lambda: PausedReceiver(loop))
        transport, client = pair.transport, pair.client
        data = payload(16 * 1024 * 1024)
        transport.write(data)
        assert transport.get_write_buffer_size() > 0
        transport.abort()
        assert transport.is_closing()
        assert await client.lost is None
        assert client.events == ['made', 'pause_writing', 'lost']
        peer = await pair.peer()
        peer.transport.resume_reading()
        await peer.lost
        assert len(peer.data) < len(data)
        assert peer.data == data[:len(peer.data)]
        pair.close()

    run(loop, main())


def test_connection_lost_is_called_once(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        transport.close()
        transport.abort()
        transport.close()
        await client.lost
        await asyncio.sleep(0.01)
        assert client.events.count('lost') == 1
        pair.close()

    run(loop, main())


def test_writes_after_the_connection_is_lost_are_dropped(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        pair.transport.abort()
        await pair.client.lost
        pair.transport.write(b'dropped')
        pair.close()

    run(loop, main())


def test_aborted_and_closed_transports_leak_no_fd(loop, open_pair):
    class TrackedEcho(RecordingProtocol):
        def data_received(self, data):
            self.transport.write(data)

    async def exchange(pair, n, transport, client, abort):
        """Send on the n-th connection, close or abort it; wait until both ends are
        gone."""
        transport.get_extra_info('socket')
        transport.write(payload(100_000))
        if abort:
            transport.abort()
        else:
            transport.close()
        await client.lost
        await (await pair.peer(n)).lost

    async def main():
        pair = await open_pair(loop, lambda: TrackedEcho(loop))
        await exchange(pair, 0, pair.transport, pair.client, False)
        before = open_fds()
        for i in range(50):
            await exchange(pair, i + 1, *await pair.connect(), bool(i % 2))
        assert open_fds() == before
        pair.close()

    run(loop, main())


# ----- the socket -----------------------------------------------------------------------


def test_extra_info_socket_sockname_peername(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        sock = transport.get_extra_info('socket')
        assert isinstance(sock, asyncio.trsock.TransportSocket)
        assert sock.family == pair.server.sockets[0].family
        assert sock.type == socket.SOCK_STREAM
        assert transport.get_extra_info('peername') == pair.address
        assert transport.get_extra_info('sockname') == sock.getsockname()
        assert sock.getpeername() == pair.address
        assert transport.get_extra_info('nothing', 'default') == 'default'
        transport.close()
        await client.lost
        # Still known once the connection is gone.
        assert transport.get_extra_info('peername') == pair.address
        pair.close()

    run(loop, main())


def test_add_reader_refuses_a_transport_socket(loop, open_pair):
    async def main():
        pair = await open_pair(loop)
        fd = pair.transport.get_extra_info('socket').fileno()
        with pytest.raises(RuntimeError, match='is used by transport'):
            loop.add_reader(fd, lambda: None)
        with pytest.raises(RuntimeError, match='is used by transport'):
            loop.remove_writer(fd)
        pair.transport.close()
        await pair.client.lost
        pair.close()

    run(loop, main())


def test_closing_the_extra_info_socket_fd_leaves_the_transport_working(uvloop_loop,
                                                                        open_pair):
    # Ours wraps a duplicate of libuv's descriptor: libuv's stays valid whatever is
    # done to the one handed out (asyncio hands out the transport's own).
    loop = uvloop_loop

    async def main():
        pair = await open_pair(loop)
        transport, client = pair.transport, pair.client
        os.close(transport.get_extra_info('socket').fileno())
        transport.write(b'still works')
        assert await client.received(11) == b'still works'
        transport.close()
        assert await client.lost is None
        pair.close()

    run(loop, main())


def test_connect_accepted_socket_wraps_a_socket_accepted_elsewhere(loop, stream_kind,
                                                                   tmp_path):
    async def main():
        accepted, peer = connected_sockets(stream_kind, tmp_path)
        transport, proto = await loop.connect_accepted_socket(
            lambda: RecordingProtocol(loop), accepted)
        peer.sendall(b'hello')
        assert await proto.received(5) == b'hello'
        transport.write(b'back')
        assert peer.recv(10) == b'back'
        peer.close()
        assert await proto.lost is None

    run(loop, main())


# ----- contexts -----------------------------------------------------------------------

class ContextRecorder(ContextSeen, RecordingProtocol):
    """A RecordingProtocol that also records, in `seen`, the value of `current` each
    callback sees; connection_made() sets it to 'transport', which later callbacks see
    only if they run in that same context."""

    def connection_made(self, transport):
        self._enter()
        super().connection_made(transport)

    def data_received(self, data):
        self._see('data')
        super().data_received(data)

    def eof_received(self):
        self._see('eof')
        return super().eof_received()

    def pause_writing(self):
        self._see('pause_writing')
        super().pause_writing()

    def resume_writing(self):
        self._see('resume_writing')
        super().resume_writing()

    def connection_lost(self, exc):
        self._see('lost')
        super().connection_lost(exc)


async def in_another_task(action):
    """Run action() in a task of its own, where `current` is 'another task'."""
    async def task():
        current.set('another task')
        action()
    await asyncio.create_task(task())


def test_callbacks_the_peer_triggers_see_the_connecting_context(loop, open_pair):
    async def main():
        current.set('connecting')
        pair = await open_pair(loop, client_protocol=lambda: ContextRecorder(loop))
        current.set('changed after connecting')
        transport, client = pair.transport, pair.client
        transport.write(b'echo me')
        await client.received(7)
        transport.write_eof()
        await client.lost
        assert client.seen['made'] == {'connecting'}
        # asyncio runs each callback in a copy of the connecting context: the value
        # set in connection_made is not seen later there; ours is one context.
        later = {'connecting', 'transport'}
        for name in ('data', 'eof', 'lost'):
            assert client.seen[name] <= later, name
        pair.close()

    run(loop, main())


def test_callbacks_another_task_triggers_run_in_the_transport_context(uvloop_loop,
                                                                      open_pair):
    # As upstream uvloop: every callback runs in the one context connection_made ran
    # in, whoever triggers it. asyncio runs pause_writing() in the writing task's
    # context, reads after resume_reading() in the resuming task's, connection_lost()
    # after close() in the closing task's.
    loop = uvloop_loop

    async def main():
        current.set('connecting')
        pair = await open_pair(loop, lambda: PausedReceiver(loop),
                               lambda: ContextRecorder(loop, keep_open_on_eof=True))
        transport, client = pair.transport, pair.client
        receiver = await pair.peer()
        data = payload(8 * 1024 * 1024)
        await in_another_task(lambda: transport.write(data))
        assert client.events == ['made', 'pause_writing']
        receiver.transport.resume_reading()
        await receiver.received(len(data))
        while 'resume_writing' not in client.events:
            await asyncio.sleep(0.01)

        await in_another_task(transport.pause_reading)
        receiver.transport.write(b'while paused')
        receiver.transport.write_eof()
        await asyncio.sleep(0.05)
        assert client.data == b''
        await in_another_task(transport.resume_reading)
        await client.eof
        assert client.data == b'while paused'

        await in_another_task(transport.close)
        await client.lost
        assert client.seen.pop('made') == {'connecting'}
        assert client.seen == {name: {'transport'} for name in (
            'pause_writing', 'resume_writing', 'data', 'eof', 'lost')}
        pair.close()

    run(loop, main())


class BufferedContextRecorder(BufferedRecorder):
    def __init__(self, loop):
        super().__init__(loop)
        self.seen = set()

    def connection_made(self, transport):
        current.set('transport')
        super().connection_made(transport)

    def get_buffer(self, sizehint):
        self.seen.add(current.get())
        return super().get_buffer(sizehint)

    def buffer_updated(self, nbytes):
        self.seen.add(current.get())
        super().buffer_updated(nbytes)


def test_buffered_reads_resumed_by_another_task_run_in_the_transport_context(
        uvloop_loop, open_pair):
    loop = uvloop_loop

    async def main():
        pair = await open_pair(loop,
                               client_protocol=lambda: BufferedContextRecorder(loop))
        transport, proto = pair.transport, pair.client
        await in_another_task(transport.pause_reading)
        transport.write(b'echo me')
        await asyncio.sleep(0.05)
        await in_another_task(transport.resume_reading)
        while len(proto.data) < 7:
            await asyncio.sleep(0.01)
        assert proto.seen == {'transport'}
        transport.close()
        await proto.lost
        pair.close()

    run(loop, main())
