"""getaddrinfo and getnameinfo: the same results as the socket module."""

import socket

import pytest


@pytest.mark.parametrize('host, port, kwargs', [
    ('127.0.0.1', 80, {}),
    ('::1', 443, {'type': socket.SOCK_STREAM}),
    ('localhost', 8080, {'family': socket.AF_INET}),
    ('localhost', 'http', {}),
    (None, 0, {'flags': socket.AI_PASSIVE}),
    (b'127.0.0.1', b'53', {'type': socket.SOCK_DGRAM}),
    ('127.0.0.1', None, {'proto': socket.IPPROTO_TCP}),
])
def test_getaddrinfo_matches_socket_getaddrinfo(loop, host, port, kwargs):
    result = loop.run_until_complete(loop.getaddrinfo(host, port, **kwargs))
    expected = socket.getaddrinfo(host, port, kwargs.get('family', 0),
                                  kwargs.get('type', 0), kwargs.get('proto', 0),
                                  kwargs.get('flags', 0))
    assert result == expected
    assert all(isinstance(info[0], socket.AddressFamily) for info in result)


def test_getaddrinfo_of_an_unknown_host_raises_gaierror(loop):
    with pytest.raises(socket.gaierror):
        loop.run_until_complete(loop.getaddrinfo('no-such-host.invalid', 80))


def test_getaddrinfo_with_a_bad_port_raises_like_socket(loop):
    with pytest.raises(socket.gaierror):
        loop.run_until_complete(loop.getaddrinfo('127.0.0.1', 'no-such-service'))


@pytest.mark.parametrize('flags', [2 ** 31, -2 ** 31 - 1, 2 ** 64])
@pytest.mark.parametrize('host', ['127.0.0.1', 'localhost'])
def test_getaddrinfo_flags_out_of_c_int_range_raise_overflow_error(loop, host, flags):
    with pytest.raises(OverflowError):
        loop.run_until_complete(loop.getaddrinfo(host, 80, flags=flags))


@pytest.mark.parametrize('sockaddr, flags', [
    (('127.0.0.1', 80), 0),
    (('127.0.0.1', 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV),
    (('::1', 22, 0, 0), socket.NI_NUMERICSERV),
])
def test_getnameinfo_matches_socket_getnameinfo(loop, sockaddr, flags):
    result = loop.run_until_complete(loop.getnameinfo(sockaddr, flags))
    assert result == socket.getnameinfo(sockaddr, flags)
