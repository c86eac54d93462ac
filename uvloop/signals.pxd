cdef class SignalHandlers:
    cdef:
        Loop _loop
        dict _handlers                # signal number -> Handle
        # Python's wakeup fd writes signal numbers into _wakeup_w.
        object _wakeup_r
        UVPoll _wakeup_poll           # watches _wakeup_r while installed
        object _wakeup_w
        object _saved_wakeup_fd
        bint wakeup_installed

    cdef install_wakeup(self)
    cdef uninstall_wakeup(self)
    cdef add(self, int sig, Handle handle)
    cdef bint remove(self, int sig) except -1
    cdef remove_all(self)
    cdef close(self)
