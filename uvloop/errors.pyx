# libuv error codes to the Python exceptions asyncio raises for the same failure.
#
# On Unix a libuv error is -errno, so OSError(errno, strerror) picks the same subclass
# (ConnectionRefusedError, FileNotFoundError, ...) that the socket module would raise.
# Resolver errors (UV_EAI_*) become socket.gaierror with the system's EAI_* code.

import os
import socket as socket_module

cdef object os_strerror = os.strerror


# Built at import, not lazily: loops in many threads read it without a lock.
cdef dict _gaierror_codes = {
    uv.UV_EAI_ADDRFAMILY: getattr(socket_module, 'EAI_ADDRFAMILY', -9),
    uv.UV_EAI_AGAIN: socket_module.EAI_AGAIN,
    uv.UV_EAI_BADFLAGS: socket_module.EAI_BADFLAGS,
    uv.UV_EAI_FAIL: socket_module.EAI_FAIL,
    uv.UV_EAI_FAMILY: socket_module.EAI_FAMILY,
    uv.UV_EAI_MEMORY: socket_module.EAI_MEMORY,
    uv.UV_EAI_NODATA: getattr(socket_module, 'EAI_NODATA', -5),
    uv.UV_EAI_NONAME: socket_module.EAI_NONAME,
    uv.UV_EAI_OVERFLOW: socket_module.EAI_OVERFLOW,
    uv.UV_EAI_SERVICE: socket_module.EAI_SERVICE,
    uv.UV_EAI_SOCKTYPE: socket_module.EAI_SOCKTYPE,
}


cdef convert_error(int uverr):
    """The exception for a negative libuv status code (not raised: returned)."""
    eai = _gaierror_codes.get(uverr)
    if eai is not None:
        return socket_module.gaierror(eai, gai_strerror(eai).decode())
    if uverr == uv.UV_EOF:
        return ConnectionResetError('unexpected end of stream')
    return OSError(-uverr, os_strerror(-uverr))


cdef raise_errno():
    """Raise OSError for the C `errno` a failed system call left."""
    cdef int err = errno
    raise OSError(err, os_strerror(err))
