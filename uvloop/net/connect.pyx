# Connecting: create_connection()'s address resolution and connection attempts (in
# turn, or raced with Happy Eyeballs), Unix socket paths, and the step every stream
# connection ends with: a started transport (plain or TLS) over a connected socket.
#
# Needs: TCPTransport, UnixTransport (transports/), _new_tls_protocol (net/tls.pyx),
# asyncio's helpers (asyncio_compat.pyx).
#
# The descriptor rule of every transport (transports/transport.pyx): libuv owns the
# fd it is given. A socket the loop created itself gives its fd away
# (socket.detach()); a socket the user passed in stays the user's object and fd,
# libuv gets a dup(), and the transport closes the user's socket after
# connection_lost(), as asyncio does.

import functools
import os
import socket as socket_module


async def _connect_tcp(Loop loop, host, port, family, proto, flags, local_addr,
                       happy_eyeballs_delay, interleave, bint all_errors):
    """A connected non-blocking socket to (host, port): every address resolved
    is tried in turn, or raced with Happy Eyeballs."""
    infos = await aio_ensure_resolved(
        loop, (host, port), family=family, type=socket_module.SOCK_STREAM,
        proto=proto, flags=flags, loop=loop)
    if not infos:
        raise OSError('getaddrinfo() returned empty list')
    laddr_infos = None
    if local_addr is not None:
        laddr_infos = await aio_ensure_resolved(
            loop, local_addr, family=family, type=socket_module.SOCK_STREAM,
            proto=proto, flags=flags, loop=loop)
        if not laddr_infos:
            raise OSError('getaddrinfo() returned empty list')
    if interleave:
        infos = aio_interleave_addrinfos(infos, interleave)

    exceptions = []      # one list of errors per address tried
    sock = None
    if happy_eyeballs_delay is None:
        for addrinfo in infos:
            try:
                sock = await aio_connect_sock(loop, exceptions, addrinfo, laddr_infos)
                break
            except OSError:
                continue
    else:
        sock, _, _ = await aio_staggered_race(
            (functools.partial(aio_connect_sock, loop, exceptions, addrinfo,
                               laddr_infos)
             for addrinfo in infos),
            happy_eyeballs_delay, loop=loop)
    if sock is None:
        raise _connect_error([exc for sub in exceptions for exc in sub], all_errors)
    return sock


cdef _connect_error(list exceptions, bint all_errors):
    """The error create_connection() raises when no address could be reached."""
    if all_errors:
        return ExceptionGroup('create_connection failed', exceptions)
    if len(exceptions) == 1:
        return exceptions[0]
    # The same error everywhere: report it once. Else all of their messages.
    model = str(exceptions[0])
    if all(str(exc) == model for exc in exceptions):
        return exceptions[0]
    return OSError('Multiple exceptions: {}'.format(
        ', '.join(str(exc) for exc in exceptions)))


cdef tuple _new_unix_stream_socket(path, sock):
    """(path as str or bytes, a new AF_UNIX stream socket) for the Unix methods given a
    path; asyncio's error if a socket was given too."""
    if sock is not None:
        raise ValueError('path and sock can not be specified at the same time')
    return os.fspath(path), socket_module.socket(socket_module.AF_UNIX,
                                                 socket_module.SOCK_STREAM)


cdef _check_unix_stream_socket(sock):
    if (sock.family != socket_module.AF_UNIX or
            sock.type != socket_module.SOCK_STREAM):
        raise ValueError(f'A UNIX Domain Stream Socket was expected, got {sock!r}')


async def _connect_unix(Loop loop, sock, path):
    """Connect our new socket `sock` to `path`; closed if that fails."""
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, path)
    except BaseException:
        sock.close()
        raise


cdef UVStream _new_socket_transport(Loop loop, sock, bint users_socket):
    """A stream transport (not started) over the connected socket `sock`: TCP for
    AF_INET/AF_INET6, a plain stream (uv_pipe_t) for AF_UNIX and the rest."""
    cdef UVStream transport
    if sock.family in (socket_module.AF_INET, socket_module.AF_INET6):
        transport = TCPTransport.new(loop)
    else:
        transport = UnixTransport.new(loop)
    if users_socket:
        transport._open_file(sock)
    else:
        transport._open_fd_or_close(sock.detach())
    return transport


async def _open_stream_transport(
        Loop loop, sock, protocol_factory, bint users_socket, ssl,
        server_hostname, bint server_side, handshake_timeout, shutdown_timeout):
    """(transport, protocol) over the connected socket `sock`, once the protocol
    is connected (after the TLS handshake, with `ssl`)."""
    cdef TLSProtocol tls_protocol = None
    cdef UVStream transport
    sock.setblocking(False)
    waiter = loop.create_future()
    try:
        protocol = protocol_factory()
        if ssl:
            # The TLS layer sets the waiter once the handshake is done.
            tls_protocol = _new_tls_protocol(
                loop, protocol, ssl, waiter, server_side, server_hostname,
                handshake_timeout, shutdown_timeout)
        transport = _new_socket_transport(loop, sock, users_socket)
    except BaseException:
        if not users_socket:
            sock.close()
        raise
    if tls_protocol is not None:
        transport._start(tls_protocol, None, None)
        user_transport = tls_protocol._app_transport
    else:
        transport._start(protocol, waiter, None)
        user_transport = transport
    try:
        await waiter
    except BaseException:
        if tls_protocol is None:
            # As upstream uvloop: a connection never handed over (the call was
            # cancelled after connection_made()) closes without connection_lost().
            # asyncpg's pool cancels connects in flight and takes a
            # connection_lost(None) there for an error (asyncio's loop calls it).
            transport._protocol_connected = False
        transport.close()
        raise
    return user_transport, protocol
