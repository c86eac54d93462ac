# A socket address read from a file descriptor, kept in C until Python asks for it.
ctypedef struct _CapturedAddr:
    sockaddr_storage storage
    socklen_t length
    bint valid
