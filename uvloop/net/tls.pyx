# TLS: a protocol layered on our stream transports, not a second socket path.
#
# Needs: asyncio's SSLProtocol (asyncio_compat.pyx).
#
# The TLS state machine is asyncio's own `sslproto.SSLProtocol` (ssl.MemoryBIO based):
# it sits between a TCP or Unix transport of ours and the user's protocol, and hands
# the user `ssl_protocol._app_transport`. Using the running Python's implementation
# gives exactly asyncio's TLS behaviour (handshake and shutdown timeouts, errors,
# get_extra_info keys: sslcontext, ssl_object, peercert, cipher, compression).

import functools
import ssl as ssl_module


cdef _check_tls_arguments(ssl, handshake_timeout, shutdown_timeout):
    """asyncio's checks: the TLS timeouts mean nothing without TLS."""
    if not ssl:
        if handshake_timeout is not None:
            raise ValueError('ssl_handshake_timeout is only meaningful with ssl')
        if shutdown_timeout is not None:
            raise ValueError('ssl_shutdown_timeout is only meaningful with ssl')


cdef _new_tls_protocol(Loop loop, app_protocol, ssl, waiter, bint server_side,
                       server_hostname, handshake_timeout, shutdown_timeout,
                       bint call_connection_made=True):
    # ssl=True asks for a default context; SSLProtocol makes one from None.
    sslcontext = None if isinstance(ssl, bool) else ssl
    return aio_SSLProtocol(
        loop, app_protocol, sslcontext, waiter, server_side, server_hostname,
        call_connection_made=call_connection_made,
        ssl_handshake_timeout=handshake_timeout,
        ssl_shutdown_timeout=shutdown_timeout)


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


async def _start_tls(Loop loop, transport, protocol, sslcontext, bint server_side,
                     server_hostname, handshake_timeout, shutdown_timeout):
    if not isinstance(sslcontext, ssl_module.SSLContext):
        raise TypeError(f'sslcontext is expected to be an instance of '
                        f'ssl.SSLContext, got {sslcontext!r}')
    if not getattr(transport, '_start_tls_compatible', False):
        raise TypeError(f'transport {transport!r} is not supported by start_tls()')
    waiter = loop.create_future()
    ssl_protocol = _new_tls_protocol(
        loop, protocol, sslcontext, waiter, server_side, server_hostname,
        handshake_timeout, shutdown_timeout, call_connection_made=False)
    # Nothing is read between here and the handshake: the transport keeps no
    # read-ahead, so bytes the peer already sent (its ClientHello) wait in the kernel
    # and go to the TLS protocol once reading resumes.
    transport.pause_reading()
    transport.set_protocol(ssl_protocol)
    connection_made = loop.call_soon(ssl_protocol.connection_made, transport)
    resume_reading = loop.call_soon(transport.resume_reading)
    try:
        await waiter
    except BaseException:
        transport.close()
        connection_made.cancel()
        resume_reading.cancel()
        raise
    return ssl_protocol._app_transport
