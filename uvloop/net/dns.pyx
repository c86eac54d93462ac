# Name resolution for loop.getaddrinfo() / getnameinfo(): numeric hosts and ports
# are answered at once; names go to the default executor, as in asyncio.
#
# Needs: Loop.run_in_executor().

import socket as socket_module


async def _getaddrinfo(Loop loop, host, port, family, type, proto, flags):
    if _is_numeric_service(port):
        try:
            return socket_module.getaddrinfo(
                host, port, family, type, proto,
                flags | socket_module.AI_NUMERICHOST | socket_module.AI_NUMERICSERV)
        except socket_module.gaierror:
            pass
    return await loop.run_in_executor(
        None, socket_module.getaddrinfo, host, port, family, type, proto, flags)


async def _getnameinfo(Loop loop, sockaddr, flags):
    numeric = socket_module.NI_NUMERICHOST | socket_module.NI_NUMERICSERV
    if flags & numeric == numeric:
        return socket_module.getnameinfo(sockaddr, flags)
    return await loop.run_in_executor(
        None, socket_module.getnameinfo, sockaddr, flags)


cdef bint _is_numeric_service(port):
    if port is None or isinstance(port, int):
        return True
    if isinstance(port, (str, bytes)):
        return port.isdigit()
    return False
