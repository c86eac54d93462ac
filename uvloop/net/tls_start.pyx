# Starting TLS: the checks of the ssl arguments, the TLS layer of each connection a
# TLS server accepts, and start_tls() (STARTTLS: TLS over a connection already open).
# Connections made with ssl= get theirs in net/connect.pyx.
#
# Needs: TLSProtocol (net/tls.pyx), UVStream (transports/stream.pyx), asyncio's
# private stream attributes (listed in asyncio_compat.pyx).

import asyncio
import functools
import ssl as ssl_module

cdef object StreamReaderProtocol = asyncio.StreamReaderProtocol


cdef _check_tls_arguments(ssl, handshake_timeout, shutdown_timeout):
    """asyncio's checks: the TLS timeouts mean nothing without TLS, and must be
    positive with it."""
    if not ssl:
        if handshake_timeout is not None:
            raise ValueError('ssl_handshake_timeout is only meaningful with ssl')
        if shutdown_timeout is not None:
            raise ValueError('ssl_shutdown_timeout is only meaningful with ssl')
        return
    _timeout_or_default('ssl_handshake_timeout', handshake_timeout, 0)
    _timeout_or_default('ssl_shutdown_timeout', shutdown_timeout, 0)


def _tls_server_protocol(Loop loop, protocol_factory, ssl, handshake_timeout,
                         shutdown_timeout):
    """The protocol a TLS server gives each accepted connection."""
    return _new_tls_protocol(loop, protocol_factory(), ssl, None, True, None,
                             handshake_timeout, shutdown_timeout)


cdef _tls_server_protocol_factory(Loop loop, protocol_factory, ssl,
                                  handshake_timeout, shutdown_timeout):
    if ssl is None:
        return protocol_factory
    return functools.partial(_tls_server_protocol, loop, protocol_factory, ssl,
                             handshake_timeout, shutdown_timeout)


cdef _unread_stream_bytes(protocol):
    """asyncio streams: the bytes a StreamReader took in before the upgrade and nobody
    read. They can only be the start of the peer's TLS stream (its ClientHello, sent
    right behind STARTTLS), so they are taken out of the reader for the TLS layer."""
    if not isinstance(protocol, StreamReaderProtocol):
        return None
    reader = protocol._stream_reader
    if reader is None or not reader._buffer:
        return None
    data = bytes(reader._buffer)
    reader._buffer.clear()
    return data


async def _start_tls(Loop loop, transport, protocol, sslcontext, bint server_side,
                     server_hostname, handshake_timeout, shutdown_timeout):
    if not isinstance(sslcontext, ssl_module.SSLContext):
        raise TypeError(f'sslcontext is expected to be an instance of '
                        f'ssl.SSLContext, got {sslcontext!r}')
    if not getattr(transport, '_start_tls_compatible', False):
        raise TypeError(f'transport {transport!r} is not supported by start_tls()')
    cdef UVStream stream = transport
    waiter = loop.create_future()
    cdef TLSProtocol tls = _new_tls_protocol(
        loop, protocol, sslcontext, waiter, server_side, server_hostname,
        handshake_timeout, shutdown_timeout, call_connection_made=False)
    unread = _unread_stream_bytes(protocol)
    # From here every byte the stream reads is the TLS layer's: the stream keeps no
    # read-ahead, so what the peer sent since the plain protocol's last
    # data_received() is still in the kernel, or in `unread`.
    stream.set_protocol(tls)
    tls.connection_made(stream)
    if unread:
        tls.data_received(unread)
    stream.resume_reading()
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
    # The app protocol gets data only once the caller holds the new transport: a
    # server answering from data_received() must never answer in plaintext.
    tls._release_delivery()
    return tls._app_transport
