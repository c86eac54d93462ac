# The parts of libuv's uv.h that the loop uses. Declarations only; nothing runs here.
# libuv calls our callbacks inside uv_run(), which the loop calls holding the GIL.

from libc.stdint cimport uint64_t, int64_t

from .system cimport sockaddr


cdef extern from "uv.h" nogil:
    # Error codes (negative errno values on Unix).
    cdef int UV_EOF
    cdef int UV_EAGAIN
    cdef int UV_EALREADY
    cdef int UV_ECANCELED
    cdef int UV_ENOBUFS
    cdef int UV_EAI_ADDRFAMILY
    cdef int UV_EAI_AGAIN
    cdef int UV_EAI_BADFLAGS
    cdef int UV_EAI_FAIL
    cdef int UV_EAI_FAMILY
    cdef int UV_EAI_MEMORY
    cdef int UV_EAI_NODATA
    cdef int UV_EAI_NONAME
    cdef int UV_EAI_OVERFLOW
    cdef int UV_EAI_SERVICE
    cdef int UV_EAI_SOCKTYPE

    ctypedef int uv_os_fd_t

    ctypedef enum uv_run_mode:
        UV_RUN_DEFAULT = 0,
        UV_RUN_ONCE,
        UV_RUN_NOWAIT

    ctypedef struct uv_loop_t:
        void* data

    ctypedef struct uv_handle_t:
        void* data
        uv_loop_t* loop

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
        size_t send_queue_count

    ctypedef struct uv_poll_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_timer_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_async_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_process_t:
        void* data
        uv_loop_t* loop
        int pid

    ctypedef struct uv_fs_event_t:
        void* data
        uv_loop_t* loop

    ctypedef struct uv_shutdown_t:
        void* data
        uv_stream_t* handle

    ctypedef struct uv_write_t:
        void* data
        uv_stream_t* handle

    ctypedef struct uv_udp_send_t:
        void* data
        uv_udp_t* handle

    ctypedef struct uv_buf_t:
        char* base
        size_t len


# Callbacks run holding the GIL: the loop calls uv_run() holding it (loop_wait.h), so
# neither these types nor uv_run() are `nogil`.
cdef extern from "uv.h":
    int uv_run(uv_loop_t*, uv_run_mode mode)

    ctypedef void (*uv_close_cb)(uv_handle_t* handle) noexcept
    ctypedef void (*uv_poll_cb)(uv_poll_t* handle, int status, int events) noexcept
    ctypedef void (*uv_timer_cb)(uv_timer_t* handle) noexcept
    ctypedef void (*uv_async_cb)(uv_async_t* handle) noexcept
    ctypedef void (*uv_alloc_cb)(uv_handle_t* handle, size_t suggested_size,
                                 uv_buf_t* buf) noexcept
    ctypedef void (*uv_read_cb)(uv_stream_t* stream, ssize_t nread,
                                const uv_buf_t* buf) noexcept
    ctypedef void (*uv_write_cb)(uv_write_t* req, int status) noexcept
    ctypedef void (*uv_shutdown_cb)(uv_shutdown_t* req, int status) noexcept
    ctypedef void (*uv_connection_cb)(uv_stream_t* server, int status) noexcept
    ctypedef void (*uv_udp_send_cb)(uv_udp_send_t* req, int status) noexcept
    ctypedef void (*uv_exit_cb)(uv_process_t*, int64_t exit_status,
                                int term_signal) noexcept
    ctypedef void (*uv_fs_event_cb)(uv_fs_event_t* handle, const char* filename,
                                    int events, int status) noexcept


cdef extern from "uv.h" nogil:
    unsigned int uv_version()
    const char* uv_version_string()

    # Loop
    int uv_loop_init(uv_loop_t* loop)
    int uv_loop_close(uv_loop_t* loop)
    int uv_loop_alive(const uv_loop_t* loop)
    void uv_stop(uv_loop_t*)
    void uv_update_time(uv_loop_t*)
    uint64_t uv_now(const uv_loop_t*)
    uint64_t uv_hrtime()

    # Handles
    void uv_close(uv_handle_t* handle, uv_close_cb close_cb)
    int uv_fileno(const uv_handle_t* handle, uv_os_fd_t* fd)

    # Timer, async
    int uv_timer_init(uv_loop_t*, uv_timer_t* handle)
    int uv_timer_start(uv_timer_t* handle, uv_timer_cb cb, uint64_t timeout,
                       uint64_t repeat)
    int uv_timer_stop(uv_timer_t* handle)
    int uv_async_init(uv_loop_t*, uv_async_t* async, uv_async_cb async_cb)
    int uv_async_send(uv_async_t* async)

    # Poll
    enum uv_poll_event:
        UV_READABLE = 1,
        UV_WRITABLE = 2
    int uv_poll_init(uv_loop_t* loop, uv_poll_t* handle, int fd)
    int uv_poll_start(uv_poll_t* handle, int events, uv_poll_cb cb)
    int uv_poll_stop(uv_poll_t* handle)

    # Filesystem events
    enum uv_fs_event:
        UV_RENAME = 1,
        UV_CHANGE = 2
    int uv_fs_event_init(uv_loop_t* loop, uv_fs_event_t* handle)
    int uv_fs_event_start(uv_fs_event_t* handle, uv_fs_event_cb cb, const char* path,
                          unsigned int flags)

    # Streams
    int uv_listen(uv_stream_t* stream, int backlog, uv_connection_cb cb)
    int uv_accept(uv_stream_t* server, uv_stream_t* client)
    int uv_read_start(uv_stream_t*, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
    int uv_read_stop(uv_stream_t*)
    int uv_write(uv_write_t* req, uv_stream_t* handle, const uv_buf_t bufs[],
                 unsigned int nbufs, uv_write_cb cb)
    int uv_try_write(uv_stream_t* handle, const uv_buf_t bufs[], unsigned int nbufs)
    int uv_shutdown(uv_shutdown_t* req, uv_stream_t* handle, uv_shutdown_cb cb)

    # TCP
    int uv_tcp_init(uv_loop_t*, uv_tcp_t* handle)
    int uv_tcp_open(uv_tcp_t* handle, uv_os_fd_t sock)
    int uv_tcp_nodelay(uv_tcp_t* handle, int enable)

    # Pipes (Unix sockets and anonymous pipes)
    int uv_pipe_init(uv_loop_t*, uv_pipe_t* handle, int ipc)
    int uv_pipe_open(uv_pipe_t*, uv_os_fd_t file)

    # UDP
    int uv_udp_init(uv_loop_t*, uv_udp_t* handle)
    int uv_udp_open(uv_udp_t* handle, uv_os_fd_t sock)
    int uv_udp_send(uv_udp_send_t* req, uv_udp_t* handle, const uv_buf_t bufs[],
                    unsigned int nbufs, const sockaddr* addr, uv_udp_send_cb send_cb)
    int uv_udp_try_send(uv_udp_t* handle, const uv_buf_t bufs[], unsigned int nbufs,
                        const sockaddr* addr)
    size_t uv_udp_get_send_queue_size(const uv_udp_t* handle)

    # Processes
    ctypedef enum uv_stdio_flags:
        UV_INHERIT_FD = 0x02

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

    int uv_spawn(uv_loop_t* loop, uv_process_t* handle,
                 const uv_process_options_t* options)
    int uv_process_kill(uv_process_t*, int signum)
