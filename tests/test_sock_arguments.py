"""sock_* methods given what is not a usable socket raise what asyncio's loop raises,
with the same message: an object that is no socket fails on the first socket attribute
asyncio reads (AttributeError, also for sock_recvfrom_into); an SSL socket and a
read-only buffer raise TypeError."""

import io
import socket
import ssl

import pytest

# Each method, its arguments after the socket, and the attribute asyncio reads first.
SOCK_METHODS = [
    ('sock_recv', (10,), 'recv'),
    ('sock_recv_into', (bytearray(10),), 'recv_into'),
    ('sock_recvfrom', (10,), 'recvfrom'),
    ('sock_recvfrom_into', (bytearray(10),), 'recvfrom_into'),
    ('sock_sendall', (b'x',), 'send'),
    ('sock_sendto', (b'x', ('127.0.0.1', 9)), 'sendto'),
    ('sock_connect', (('127.0.0.1', 9),), 'family'),
    ('sock_accept', (), 'fileno'),
    ('sock_sendfile', (io.BytesIO(b'x'),), 'type'),
]


@pytest.fixture
def ssl_sock():
    """A non-blocking, unconnected SSL socket, closed after the test."""
    context = ssl.create_default_context()
    with context.wrap_socket(socket.socket(), server_hostname='example.com',
                             do_handshake_on_connect=False) as sock:
        sock.setblocking(False)
        yield sock


@pytest.mark.parametrize('method, args, attribute', SOCK_METHODS,
                         ids=[m[0] for m in SOCK_METHODS])
@pytest.mark.parametrize('not_a_socket', [None, 7, object()],
                         ids=['None', 'int', 'object'])
def test_an_object_that_is_no_socket_raises_attribute_error(
        loop, method, args, attribute, not_a_socket):
    message = f"object has no attribute '{attribute}'"
    with pytest.raises(AttributeError, match=message):
        loop.run_until_complete(getattr(loop, method)(not_a_socket, *args))


@pytest.mark.parametrize('method, args, attribute', SOCK_METHODS,
                         ids=[m[0] for m in SOCK_METHODS])
def test_in_debug_mode_an_object_that_is_no_socket_fails_on_gettimeout(
        loop, method, args, attribute):
    loop.set_debug(True)
    with pytest.raises(AttributeError, match="object has no attribute 'gettimeout'"):
        loop.run_until_complete(getattr(loop, method)(object(), *args))


@pytest.mark.parametrize('method, args, attribute', SOCK_METHODS,
                         ids=[m[0] for m in SOCK_METHODS])
def test_an_ssl_socket_raises_type_error(loop, ssl_sock, method, args, attribute):
    with pytest.raises(TypeError, match='Socket cannot be of type SSLSocket'):
        loop.run_until_complete(getattr(loop, method)(ssl_sock, *args))


@pytest.mark.parametrize('buffer', [b'xxxx', 'xxxx', memoryview(b'xxxx')],
                         ids=['bytes', 'str', 'read-only memoryview'])
def test_sock_recvfrom_into_a_read_only_buffer_raises_type_error(loop, buffer):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind(('127.0.0.1', 0))
        with pytest.raises(TypeError, match='read-write bytes-like object'):
            loop.run_until_complete(loop.sock_recvfrom_into(sock, buffer))


def test_sock_recvfrom_into_checks_the_socket_before_the_buffer(loop, ssl_sock):
    with pytest.raises(TypeError, match='Socket cannot be of type SSLSocket'):
        loop.run_until_complete(loop.sock_recvfrom_into(ssl_sock, None))


def test_in_debug_mode_a_blocking_ssl_socket_fails_sendfile_as_blocking(loop, ssl_sock):
    # asyncio's sock_sendfile checks the blocking mode (in debug mode) before the
    # socket's kind: ValueError, not TypeError.
    ssl_sock.setblocking(True)
    loop.set_debug(True)
    with open(__file__, 'rb') as f:
        with pytest.raises(ValueError, match='non-blocking'):
            loop.run_until_complete(loop.sock_sendfile(ssl_sock, f))
