"""TLS: ssl= on connections and servers, start_tls, handshake failures and timeouts."""

import asyncio
import os
import socket
import ssl
import tempfile

import pytest

from netutil import EchoProtocol, RecordingProtocol, assert_echoed_then_close, open_fds
import tlsutil


@pytest.fixture
def server_context():
    return tlsutil.server_context()


@pytest.fixture
def client_context():
    return tlsutil.client_context()


def test_tls_echo_over_tcp_with_extra_info(loop, server_context, client_context):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), 'localhost', port, ssl=client_context)
        transport.write(b'hello over tls')
        await protocol.received(14)
        info = {key: transport.get_extra_info(key)
                for key in ('sslcontext', 'ssl_object', 'peercert', 'cipher',
                            'peername')}
        transport.close()
        await protocol.lost
        server.close()
        await server.wait_closed()
        return bytes(protocol.data), info

    data, info = loop.run_until_complete(main())
    assert data == b'hello over tls'
    assert info['sslcontext'] is client_context
    assert isinstance(info['ssl_object'], ssl.SSLObject)
    assert dict(x[0] for x in info['peercert']['subject'])['commonName'] == 'localhost'
    assert info['cipher'] and info['peername'][0] == '127.0.0.1'


def test_tls_streams_carry_a_megabyte_intact(loop, server_context, client_context):
    payload = os.urandom(1024 * 1024)

    async def handle(reader, writer):
        data = await reader.readexactly(len(payload))
        writer.write(data[::-1])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(
            '127.0.0.1', port, ssl=client_context, server_hostname='localhost')
        writer.write(payload)
        await writer.drain()
        echoed = await reader.readexactly(len(payload))
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return echoed

    assert loop.run_until_complete(main()) == payload[::-1]


def test_tls_over_unix_sockets(loop, server_context, client_context):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'tls.sock')

        async def main():
            server = await loop.create_unix_server(EchoProtocol, path,
                                                   ssl=server_context)
            transport, protocol = await loop.create_unix_connection(
                lambda: RecordingProtocol(loop), path, ssl=client_context,
                server_hostname='localhost')
            await assert_echoed_then_close(transport, protocol, b'unix tls')
            server.close()
            await server.wait_closed()

        loop.run_until_complete(main())


def test_untrusted_certificate_fails_the_handshake(loop, server_context):
    untrusting = ssl.create_default_context()

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await loop.create_connection(asyncio.Protocol, '127.0.0.1', port,
                                             ssl=untrusting,
                                             server_hostname='localhost')
        finally:
            server.close()
            await server.wait_closed()

    loop.run_until_complete(main())


def test_handshake_timeout_aborts_the_connection(loop, client_context):
    # A plain TCP server that never answers the ClientHello.
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()

    async def main():
        with pytest.raises(ConnectionAbortedError, match='SSL handshake'):
            await loop.create_connection(
                asyncio.Protocol, *listener.getsockname(), ssl=client_context,
                server_hostname='localhost', ssl_handshake_timeout=0.1)

    try:
        loop.run_until_complete(main())
    finally:
        listener.close()


def test_start_tls_upgrades_a_plain_connection(loop, server_context, client_context):
    # STARTTLS: the client sends its ClientHello right after the server's "OK"; the
    # server pauses reading in the same step, so no TLS byte reaches the plain
    # protocol.
    async def handle(reader, writer):
        assert await reader.readline() == b'STARTTLS\n'
        writer.write(b'OK\n')
        await writer.start_tls(server_context)
        line = await reader.readline()
        writer.write(b'secure: ' + line)
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.write(b'STARTTLS\n')
        assert await reader.readline() == b'OK\n'
        await writer.start_tls(client_context, server_hostname='localhost')
        assert writer.get_extra_info('ssl_object') is not None
        writer.write(b'hello\n')
        reply = await reader.readline()
        writer.close()
        server.close()
        await server.wait_closed()
        return reply

    assert loop.run_until_complete(main()) == b'secure: hello\n'


