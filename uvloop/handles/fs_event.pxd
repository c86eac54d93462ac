cdef class UVFSEvent(UVHandle):
    cdef:
        object _path
        # The user's callback in the context current at _monitor_fs(); its args are
        # set per event. None once the handle is closed.
        Handle _callback_handle

    cdef _run(self, const char* filename, int events)

    @staticmethod
    cdef UVFSEvent new(Loop loop, path, callback)
