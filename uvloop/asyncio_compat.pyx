# Every name this package takes from asyncio beyond its public API, in one place.
#
# We follow the running Python's asyncio where it defines behaviour (its checks, its
# name resolution, its exception-handler format), so we call some of its private
# helpers. Each is resolved here at import: a Python that renamed one fails at
# `import uvloop` with an AttributeError naming it, not later in a user's call.
# All checked on CPython 3.11, 3.12 and 3.13 (the Pythons CI runs).
#
# BaseEventLoop methods called unbound, with our Loop as `self`: they use only
# public loop methods plus the ones our Loop provides for them (noted per entry).
#
# Private attributes we touch, not resolvable at import: Task._source_traceback
# (dropped frame of create_task, as asyncio does), Future._log_destroy_pending
# (run_until_complete's own task), Handle._source_traceback (read by
# default_exception_handler on our Handle), StreamReaderProtocol._stream_reader and
# StreamReader._buffer (start_tls() takes the bytes a reader holds unread: see
# net/tls_start.pyx).

from asyncio import base_events as _base_events
from asyncio import constants as _constants
from asyncio import coroutines as _coroutines
from asyncio import events as _events
from asyncio import format_helpers as _format_helpers
from asyncio import futures as _futures
from asyncio import staggered as _staggered
from asyncio import trsock as _trsock
from asyncio.log import logger as aio_logger

# The running loop of this thread (also exported as asyncio._set_running_loop).
cdef object aio_set_running_loop = _events._set_running_loop
cdef object aio_get_running_loop_or_none = _events._get_running_loop
# PYTHONASYNCIODEBUG / -X dev: the default of a new loop's debug mode.
cdef object aio_is_debug_mode = _coroutines._is_debug_mode
# Debug mode's source tracebacks and the repr of callbacks in Handle reprs.
cdef object aio_extract_stack = _format_helpers.extract_stack
cdef object aio_format_callback_source = _format_helpers._format_callback_source
cdef object aio_set_result_unless_cancelled = _futures._set_result_unless_cancelled
# What get_extra_info('socket') and Server.sockets hand out.
cdef object aio_TransportSocket = _trsock.TransportSocket
cdef object aio_SendfileMode = _constants._SendfileMode
cdef object aio_LOG_THRESHOLD_FOR_CONNLOST_WRITES = \
    _constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES
cdef object aio_DEBUG_STACK_DEPTH = _constants.DEBUG_STACK_DEPTH
# How long a server stops accepting after running out of fds.
cdef object aio_ACCEPT_RETRY_DELAY = _constants.ACCEPT_RETRY_DELAY
cdef object aio_check_ssl_socket = _base_events._check_ssl_socket
cdef object aio_interleave_addrinfos = _base_events._interleave_addrinfos
cdef object aio_set_reuseport = _base_events._set_reuseport
cdef object aio_HAS_IPv6 = _base_events._HAS_IPv6
# Happy Eyeballs.
cdef object aio_staggered_race = _staggered.staggered_race
# TLS defaults (net/tls.pyx): timeouts in seconds, water marks in KiB.
cdef object aio_SSL_HANDSHAKE_TIMEOUT = _constants.SSL_HANDSHAKE_TIMEOUT
cdef object aio_SSL_SHUTDOWN_TIMEOUT = _constants.SSL_SHUTDOWN_TIMEOUT
cdef object aio_FLOW_CONTROL_HIGH_WATER_SSL_READ = \
    _constants.FLOW_CONTROL_HIGH_WATER_SSL_READ
cdef object aio_FLOW_CONTROL_HIGH_WATER_SSL_WRITE = \
    _constants.FLOW_CONTROL_HIGH_WATER_SSL_WRITE

# Unbound BaseEventLoop methods.
# Uses loop.getaddrinfo().
cdef object aio_ensure_resolved = _base_events.BaseEventLoop._ensure_resolved
# Uses loop.sock_connect().
cdef object aio_connect_sock = _base_events.BaseEventLoop._connect_sock
# Uses loop._current_handle (debug mode's running Handle).
cdef object aio_default_exception_handler = \
    _base_events.BaseEventLoop.default_exception_handler
# Uses loop._ensure_resolved() and loop._make_datagram_transport().
cdef object aio_create_datagram_endpoint = \
    _base_events.BaseEventLoop.create_datagram_endpoint
# Uses loop._check_sendfile_params(), _sock_sendfile_native() and
# _sock_sendfile_fallback().
cdef object aio_sock_sendfile = _base_events.BaseEventLoop.sock_sendfile
cdef object aio_check_sendfile_params = _base_events.BaseEventLoop._check_sendfile_params
cdef object aio_sock_sendfile_fallback = \
    _base_events.BaseEventLoop._sock_sendfile_fallback
# The debug-mode log line of a subprocess (its `self` is unused).
cdef object aio_log_subprocess = _base_events.BaseEventLoop._log_subprocess
