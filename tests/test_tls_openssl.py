"""TLS against another implementation: Debian's `openssl s_server` and
`openssl s_client` (TLS 1.2 and 1.3, client certificates, ALPN, SNI, a peer that
vanishes, renegotiation, 64 MiB each way, a slow reader). The openssl binary is
required: these tests fail without it."""

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from netutil import RecordingProtocol
from tlsutil import CERTS, client_context, require_openssl, server_context

VERSIONS = {'TLSv1.2': '-tls1_2', 'TLSv1.3': '-tls1_3'}


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def openssl_server(*options):
    """`openssl s_server` on 127.0.0.1: what it receives comes out of .stdout, what is
    written to .stdin goes to the client. Yields (process, port) once it listens."""
    openssl = require_openssl()
    for _ in range(5):
        port = free_port()
        process = subprocess.Popen(
            [openssl, 's_server', '-accept', f'127.0.0.1:{port}', '-quiet',
             '-cert', CERTS / 'server.pem', '-key', CERTS / 'server.key', *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_listening(port, process):
            break
        process.kill()
        process.wait()
    else:
        raise RuntimeError('openssl s_server did not start')
    try:
        yield process, port
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def wait_listening(port, process):
    # /proc/net/tcp lists the listening socket (state 0A) without connecting to it.
    needle = f':{port:04X} 00000000:0000 0A'
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        with open('/proc/net/tcp') as table:
            if needle in table.read():
                return True
        time.sleep(0.01)
    return False


async def openssl_client(port, *options):
    """`openssl s_client` connected to our server on `port` (asyncio subprocess)."""
    return await asyncio.create_subprocess_exec(
        require_openssl(), 's_client', '-connect', f'127.0.0.1:{port}', '-quiet',
        '-no_ign_eof', '-CAfile', str(CERTS / 'ca.pem'), *options,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def read_exactly_from(stream, nbytes):
    """Read from a blocking pipe of a subprocess.Popen without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(None, stream.read, nbytes)


class LineServer(asyncio.Protocol):
    """Answers each chunk with 'you said: ' + chunk; records what it is told."""

    def __init__(self, loop):
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.data = bytearray()

    def connection_made(self, transport):
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data):
        self.data += data
        self.transport.write(b'you said: ' + data)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


# ----- our client, openssl's server ---------------------------------------------------

@pytest.mark.parametrize('version', VERSIONS)
def test_client_to_openssl_server(loop, version):
    with openssl_server(VERSIONS[version]) as (server, port):
        async def main():
            transport, protocol = await loop.create_connection(
                lambda: RecordingProtocol(loop), '127.0.0.1', port,
                ssl=client_context(), server_hostname='localhost')
            transport.write(b'ping\n')
            heard = await read_exactly_from(server.stdout, 5)
            server.stdin.write(b'pong\n')
            server.stdin.flush()
            reply = await protocol.received(5)
            negotiated = transport.get_extra_info('ssl_object').version()
            transport.close()
            await asyncio.wait_for(protocol.lost, 5)
            return heard, reply, negotiated

        assert loop.run_until_complete(main()) == (b'ping\n', b'pong\n', version)


def test_client_certificate_to_openssl_server(loop):
    with openssl_server('-Verify', '1', '-verifyCAfile', CERTS / 'ec-localhost.pem',
                        '-verify_return_error') as (server, port):
        async def main():
            context = client_context()
            context.load_cert_chain(CERTS / 'ec-localhost.pem',
                                    CERTS / 'ec-localhost.key')
            transport, protocol = await loop.create_connection(
                lambda: RecordingProtocol(loop), '127.0.0.1', port, ssl=context,
                server_hostname='localhost')
            transport.write(b'with a certificate\n')
            heard = await read_exactly_from(server.stdout, 19)
            transport.close()
            await asyncio.wait_for(protocol.lost, 5)
            return heard

        assert loop.run_until_complete(main()) == b'with a certificate\n'


async def connect_and_inspect(loop, port, context, inspect):
    transport, protocol = await loop.create_connection(
        lambda: RecordingProtocol(loop), '127.0.0.1', port, ssl=context,
        server_hostname='localhost')
    result = inspect(transport.get_extra_info('ssl_object'))
    transport.close()
    await asyncio.wait_for(protocol.lost, 5)
    return result


def test_client_alpn_with_openssl_server(loop):
    with openssl_server('-alpn', 'h2,http/1.1') as (server, port):
        context = client_context()
        context.set_alpn_protocols(['http/1.1'])
        alpn = loop.run_until_complete(connect_and_inspect(
            loop, port, context, lambda sslobj: sslobj.selected_alpn_protocol()))
    assert alpn == 'http/1.1'


def test_client_sni_with_openssl_server(loop):
    # s_server answers the name 'localhost' with the EC certificate, others with the
    # RSA one.
    with openssl_server('-servername', 'localhost',
                        '-cert2', CERTS / 'ec-localhost.pem',
                        '-key2', CERTS / 'ec-localhost.key') as (server, port):
        context = client_context()
        context.load_verify_locations(CERTS / 'ec-localhost.pem')
        certificate = loop.run_until_complete(connect_and_inspect(
            loop, port, context, lambda sslobj: sslobj.getpeercert(True)))
    assert certificate == ssl.PEM_cert_to_DER_cert(
        (CERTS / 'ec-localhost.pem').read_text())


def test_openssl_server_vanishing_without_close_notify(loop):
    with openssl_server() as (server, port):
        async def main():
            transport, protocol = await loop.create_connection(
                lambda: RecordingProtocol(loop), '127.0.0.1', port,
                ssl=client_context(), server_hostname='localhost')
            transport.write(b'x\n')
            await read_exactly_from(server.stdout, 2)
            server.send_signal(signal.SIGKILL)
            exc = await asyncio.wait_for(protocol.lost, 5)
            return protocol.events, exc

        events, exc = loop.run_until_complete(main())
    assert events == ['made', 'eof', 'lost']
    assert exc is None


def test_64_mib_each_way_with_openssl_server(loop):
    size = 64 * 1024 * 1024
    upload = os.urandom(size)
    download = os.urandom(size)
    with openssl_server() as (server, port):
        def feed_server():
            server.stdin.write(download)
            server.stdin.flush()

        def hash_server_output():
            digest = hashlib.sha256()
            left = size
            while left:
                chunk = server.stdout.read1(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            return digest.hexdigest()

        async def receive(reader):
            received = hashlib.sha256()
            left = size
            while left:
                chunk = await reader.read(min(left, 1 << 20))
                assert chunk, 'the connection ended early'
                received.update(chunk)
                left -= len(chunk)
            return received.hexdigest()

        async def main():
            reader, writer = await asyncio.open_connection(
                '127.0.0.1', port, ssl=client_context(), server_hostname='localhost')
            # s_server blocks on whichever side is full: read and write at once.
            fed = loop.run_in_executor(None, feed_server)
            heard = loop.run_in_executor(None, hash_server_output)
            got = asyncio.ensure_future(receive(reader))
            for start in range(0, size, 1 << 20):
                writer.write(upload[start:start + (1 << 20)])
                await writer.drain()
            await fed
            result = await got, await heard
            writer.close()
            return result

        got, heard = loop.run_until_complete(main())
    assert got == hashlib.sha256(download).hexdigest()
    assert heard == hashlib.sha256(upload).hexdigest()


# ----- our server, openssl's client ---------------------------------------------------

@pytest.mark.parametrize('version', VERSIONS)
def test_server_to_openssl_client(loop, version):
    async def main():
        protocol = LineServer(loop)
        server = await loop.create_server(lambda: protocol, '127.0.0.1', 0,
                                          ssl=server_context())
        client = await openssl_client(server.sockets[0].getsockname()[1],
                                      VERSIONS[version])
        client.stdin.write(b'hello\n')
        reply = await client.stdout.readexactly(len(b'you said: hello\n'))
        negotiated = protocol.transport.get_extra_info('ssl_object').version()
        client.stdin.close()
        await asyncio.wait_for(protocol.lost, 5)
        await client.wait()
        server.close()
        await server.wait_closed()
        return reply, negotiated

    assert loop.run_until_complete(main()) == (b'you said: hello\n', version)


def test_server_requires_openssl_client_certificate(loop):
    async def main():
        context = server_context()
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(CERTS / 'ec-localhost.pem')
        names = []
        context.sni_callback = lambda sslobj, name, ctx: names.append(name)
        context.set_alpn_protocols(['h2', 'http/1.1'])
        protocol = LineServer(loop)
        server = await loop.create_server(lambda: protocol, '127.0.0.1', 0,
                                          ssl=context)
        client = await openssl_client(
            server.sockets[0].getsockname()[1], '-cert', str(CERTS / 'ec-localhost.pem'),
            '-key', str(CERTS / 'ec-localhost.key'), '-servername', 'tls.example',
            '-alpn', 'h2')
        client.stdin.write(b'hi\n')
        await client.stdout.readexactly(len(b'you said: hi\n'))
        transport = protocol.transport
        peer = transport.get_extra_info('peercert')
        alpn = transport.get_extra_info('ssl_object').selected_alpn_protocol()
        client.stdin.close()
        await asyncio.wait_for(protocol.lost, 5)
        await client.wait()
        server.close()
        await server.wait_closed()
        return peer, alpn, names

    peer, alpn, names = loop.run_until_complete(main())
    assert dict(x[0] for x in peer['subject'])['commonName'] == 'localhost'
    assert alpn == 'h2'
    assert names == ['tls.example']


def test_renegotiation_is_refused_cleanly(loop):
    # OpenSSL refuses a TLS 1.2 client's renegotiation; s_client gives up with an
    # alert, and our side sees it as the connection's error, nothing else.
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))

    async def main():
        protocol = LineServer(loop)
        server = await loop.create_server(lambda: protocol, '127.0.0.1', 0,
                                          ssl=server_context())
        client = await openssl_client(server.sockets[0].getsockname()[1], '-tls1_2')
        client.stdin.write(b'hello\n')
        await client.stdout.readexactly(len(b'you said: hello\n'))
        client.stdin.write(b'R\n')
        exc = await asyncio.wait_for(protocol.lost, 5)
        _, stderr = await asyncio.wait_for(client.communicate(), 5)
        server.close()
        await server.wait_closed()
        return exc, stderr, bytes(protocol.data)

    exc, stderr, data = loop.run_until_complete(main())
    assert data == b'hello\n'
    assert isinstance(exc, ssl.SSLError)
    assert b'no renegotiation' in stderr
    assert errors == []


def test_slow_openssl_reader_pauses_our_writes(loop):
    # s_client writes what it reads to its stdout; while nobody reads that pipe it
    # stops reading the socket, and our server must be told to pause.
    payload = os.urandom(16 * 1024 * 1024)

    class Sender(asyncio.Protocol):
        def __init__(self):
            self.events = []
            self.resumed = loop.create_future()
            self.lost = loop.create_future()

        def connection_made(self, transport):
            self.transport = transport
            self.sent = 0
            self.send()

        def send(self):
            while self.sent < len(payload) and 'pause' != (self.events or [''])[-1]:
                self.transport.write(payload[self.sent:self.sent + 65536])
                self.sent += 65536
            if self.sent >= len(payload):
                self.transport.close()

        def pause_writing(self):
            self.events.append('pause')

        def resume_writing(self):
            self.events.append('resume')
            self.send()

        def connection_lost(self, exc):
            self.lost.set_result(exc)

    async def main():
        protocol = Sender()
        server = await loop.create_server(lambda: protocol, '127.0.0.1', 0,
                                          ssl=server_context())
        client = await openssl_client(server.sockets[0].getsockname()[1])
        for _ in range(1000):
            if protocol.events:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        paused_while_unread = list(protocol.events)
        buffered = protocol.transport.get_write_buffer_size()
        received = await client.stdout.readexactly(len(payload))
        # s_client answers our close_notify with its own, then exits.
        exc = await asyncio.wait_for(protocol.lost, 10)
        client.stdin.close()
        await client.wait()
        server.close()
        await server.wait_closed()
        return paused_while_unread, buffered, received, exc, protocol.events

    paused, buffered, received, exc, events = loop.run_until_complete(main())
    assert paused == ['pause']
    assert buffered > 0
    assert events.count('pause') == events.count('resume') or events[-1] == 'pause'
    assert 'resume' in events
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    assert exc is None