def test_start_tls_on_a_protocol_transport(loop, server_context, client_context):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        protocol = RecordingProtocol(loop)
        transport, _ = await loop.create_connection(lambda: protocol, '127.0.0.1',
                                                    port)
        tls_transport = await loop.start_tls(transport, protocol, client_context,
                                             server_hostname='localhost')
        await assert_echoed_then_close(tls_transport, protocol, b'upgraded')
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_start_tls_rejects_a_non_ssl_context(loop):
    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await loop.create_connection(asyncio.Protocol,
                                                           '127.0.0.1', port)
        try:
            with pytest.raises(TypeError, match='sslcontext is expected'):
                await loop.start_tls(transport, protocol, object())
        finally:
            transport.close()
            server.close()
            await server.wait_closed()

    loop.run_until_complete(main())


@pytest.mark.parametrize('call, message', [
    (lambda loop, ctx, sock: loop.create_connection(asyncio.Protocol, ssl=ctx,
                                                    sock=sock),
     'You must set server_hostname'),
    (lambda loop, ctx, sock: loop.create_unix_connection(asyncio.Protocol, '/x',
                                                         ssl=ctx),
     'you have to pass server_hostname'),
    (lambda loop, ctx, sock: loop.create_connection(asyncio.Protocol, '::1', 1,
                                                    server_hostname='x'),
     'server_hostname is only meaningful with ssl'),
    (lambda loop, ctx, sock: loop.create_server(asyncio.Protocol, '::1', 0,
                                                ssl_handshake_timeout=1),
     'ssl_handshake_timeout is only meaningful with ssl'),
])
def test_tls_argument_errors(loop, client_context, call, message):
    sock = socket.socket()
    try:
        with pytest.raises(ValueError, match=message):
            loop.run_until_complete(call(loop, client_context, sock))
    finally:
        sock.close()


def test_tls_server_close_clients(uvloop_loop, server_context, client_context):
    # Ours on every Python version (asyncio's Server has close_clients from 3.13).
    loop = uvloop_loop

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), '127.0.0.1', port, ssl=client_context,
            server_hostname='localhost')
        transport.write(b'x')
        await protocol.received(1)
        server.close()
        server.close_clients()
        await asyncio.wait_for(protocol.lost, 5)
        await server.wait_closed()

    loop.run_until_complete(main())


def test_failed_handshakes_leak_no_fds(loop, server_context):
    untrusting = ssl.create_default_context()

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        before = None
        # The first connection is a warm-up: libuv opens a spare fd with the loop's
        # first stream handle.
        for _ in range(21):
            with pytest.raises(ssl.SSLError):
                await loop.create_connection(asyncio.Protocol, '127.0.0.1', port,
                                             ssl=untrusting,
                                             server_hostname='localhost')
            if before is None:
                await asyncio.sleep(0.05)
                before = open_fds()
        await asyncio.sleep(0.05)
        after = open_fds()
        server.close()
        await server.wait_closed()
        return before, after

    before, after = loop.run_until_complete(main())
    assert after == before


def test_tls_does_not_use_asyncios_sslproto(uvloop_loop, server_context,
                                            client_context, monkeypatch):
    # Our TLS layer is our own: asyncio's SSLProtocol is never made.
    import asyncio.sslproto

    def refuse(*args, **kwargs):
        raise AssertionError('asyncio.sslproto.SSLProtocol was used')

    monkeypatch.setattr(asyncio.sslproto.SSLProtocol, '__init__', refuse)
    loop = uvloop_loop

    async def main():
        server = await loop.create_server(EchoProtocol, '127.0.0.1', 0,
                                          ssl=server_context)
        transport, protocol = await loop.create_connection(
            lambda: RecordingProtocol(loop), *server.sockets[0].getsockname(),
            ssl=client_context, server_hostname='localhost')
        await assert_echoed_then_close(transport, protocol, b'own tls')
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
