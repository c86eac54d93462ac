# UVFSEvent: loop._monitor_fs(path, callback), upstream uvloop's watch on a file or
# directory (uv_fs_event_t: inotify on Linux, FSEvents or kqueue on macOS).
#
# Needs: UVHandle (handle.pyx), Handle (callbacks.pyx), convert_error (errors.pyx).
#
# The callback runs from libuv's callback, as upstream's does, not from the ready
# queue: so none runs after cancel(), not even for events libuv read in the same batch.
# It gets (filename as bytes, FileSystemEvent) and runs in the context that was current
# at _monitor_fs(); its errors go to the exception handler, KeyboardInterrupt and
# SystemExit end run_forever(). Handle life rules in handle.pyx.

import enum
import os


class FileSystemEvent(enum.IntEnum):
    RENAME = uv.UV_RENAME
    CHANGE = uv.UV_CHANGE
    RENAME_CHANGE = uv.UV_RENAME | uv.UV_CHANGE


cdef void _on_fs_event(uv.uv_fs_event_t* handle, const char* filename, int events,
                       int status) noexcept:
    cdef UVFSEvent watch = <UVFSEvent>handle.data
    if not watch.is_open():
        # Cancelled by an earlier callback: libuv's backends differ in whether they
        # deliver the rest of a batch to a closing handle.
        return
    try:
        if status < 0:
            raise convert_error(status)
        watch._run(filename, events)
    except BaseException as exc:
        watch._loop._handle_callback_error(exc, watch)


cdef class UVFSEvent(UVHandle):

    @staticmethod
    cdef UVFSEvent new(Loop loop, path, callback):
        path = os.fspath(path)
        cdef bytes c_path = os.fsencode(path)
        if b'\0' in c_path:
            raise ValueError('embedded null byte')
        cdef UVFSEvent watch = UVFSEvent.__new__(UVFSEvent)
        watch._alloc(loop, sizeof(uv.uv_fs_event_t))
        watch._attach_or_raise(
            uv.uv_fs_event_init(loop.uvloop, <uv.uv_fs_event_t*>watch._handle))
        watch._path = path
        watch._callback_handle = Handle(callback, (), loop, None)
        err = uv.uv_fs_event_start(<uv.uv_fs_event_t*>watch._handle, _on_fs_event,
                                   c_path, 0)
        if err < 0:
            watch.close()
            exc = convert_error(err)
            exc.filename = path
            raise exc
        return watch

    cdef _run(self, const char* filename, int events):
        cdef Handle handle = self._callback_handle
        # libuv may give no name (FreeBSD, some FSEvents cases).
        name = None if filename is NULL else <bytes>filename
        handle._args = (name, FileSystemEvent(events))
        if self._loop._debug:
            self._loop._run_handle_debug(handle)
        else:
            handle._run()

    cdef _on_closed(self):
        self._callback_handle = None

    def cancel(self):
        """Stop watching (idempotent); no callback runs after it."""
        self.close()

    def cancelled(self):
        return not self.is_open()

    def __repr__(self):
        return (f'<{type(self).__name__} path={self._path!r} '
                f'closed={self.cancelled()}>')
