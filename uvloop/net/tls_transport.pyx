# TLSTransport: the transport an app protocol sees over TLS (asyncio's
# _SSLProtocolTransport API); every call goes to its TLSProtocol (net/tls.pyx).
#
# Needs: TLSProtocol (net/tls.pyx), asyncio's helpers (asyncio_compat.pyx).
#
# It is `closed` once close() or abort() was called or the connection is gone; it
# holds no resource of its own.


cdef class TLSTransport:

    def get_extra_info(self, name, default=None):
        return self._protocol._get_extra_info(name, default)

    def set_protocol(self, protocol):
        self._protocol._set_app_protocol(protocol)

    def get_protocol(self):
        return self._protocol._app_protocol

    def is_closing(self):
        return self._closed

    def close(self):
        """Send close_notify after the buffered data, then close once the peer
        answered with its own (or the shutdown timeout passed)."""
        if not self._closed:
            self._closed = True
            self._protocol._start_shutdown()

    def abort(self):
        """Close at once, with no close_notify: what the app wrote goes to the socket
        as far as it takes it now, the rest is dropped."""
        self._closed = True
        self._protocol._abort(None)

    # ----- reading ----------------------------------------------------------------

    def is_reading(self):
        return not self._protocol._app_reading_paused

    def pause_reading(self):
        self._protocol._pause_app_reading()

    def resume_reading(self):
        self._protocol._resume_app_reading()

    def set_read_buffer_limits(self, high=None, low=None):
        self._protocol._set_read_buffer_limits(high, low)

    def get_read_buffer_limits(self):
        return (self._protocol._read_low_water, self._protocol._read_high_water)

    def get_read_buffer_size(self):
        return self._protocol._incoming.pending + self._protocol._held_size

    # ----- writing ----------------------------------------------------------------

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expecting a bytes-like instance, "
                            f"got {type(data).__name__}")
        if data:
            self._protocol._write_appdata(data)

    def writelines(self, list_of_data):
        for data in list_of_data:
            self.write(data)

    def write_eof(self):
        raise NotImplementedError

    def can_write_eof(self):
        return False

    def set_write_buffer_limits(self, high=None, low=None):
        self._protocol._set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self):
        return self._protocol._transport.get_write_buffer_limits()

    def get_write_buffer_size(self):
        return self._protocol._write_buffer_size()

    @property
    def _protocol_paused(self):
        # What loop.sendfile()'s fallback reads, on asyncio's transports too.
        return self._protocol._app_writing_paused

    @property
    def _sendfile_compatible(self):
        return aio_SendfileMode.FALLBACK

    def __repr__(self):
        state = 'closed' if self._closed else 'open'
        return f'<TLSTransport {state} over {self._protocol._transport!r}>'
