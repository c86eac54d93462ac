# The few system headers the loop needs beyond libuv. Declarations only.

from libc.stdint cimport uint16_t, uint32_t
from posix.types cimport off_t, pid_t


cdef extern from "sys/socket.h" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t

    struct sockaddr:
        sa_family_t sa_family

    struct sockaddr_storage:
        sa_family_t ss_family

    int AF_INET
    int AF_INET6
    int AF_UNIX
    int AF_UNSPEC
    int SOL_SOCKET
    int SO_REUSEADDR

    int getsockopt(int sockfd, int level, int optname, void* optval,
                   socklen_t* optlen)
    int setsockopt(int sockfd, int level, int optname, const void* optval,
                   socklen_t optlen)
    int SOCK_NONBLOCK
    int SOCK_CLOEXEC

    int getsockname(int sockfd, sockaddr* addr, socklen_t* addrlen)
    ssize_t recvfrom(int sockfd, void* buf, size_t len, int flags,
                     sockaddr* src_addr, socklen_t* addrlen)
    int listen(int sockfd, int backlog)
    int accept4(int sockfd, sockaddr* addr, socklen_t* addrlen, int flags)
    int getpeername(int sockfd, sockaddr* addr, socklen_t* addrlen)


cdef extern from "netinet/in.h" nogil:
    struct in_addr:
        pass

    struct in6_addr:
        pass

    struct sockaddr_in:
        sa_family_t sin_family
        uint16_t sin_port
        in_addr sin_addr

    struct sockaddr_in6:
        sa_family_t sin6_family
        uint16_t sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id


cdef extern from "sys/un.h" nogil:
    struct sockaddr_un:
        sa_family_t sun_family
        char sun_path[108]


cdef extern from "arpa/inet.h" nogil:
    uint16_t ntohs(uint16_t)
    uint16_t htons(uint16_t)
    uint32_t ntohl(uint32_t)
    uint32_t htonl(uint32_t)
    const char* inet_ntop(int af, const void* src, char* dst, socklen_t size)
    int inet_pton(int af, const char* src, void* dst)


cdef extern from "netdb.h" nogil:
    const char* gai_strerror(int errcode)


cdef extern from "unistd.h" nogil:
    int close(int fd)
    pid_t getpid()
    ssize_t read(int fd, void* buf, size_t count)


cdef extern from "sys/sendfile.h" nogil:
    ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count)


cdef extern from "fcntl.h" nogil:
    int fcntl(int fd, int cmd, ...)
    int F_DUPFD_CLOEXEC
    int F_GETFL
    int F_SETFL
    int O_NONBLOCK


cdef extern from "signal.h" nogil:
    int SIGINT
    int SIGKILL
    int SIGTERM


cdef extern from "sys/wait.h" nogil:
    int WNOHANG


cdef extern from "errno.h" nogil:
    int errno
    int EBADF
    int ENOENT
    int EINTR
    int EAGAIN
    int EWOULDBLOCK
    int ECONNABORTED
    int EMFILE
    int ENFILE
    int ENOBUFS
    int ENOMEM
    int EIO
    int ENOTCONN
    int ENAMETOOLONG
    int ECHILD
    int EINVAL
    int ENOSYS
    int EPERM
