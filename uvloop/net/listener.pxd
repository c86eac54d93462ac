cdef class StreamListener(UVHandle):
    # A listening TCP or Unix socket, watched with a uv_poll_t.
    cdef:
        int _fd                       # the dup()ed listening fd, ours to close
        bint _unix                    # accepted connections are Unix sockets
        int _batch                    # accept() calls per readiness (the backlog)
        object _server                # uvloop Server
        object _sock                  # the Server's listening socket object
        object _protocol_factory
        object _context
        TimerHandle _retry            # resumes accepting after running out of fds

    @staticmethod
    cdef StreamListener new(Loop loop, int fd, bint unix, int backlog, server, sock,
                            protocol_factory, context)
    cdef close(self)
    cdef _watch(self)
    cdef _accept_connections(self)
    cdef _back_off(self, int err)
    cdef _serve_connection(self, int fd)
