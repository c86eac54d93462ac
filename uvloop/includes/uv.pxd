# The parts of libuv's uv.h that the loop uses. Declarations only; nothing runs here.
# Callbacks passed to libuv are declared `noexcept with gil` at their definitions: libuv
# calls them while the loop thread has released the GIL around uv_run().

from libc.stdint cimport uint64_t, int64_t
from posix.types cimport gid_t, uid_t, pid_t

from .system cimport sockaddr, addrinfo, sockaddr_storage


cdef extern from "uv.h" nogil:
    # Error codes (negative errno values on Unix).
    cdef int UV_EOF
    cdef int UV_EAGAIN
    cdef int UV_EALREADY
    cdef int UV_EBADF
    cdef int UV_ECANCELED
    cdef int UV_EEXIST
    cdef int UV_EINVAL
    cdef int UV_ENOENT
    cdef int UV_ENOSYS
    cdef int UV_ENOTCONN
    cdef int UV_ENOTSUP
    cdef int UV_EPIPE
    cdef int UV_ECONNRESET
    cdef int UV_ENOBUFS
    cdef int UV_EAI_ADDRFAMILY
    cdef int UV_EAI_AGAIN
    cdef int UV_EAI_BADFLAGS
    cdef int UV_EAI_BADHINTS
    cdef int UV_EAI_CANCELED
    cdef int UV_EAI_FAIL
    cdef int UV_EAI_FAMILY
    cdef int UV_EAI_MEMORY
    cdef int UV_EAI_NODATA
    cdef int UV_EAI_NONAME
    cdef int UV_EAI_OVERFLOW
    cdef int UV_EAI_PROTOCOL
    cdef int UV_EAI_SERVICE
    cdef int UV_EAI_SOCKTYPE

    ctypedef int uv_os_sock_t
    ctypedef int uv_file
    ctypedef int uv_os_fd_t
    ctypedef pid_t uv_pid_t
    ctypedef uid_t uv_uid_t
    ctypedef gid_t uv_gid_t

    ctypedef enum uv_run_mode:
        UV_RUN_DEFAULT = 0,
        UV_RUN_ONCE,
        UV_RUN_NOWAIT

    ctypedef enum uv_handle_type:
        UV_UNKNOWN_HANDLE = 0,
        UV_ASYNC,
        UV_CHECK,
        UV_FS_EVENT,
        UV_FS_POLL,
        UV_HANDLE,
        UV_IDLE,
        UV_NAMED_PIPE,
        UV_POLL,
        UV_PREPARE,
        UV_PROCESS,
        UV_STREAM,
        UV_TCP,
        UV_TIMER,
        UV_TTY,
        UV_UDP,
        UV_SIGNAL,
        UV_FILE,
        UV_HANDLE_TYPE_MAX

    ctypedef enum uv_loop_option:
        UV_LOOP_BLOCK_SIGNAL = 0,
        UV_METRICS_IDLE_TIME

    ctypedef struct uv_loop_t:
        void* data

    ctypedef struct uv_handle_t:
        void* data
        uv_loop_t* loop
        uv_handle_type type

    ctypedef struct uv_stream_t:
        void* data
        uv_loop_t* loop
        size_t write_queue_size

    ctypedef struct uv_tcp_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_pipe_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_udp_t:
        void* data
        uv_loop_t* loop
        size_t send_queue_size
        size_t send_queue_count

    ctypedef struct uv_poll_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_timer_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_idle_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_check_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_async_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_signal_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_process_t:
        void* data
        uv_loop_t* loop
        int pid

    ctypedef struct uv_req_t:
        void* data

    ctypedef struct uv_connect_t:
        void* data
        uv_stream_t* handle

    ctypedef struct uv_shutdown_t:
        void* data
        uv_stream_t* handle

    ctypedef struct uv_write_t:
        void* data
        uv_stream_t* handle

    ctypedef struct uv_udp_send_t:
        void* data
        uv_udp_t* handle

    ctypedef struct uv_getaddrinfo_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_getnameinfo_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_buf_t:
        char* base
        size_t len

    ctypedef void (*uv_close_cb)(uv_handle_t* handle) noexcept
    ctypedef void (*uv_walk_cb)(uv_handle_t* handle, void* arg) noexcept
    ctypedef void (*uv_poll_cb)(uv_poll_t* handle, int status, int events) noexcept
    ctypedef void (*uv_timer_cb)(uv_timer_t* handle) noexcept
    ctypedef void (*uv_idle_cb)(uv_idle_t* handle) noexcept
    ctypedef void (*uv_check_cb)(uv_check_t* handle) noexcept
    ctypedef void (*uv_async_cb)(uv_async_t* handle) noexcept
    ctypedef void (*uv_signal_cb)(uv_signal_t* handle, int signum) noexcept
    ctypedef void (*uv_alloc_cb)(uv_handle_t* handle, size_t suggested_size,
                                 uv_buf_t* buf) noexcept
    ctypedef void (*uv_read_cb)(uv_stream_t* stream, ssize_t nread,
                                const uv_buf_t* buf) noexcept
    ctypedef void (*uv_write_cb)(uv_write_t* req, int status) noexcept
    ctypedef void (*uv_connect_cb)(uv_connect_t* req, int status) noexcept
    ctypedef void (*uv_shutdown_cb)(uv_shutdown_t* req, int status) noexcept
    ctypedef void (*uv_connection_cb)(uv_stream_t* server, int status) noexcept
    ctypedef void (*uv_udp_send_cb)(uv_udp_send_t* req, int status) noexcept
    ctypedef void (*uv_udp_recv_cb)(uv_udp_t* handle, ssize_t nread,
                                    const uv_buf_t* buf, const sockaddr* addr,
                                    unsigned flags) noexcept
    ctypedef void (*uv_exit_cb)(uv_process_t*, int64_t exit_status,
                                int term_signal) noexcept
    ctypedef void (*uv_getaddrinfo_cb)(uv_getaddrinfo_t* req, int status,
                                       addrinfo* res) noexcept
    ctypedef void (*uv_getnameinfo_cb)(uv_getnameinfo_t* req, int status,
                                       const char* hostname,
                                       const char* service) noexcept

    unsigned int uv_version()
    const char* uv_version_string()
    const char* uv_strerror(int err)
    const char* uv_err_name(int err)
    int uv_translate_sys_error(int sys_errno)

    # Loop
    int uv_loop_init(uv_loop_t* loop)
    int uv_loop_close(uv_loop_t* loop)
    int uv_loop_alive(const uv_loop_t* loop)
    int uv_loop_fork(uv_loop_t* loop)
    int uv_run(uv_loop_t*, uv_run_mode mode)
    void uv_stop(uv_loop_t*)
    void uv_update_time(uv_loop_t*)
    uint64_t uv_now(const uv_loop_t*)
    uint64_t uv_hrtime()
    int uv_backend_fd(const uv_loop_t*)
    void uv_walk(uv_loop_t* loop, uv_walk_cb walk_cb, void* arg)

    # Handles
    void uv_close(uv_handle_t* handle, uv_close_cb close_cb)
    int uv_is_closing(const uv_handle_t* handle)
    int uv_is_active(const uv_handle_t* handle)
    void uv_ref(uv_handle_t*)
    void uv_unref(uv_handle_t*)
    int uv_has_ref(const uv_handle_t*)
    int uv_fileno(const uv_handle_t* handle, uv_os_fd_t* fd)
    int uv_send_buffer_size(uv_handle_t* handle, int* value)
    int uv_recv_buffer_size(uv_handle_t* handle, int* value)
    uv_buf_t uv_buf_init(char* base, unsigned int len)

    # Timer, idle, check, async
    int uv_timer_init(uv_loop_t*, uv_timer_t* handle)
    int uv_timer_start(uv_timer_t* handle, uv_timer_cb cb, uint64_t timeout,
                       uint64_t repeat)
    int uv_timer_stop(uv_timer_t* handle)
    int uv_idle_init(uv_loop_t*, uv_idle_t* idle)
    int uv_idle_start(uv_idle_t* idle, uv_idle_cb cb)
    int uv_idle_stop(uv_idle_t* idle)
    int uv_check_init(uv_loop_t*, uv_check_t* check)
    int uv_check_start(uv_check_t* check, uv_check_cb cb)
    int uv_check_stop(uv_check_t* check)
    int uv_async_init(uv_loop_t*, uv_async_t* async, uv_async_cb async_cb)
    int uv_async_send(uv_async_t* async)

    # Poll
    enum uv_poll_event:
        UV_READABLE = 1,
        UV_WRITABLE = 2,
        UV_DISCONNECT = 4,
        UV_PRIORITIZED = 8
    int uv_poll_init(uv_loop_t* loop, uv_poll_t* handle, int fd)
    int uv_poll_start(uv_poll_t* handle, int events, uv_poll_cb cb)
    int uv_poll_stop(uv_poll_t* handle)

    # Signals
    int uv_signal_init(uv_loop_t* loop, uv_signal_t* handle)
    int uv_signal_start(uv_signal_t* handle, uv_signal_cb signal_cb, int signum)
    int uv_signal_stop(uv_signal_t* handle)

    # Streams
    int uv_listen(uv_stream_t* stream, int backlog, uv_connection_cb cb)
    int uv_accept(uv_stream_t* server, uv_stream_t* client)
    int uv_read_start(uv_stream_t*, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
    int uv_read_stop(uv_stream_t*)
    int uv_write(uv_write_t* req, uv_stream_t* handle, const uv_buf_t bufs[],
                 unsigned int nbufs, uv_write_cb cb)
    int uv_write2(uv_write_t* req, uv_stream_t* handle, const uv_buf_t bufs[],
                  unsigned int nbufs, uv_stream_t* send_handle, uv_write_cb cb)
    int uv_try_write(uv_stream_t* handle, const uv_buf_t bufs[], unsigned int nbufs)
    int uv_shutdown(uv_shutdown_t* req, uv_stream_t* handle, uv_shutdown_cb cb)
    int uv_is_readable(const uv_stream_t* handle)
    int uv_is_writable(const uv_stream_t* handle)
    size_t uv_stream_get_write_queue_size(const uv_stream_t* stream)

    # TCP
    enum uv_tcp_flags:
        UV_TCP_IPV6ONLY = 1
    int uv_tcp_init(uv_loop_t*, uv_tcp_t* handle)
    int uv_tcp_init_ex(uv_loop_t*, uv_tcp_t* handle, unsigned int flags)
    int uv_tcp_open(uv_tcp_t* handle, uv_os_sock_t sock)
    int uv_tcp_nodelay(uv_tcp_t* handle, int enable)
    int uv_tcp_keepalive(uv_tcp_t* handle, int enable, unsigned int delay)
    int uv_tcp_bind(uv_tcp_t* handle, const sockaddr* addr, unsigned int flags)
    int uv_tcp_getsockname(const uv_tcp_t* handle, sockaddr* name, int* namelen)
    int uv_tcp_getpeername(const uv_tcp_t* handle, sockaddr* name, int* namelen)
    int uv_tcp_close_reset(uv_tcp_t* handle, uv_close_cb close_cb)
    int uv_tcp_connect(uv_connect_t* req, uv_tcp_t* handle, const sockaddr* addr,
                       uv_connect_cb cb)

    # Pipes (Unix sockets and anonymous pipes)
    int uv_pipe_init(uv_loop_t*, uv_pipe_t* handle, int ipc)
    int uv_pipe_open(uv_pipe_t*, uv_file file)
    int uv_pipe_bind(uv_pipe_t* handle, const char* name)
    void uv_pipe_connect(uv_connect_t* req, uv_pipe_t* handle, const char* name,
                         uv_connect_cb cb)
    int uv_pipe_getsockname(const uv_pipe_t* handle, char* buffer, size_t* size)
    int uv_pipe_getpeername(const uv_pipe_t* handle, char* buffer, size_t* size)
    int uv_pipe(uv_file fds[2], int read_flags, int write_flags)
    uv_handle_type uv_guess_handle(uv_file file)

    # UDP
    enum uv_udp_flags:
        UV_UDP_IPV6ONLY = 1,
        UV_UDP_PARTIAL = 2,
        UV_UDP_REUSEADDR = 4,
        UV_UDP_MMSG_CHUNK = 8,
        UV_UDP_MMSG_FREE = 16,
        UV_UDP_LINUX_RECVERR = 32,
        UV_UDP_RECVMMSG = 256
    int uv_udp_init(uv_loop_t*, uv_udp_t* handle)
    int uv_udp_init_ex(uv_loop_t*, uv_udp_t* handle, unsigned int flags)
    int uv_udp_open(uv_udp_t* handle, uv_os_sock_t sock)
    int uv_udp_bind(uv_udp_t* handle, const sockaddr* addr, unsigned int flags)
    int uv_udp_connect(uv_udp_t* handle, const sockaddr* addr)
    int uv_udp_getpeername(const uv_udp_t* handle, sockaddr* name, int* namelen)
    int uv_udp_getsockname(const uv_udp_t* handle, sockaddr* name, int* namelen)
    int uv_udp_set_broadcast(uv_udp_t* handle, int on)
    int uv_udp_send(uv_udp_send_t* req, uv_udp_t* handle, const uv_buf_t bufs[],
                    unsigned int nbufs, const sockaddr* addr, uv_udp_send_cb send_cb)
    int uv_udp_try_send(uv_udp_t* handle, const uv_buf_t bufs[], unsigned int nbufs,
                        const sockaddr* addr)
    int uv_udp_recv_start(uv_udp_t* handle, uv_alloc_cb alloc_cb,
                          uv_udp_recv_cb recv_cb)
    int uv_udp_recv_stop(uv_udp_t* handle)
    size_t uv_udp_get_send_queue_size(const uv_udp_t* handle)

    # DNS
    int uv_getaddrinfo(uv_loop_t* loop, uv_getaddrinfo_t* req,
                       uv_getaddrinfo_cb getaddrinfo_cb, const char* node,
                       const char* service, const addrinfo* hints)
    void uv_freeaddrinfo(addrinfo* ai)
    int uv_getnameinfo(uv_loop_t* loop, uv_getnameinfo_t* req,
                       uv_getnameinfo_cb getnameinfo_cb, const sockaddr* addr,
                       int flags)

    # Processes
    ctypedef enum uv_stdio_flags:
        UV_IGNORE = 0x00,
        UV_CREATE_PIPE = 0x01,
        UV_INHERIT_FD = 0x02,
        UV_INHERIT_STREAM = 0x04,
        UV_READABLE_PIPE = 0x10,
        UV_WRITABLE_PIPE = 0x20,
        UV_NONBLOCK_PIPE = 0x40,
        UV_OVERLAPPED_PIPE = 0x40

    ctypedef union uv_stdio_container_data:
        uv_stream_t* stream
        int fd

    ctypedef struct uv_stdio_container_t:
        uv_stdio_flags flags
        uv_stdio_container_data data

    ctypedef struct uv_process_options_t:
        uv_exit_cb exit_cb
        const char* file
        char** args
        char** env
        const char* cwd
        unsigned int flags
        int stdio_count
        uv_stdio_container_t* stdio
        uv_uid_t uid
        uv_gid_t gid

    enum uv_process_flags:
        UV_PROCESS_SETUID = (1 << 0),
        UV_PROCESS_SETGID = (1 << 1),
        UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS = (1 << 2),
        UV_PROCESS_DETACHED = (1 << 3),
        UV_PROCESS_WINDOWS_HIDE = (1 << 4)

    int uv_spawn(uv_loop_t* loop, uv_process_t* handle,
                 const uv_process_options_t* options)
    int uv_process_kill(uv_process_t*, int signum)
    int uv_kill(int pid, int signum)
    uv_pid_t uv_process_get_pid(const uv_process_t*)
