# firmware/ptyboard: what the virtual board (vboard) and the emulated board (emuboard) share: the pty a
# client opens as the board's serial port, a board process in a group of its own that dies with this one,
# power cuts, and `with` use.
# MIT licence; part of ws2 for MicroPython.
import fcntl
import os
import pty
import signal
import tty

_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In a child (preexec_fn): be killed when this process ends, so nothing is ever left behind."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


class PtyBoard:
    """A board behind a pty: .device is the end a client opens like a serial port, _cfd the relay's end;
    _proc is the board's process, leader of its own process group."""

    _proc = None

    def _open_pty(self):
        self._cfd, self._sfd = pty.openpty()
        tty.setraw(self._sfd)
        fcntl.fcntl(self._cfd, fcntl.F_SETFL, fcntl.fcntl(self._cfd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.device = os.ttyname(self._sfd)

    def _close_pty(self):
        for fd in (self._cfd, self._sfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._cfd = self._sfd = -1

    def _signal(self, sig):
        """Send sig to the board's whole process group; False when it is gone."""
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, sig)
            return True
        except OSError:
            return False

    def crash(self):
        """Cut the power: kill the board's processes at once; it starts again as after a reset."""
        self._signal(signal.SIGKILL)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
