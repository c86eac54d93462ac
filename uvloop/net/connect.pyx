# What the loop's networking methods (loop.pyx) share: turning a Python socket into a
# transport, and loop.sendfile()'s fallback over any transport.
#
# The descriptor rule of every transport (stream.pyx): libuv owns the fd it is given.
# A socket the loop created itself gives its fd away (socket.detach()); a socket the
# user passed in stays the user's object and fd, libuv gets a dup(), and the transport
# closes the user's socket after connection_lost(), as asyncio does.


cdef UVStream _new_socket_transport(Loop loop, sock, bint users_socket):
    """A stream transport (not started) over the connected socket `sock`: TCP for
    AF_INET/AF_INET6, a plain stream (uv_pipe_t) for AF_UNIX and the rest."""
    cdef UVStream transport
    cdef int fd
    if sock.family in (socket_module.AF_INET, socket_module.AF_INET6):
        transport = TCPTransport.new(loop)
    else:
        transport = UnixTransport.new(loop)
    try:
        if users_socket:
            transport._file = sock
            fd = _dup_fd(sock.fileno())
        else:
            fd = sock.detach()
        transport._open_fd(fd)
    except BaseException:
        transport._file = None
        UVHandle.close(transport)
        raise
    return transport
