"""Helpers for the TLS tests: the test certificates' contexts, a TLS peer driven by
hand over a blocking socket (so a test can send exactly the records it wants and see
those it gets), and openssl command-line peers."""

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

CERTS = Path(__file__).parent / 'certs'
OPENSSL = '/usr/bin/openssl'


def server_context(cert='rsa', **options):
    """A server context for localhost: 'rsa' (server.pem, signed by ca.pem) or 'ec'
    (ec-localhost.pem, self-signed; a cheaper handshake for tests that make many)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if cert == 'rsa':
        context.load_cert_chain(CERTS / 'server.pem', CERTS / 'server.key')
    else:
        context.load_cert_chain(CERTS / 'ec-localhost.pem', CERTS / 'ec-localhost.key')
    for name, value in options.items():
        setattr(context, name, value)
    return context


def client_context(cert='rsa', **options):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(CERTS / ('ca.pem' if cert == 'rsa'
                                           else 'ec-localhost.pem'))
    for name, value in options.items():
        setattr(context, name, value)
    return context


def record_types(raw):
    """The content types of the whole TLS records in `raw`."""
    types = []
    offset = 0
    while offset + 5 <= len(raw):
        length = int.from_bytes(raw[offset + 3:offset + 5], 'big')
        types.append(raw[offset])
        offset += 5 + length
    return types


class RawTLSPeer:
    """One end of a TLS connection over a blocking socket: an ssl.SSLObject over two
    MemoryBIOs, each step explicit. `raw_received` keeps every byte read from the
    socket since the handshake."""

    def __init__(self, sock, context, server_side=False, server_hostname=None):
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing,
                                    server_side=server_side,
                                    server_hostname=server_hostname)
        self.raw_received = bytearray()
        self.close_notify_received = False

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self._read_socket(record=False)
        self.flush()

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _read_socket(self, record=True):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionResetError('the peer closed the socket')
        if record:
            self.raw_received += data
        self.incoming.write(data)

    def encrypt(self, data):
        """The records of `data`, not sent."""
        self.tls.write(data)
        return self.outgoing.read()

    def send(self, data):
        self.sock.sendall(self.encrypt(data))

    def close_notify(self):
        """Our close_notify, not sent (the peer's is not waited for)."""
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def recv(self, nbytes):
        """Exactly `nbytes` of plaintext (fewer if a close_notify comes first)."""
        data = bytearray()
        while len(data) < nbytes:
            try:
                chunk = self.tls.read(nbytes - len(data))
            except ssl.SSLWantReadError:
                self.flush()
                self._read_socket()
                continue
            if not chunk:
                self.close_notify_received = True
                break
            data += chunk
        self.flush()
        return bytes(data)

    def recv_until_close_notify(self):
        """All plaintext up to the peer's close_notify."""
        data = bytearray()
        while not self.close_notify_received:
            data += self.recv(1 << 20)
        return bytes(data)


def run_in_thread(function, *args):
    """Start function(*args) in a daemon thread; returns a concurrent future-like
    object: .result(timeout) gives its result or raises its exception."""
    result = {}
    done = threading.Event()

    def target():
        try:
            result['value'] = function(*args)
        except BaseException as exc:
            result['error'] = exc
        finally:
            done.set()

    class Outcome:
        def result(self, timeout=10):
            if not done.wait(timeout):
                raise TimeoutError(f'{function.__name__} did not finish')
            if 'error' in result:
                raise result['error']
            return result.get('value')

        def done(self):
            return done.is_set()

    threading.Thread(target=target, daemon=True).start()
    return Outcome()


async def wait_thread(outcome, timeout=10):
    """Await a run_in_thread() outcome without blocking the loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not outcome.done():
        if loop.time() > deadline:
            raise TimeoutError('the peer thread did not finish')
        await asyncio.sleep(0.005)
    return outcome.result(0)


def listening_socket():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen()
    return sock


def require_openssl():
    """The openssl binary: a test that needs it fails (not skips) without it."""
    assert shutil.which(OPENSSL), f'{OPENSSL} is needed (Debian package openssl)'
    return OPENSSL
