# Socket addresses between C and Python, for the transports' extra info
# ('sockname', 'peername') and the datagram transport's addresses.
#
# The Python forms are those of the socket module: (host, port) for AF_INET,
# (host, port, flowinfo, scope_id) for AF_INET6, a str path for AF_UNIX (bytes for a
# Linux abstract name, '' for an unnamed socket). The transports keep the raw C
# address of a connection and build the Python object only when asked.

from libc.stdint cimport uint16_t, uint32_t
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_FromStringAndSize


cdef object _sockaddr_to_py(const sockaddr* addr, socklen_t addrlen):
    """The socket module's Python form of `addr`, or None for a family we do not
    know (or an empty address)."""
    cdef char host[64]
    cdef const sockaddr_in* addr4
    cdef const sockaddr_in6* addr6
    cdef const sockaddr_un* addr_un
    cdef Py_ssize_t path_len
    if addrlen < sizeof(sa_family_t):
        return None
    if addr.sa_family == AF_INET:
        addr4 = <const sockaddr_in*>addr
        inet_ntop(AF_INET, &addr4.sin_addr, host, sizeof(host))
        return (host.decode(), ntohs(addr4.sin_port))
    if addr.sa_family == AF_INET6:
        addr6 = <const sockaddr_in6*>addr
        inet_ntop(AF_INET6, &addr6.sin6_addr, host, sizeof(host))
        return (host.decode(), ntohs(addr6.sin6_port),
                ntohl(addr6.sin6_flowinfo), addr6.sin6_scope_id)
    if addr.sa_family == AF_UNIX:
        addr_un = <const sockaddr_un*>addr
        path_len = <Py_ssize_t>addrlen - (<const char*>addr_un.sun_path -
                                          <const char*>addr_un)
        if path_len <= 0:
            return ''
        if addr_un.sun_path[0] == 0:
            # Linux abstract namespace: every byte counts, NULs included.
            return PyBytes_FromStringAndSize(addr_un.sun_path, path_len)
        return PyUnicode_DecodeFSDefault(addr_un.sun_path)
    return None


cdef bint _capture_sockaddr(_CapturedAddr* captured, int fd, bint peer) noexcept:
    """Read the local (or peer) address of `fd` into `captured`; False if the system
    call failed (for example ENOTCONN: the peer is gone already)."""
    captured.length = sizeof(captured.storage)
    memset(&captured.storage, 0, sizeof(captured.storage))
    if peer:
        captured.valid = getpeername(fd, <sockaddr*>&captured.storage,
                                     &captured.length) == 0
    else:
        captured.valid = getsockname(fd, <sockaddr*>&captured.storage,
                                     &captured.length) == 0
    return captured.valid


cdef object _captured_sockaddr_to_py(_CapturedAddr* captured):
    if not captured.valid:
        return None
    return _sockaddr_to_py(<sockaddr*>&captured.storage, captured.length)


cdef int _numeric_sockaddr(object address, int family, sockaddr_storage* out,
                           socklen_t* outlen) except -1:
    """Fill `out` from a Python address whose host is a numeric IP (or a path for
    AF_UNIX). Returns 0, or 1 when the host is not numeric (the caller resolves it);
    raises TypeError/ValueError/OverflowError for a malformed address, as the socket
    module would."""
    cdef sockaddr_in* addr4
    cdef sockaddr_in6* addr6
    cdef sockaddr_un* addr_un
    cdef bytes path
    memset(out, 0, sizeof(sockaddr_storage))
    if family == AF_UNIX:
        if isinstance(address, str):
            path = PyUnicode_EncodeFSDefault(address)
        elif isinstance(address, (bytes, bytearray)):
            path = bytes(address)
        else:
            raise TypeError(f'a str or bytes path is required, not '
                            f'{type(address).__name__}')
        addr_un = <sockaddr_un*>out
        if len(path) > sizeof(addr_un.sun_path):
            raise OSError(ENAMETOOLONG, 'AF_UNIX path too long')
        addr_un.sun_family = AF_UNIX
        memcpy(addr_un.sun_path, <char*>path, len(path))
        outlen[0] = <socklen_t>((<char*>addr_un.sun_path - <char*>addr_un) +
                                len(path) + (0 if path[:1] == b'\0' else 1))
        return 0
    if not isinstance(address, tuple):
        raise TypeError(f'{"AF_INET" if family == AF_INET else "AF_INET6"} '
                        f'address must be tuple, not {type(address).__name__}')
    if family == AF_INET:
        if len(address) != 2:
            raise TypeError(f'AF_INET address must be a pair (host, port)')
        host, port = address
    elif family == AF_INET6:
        if not 2 <= len(address) <= 4:
            raise TypeError('AF_INET6 address must be a tuple '
                            '(host, port[, flowinfo[, scopeid]])')
        host, port = address[0], address[1]
    else:
        raise ValueError(f'unsupported address family {family}')
    if not isinstance(host, str):
        raise TypeError(f'str, bytes or bytearray expected, not '
                        f'{type(host).__name__}')
    if not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be "
                        f"interpreted as an integer")
    if not 0 <= port <= 65535:
        raise OverflowError('port must be 0-65535.')
    # The socket module's special names; any other numeric host is ASCII.
    if host == '':
        host = '0.0.0.0' if family == AF_INET else '::'
    elif host == '<broadcast>':
        host = '255.255.255.255' if family == AF_INET else host
    try:
        host_bytes = host.encode('ascii')
    except UnicodeEncodeError:
        return 1
    if family == AF_INET:
        addr4 = <sockaddr_in*>out
        if inet_pton(AF_INET, host_bytes, &addr4.sin_addr) != 1:
            return 1
        addr4.sin_family = AF_INET
        addr4.sin_port = htons(<uint16_t>port)
        outlen[0] = sizeof(sockaddr_in)
        return 0
    addr6 = <sockaddr_in6*>out
    if inet_pton(AF_INET6, host_bytes, &addr6.sin6_addr) != 1:
        return 1
    addr6.sin6_family = AF_INET6
    addr6.sin6_port = htons(<uint16_t>port)
    if len(address) > 2:
        addr6.sin6_flowinfo = htonl(<uint32_t>address[2])
    if len(address) > 3:
        addr6.sin6_scope_id = <uint32_t>address[3]
    outlen[0] = sizeof(sockaddr_in6)
    return 0
