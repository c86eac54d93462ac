# SignalHandlers: loop.add_signal_handler() / remove_signal_handler(), and the wakeup
# fd that lets Python-level signal handlers (KeyboardInterrupt, asyncio.Runner's SIGINT
# handler) run while the loop sleeps in uv_run().
#
# Needs: UVPoll (handles/poll.pyx), Handle (callbacks.pyx).
#
# Python's C signal handler only sets a flag and writes the signal number to the
# wakeup fd; while this thread sleeps in uv_run() nothing would run the Python-level
# handlers. The loop watches the read end of a socketpair given to
# signal.set_wakeup_fd(), as asyncio's selector loop does, dispatches the numbers to
# the Handles of add_signal_handler(), then runs the Python-level handlers. The loop
# also runs them after each uv_run(), before any callback; either way what they raise
# ends run_forever, as asyncio's select() lets it out.
# Main thread only (Python's rule for signal handlers and the wakeup fd).

import signal as signal_module
import socket as socket_module
import threading


def _sighandler_noop(signum, frame):
    """Python-level handler for signals dispatched through the wakeup fd."""


cdef _set_python_handler(int sig, handler):
    try:
        signal_module.signal(sig, handler)
    except OSError as exc:
        if exc.errno == EINVAL:
            raise RuntimeError(f'sig {sig} cannot be caught')
        raise


cdef class _WakeupHandle(Handle):
    """Runs the wakeup fd's reader. Python-level signal handlers run inside it, and
    what they raise (SystemExit, a watchdog's error) must end run_forever as on
    asyncio's loop, not reach the exception handler as a callback's error would."""

    cdef _run(self):
        self._callback()


cdef class SignalHandlers:

    def __cinit__(self, Loop loop):
        self._loop = loop
        self._handlers = {}

    cdef install_wakeup(self):
        if self.wakeup_installed or \
                threading.current_thread() is not threading.main_thread():
            return
        if self._wakeup_r is None:
            self._wakeup_r, self._wakeup_w = socket_module.socketpair()
            self._wakeup_r.setblocking(False)
            self._wakeup_w.setblocking(False)
        # Our own poll, not an fd watch of the user's registry: the socket is ours
        # and stays open, and its event tells the loop that signals arrived.
        poll = UVPoll.new(self._loop, self._wakeup_r.fileno(), True)
        try:
            self._saved_wakeup_fd = signal_module.set_wakeup_fd(
                self._wakeup_w.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            # Not the main interpreter, or the fd cannot be used: run without it.
            UVHandle.close(poll)
            return
        self._wakeup_poll = poll
        self.wakeup_installed = True
        poll.signal_wakeup = True
        poll.set_handle(False, _WakeupHandle(self._read_wakeups, (), self._loop, None))

    cdef uninstall_wakeup(self):
        # Signal handlers added with add_signal_handler keep the wakeup fd, as in
        # asyncio, so their signals are still delivered at the next run.
        if not self.wakeup_installed or self._handlers:
            return
        UVHandle.close(self._wakeup_poll)
        self._wakeup_poll = None
        try:
            signal_module.set_wakeup_fd(self._saved_wakeup_fd)
        except (ValueError, OSError):
            pass
        self._saved_wakeup_fd = None
        self.wakeup_installed = False

    def _read_wakeups(self):
        while True:
            try:
                data = self._wakeup_r.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            for signum in data:
                handle = self._handlers.get(signum)
                if handle is None:
                    continue
                if (<Handle>handle)._cancelled:
                    self.remove(signum)
                else:
                    self._loop._append_ready(<Handle>handle)
        # Run Python-level signal handlers now: a signal read here may have arrived
        # after the loop's own check (Loop._run_once), and must not wait for the next
        # wake-up.
        PyErr_CheckSignals()

    cdef add(self, int sig, Handle handle):
        """Run `handle` when `sig` arrives (the caller checked its arguments)."""
        self.install_wakeup()
        if not self.wakeup_installed:
            raise RuntimeError('set_wakeup_fd only works in main thread '
                               'of the main interpreter')
        self._handlers[sig] = handle
        try:
            # A no-op Python handler: the C handler writes the signal number to the
            # wakeup fd, and _read_wakeups dispatches it.
            _set_python_handler(sig, _sighandler_noop)
            signal_module.siginterrupt(sig, False)
        except BaseException:
            del self._handlers[sig]
            if not self._handlers and not self._loop.is_running():
                self.uninstall_wakeup()
            raise

    cdef bint remove(self, int sig) except -1:
        """Restore the signal's default handling; True if it had a handler."""
        try:
            del self._handlers[sig]
        except KeyError:
            return False
        if sig == SIGINT:
            _set_python_handler(sig, signal_module.default_int_handler)
        else:
            _set_python_handler(sig, signal_module.SIG_DFL)
        if not self._handlers and not self._loop.is_running():
            self.uninstall_wakeup()
        return True

    cdef remove_all(self):
        for sig in list(self._handlers):
            self.remove(sig)

    cdef close(self):
        if self.wakeup_installed:
            # Python's wakeup fd still names _wakeup_w (remove_all() failed): closing
            # it would let signals write into whatever reuses its number.
            return
        for sock in (self._wakeup_r, self._wakeup_w):
            if sock is not None:
                sock.close()
        self._wakeup_r = self._wakeup_w = None
