# firmware/emuboard: an emulated RP2040 board: a real MicroPython rp2 firmware image in rp2040js.
# MIT licence; part of ws2 for MicroPython.
#
# The emulator (firmware/rp2emu.mjs, Node.js + the npm package rp2040js)
# speaks the board's USB CDC console on its stdin/stdout. This side owns a
# pseudo-terminal and relays between the two, so mpremote, pyserial and the
# test harness open /dev/pts/N exactly as they open /dev/ttyACM0. Unlike the
# unix virtual board nothing here imitates the board: the soft reset, the
# REPL, the littlefs filesystem and the 32-bit heap are the firmware's own.
#
# Flow control: input is read from the pty only while the emulator's stdin
# pipe takes it; the emulator pauses that pipe while its queue in front of the
# 512-byte CDC FIFO is long. A writer to the pty therefore blocks, as on USB.
import fcntl
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading

from firmware import ROOT, FirmwareError, boards
from firmware.ptyboard import PtyBoard, die_with_parent

SCRIPT = os.path.join(ROOT, "firmware", "rp2emu.mjs")
NODE_MODULES = os.path.join(ROOT, "node_modules")
RP2040JS = "rp2040js"
USB_UP = "rp2emu: usb connected"  # the emulator's note when the host side has enumerated the console
_OUT_MAX = 1 << 20  # board output kept for a client that does not read; beyond it, it is dropped


class EmulatorError(FirmwareError):
    """The emulated board cannot start (missing image, bootrom, Node.js or rp2040js), or it stopped."""


def is_emulated(board):
    """True when board (a name or a loaded board.json) runs in the RP2040 emulator."""
    if isinstance(board, str):
        board = boards.load(board)
    return board.get("emulator") == RP2040JS


def default_image(board=None):
    """The firmware image: $FIRMWARE, else build/<MicroPython board>/firmware.uf2 when `make firmware` made one."""
    env = os.environ.get("FIRMWARE")
    if env:
        return env
    name = (board or {}).get("micropython_board", "RPI_PICO_W")
    built = os.path.join(ROOT, "build", name, "firmware.uf2")
    return built if os.path.isfile(built) else None


def default_bootrom():
    """The RP2040 bootrom image: $BOOTROM, else build/rp2040-bootrom-b1.bin when present."""
    env = os.environ.get("BOOTROM")
    if env:
        return env
    here = os.path.join(ROOT, "build", "rp2040-bootrom-b1.bin")
    return here if os.path.isfile(here) else None


def missing(image=None, bootrom=None):
    """What the emulated board lacks on this machine, as a sentence; None when it can start."""
    if not shutil.which("node"):
        return "Node.js is not installed (apt-get install nodejs npm; then make emu-deps)"
    if not os.path.isdir(os.path.join(NODE_MODULES, RP2040JS)):
        return "the npm package rp2040js is not installed (make emu-deps)"
    if not image:
        return ("no firmware image: give FIRMWARE=path/to/firmware.uf2 (MicroPython's RPI_PICO_W image, or "
                "the one `make firmware BOARD=RPI_PICO_W` built)")
    if not os.path.isfile(image):
        return "firmware image %s does not exist" % image
    if not bootrom:
        return "no RP2040 bootrom: give BOOTROM=path/to/rp2040-bootrom-b1.bin (16384 bytes, revision B1)"
    if not os.path.isfile(bootrom):
        return "bootrom %s does not exist" % bootrom
    return None


def _child_setup():
    # Own process group (the stop kills it whole), and die with this process.
    os.setsid()
    die_with_parent()


class EmulatedBoard(PtyBoard):
    """One emulated RP2040 board: start() it, open .device like a serial port, stop() it."""

    def __init__(self, board="RPI_PICO_W_EMU", flash=None, image=None, bootrom=None, log=None, **_):
        self.board = boards.load(board) if isinstance(board, str) else board
        self.image = os.path.abspath(image) if image else default_image(self.board)
        self.bootrom = os.path.abspath(bootrom) if bootrom else default_bootrom()
        why = missing(self.image, self.bootrom)
        if why:
            raise EmulatorError("emulated %s: %s" % (self.board["name"], why))
        self._own_flash = flash is None
        self._tmp = tempfile.mkdtemp(prefix="ws2-emu-") if flash is None else None
        self.flash = os.path.abspath(flash) if flash else os.path.join(self._tmp, "flash.bin")
        self.log = log or (lambda msg: None)
        self.resets = 0
        self.notes = []  # the emulator's own messages (stderr), never on the serial line
        self._proc = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = None
        self._err_thread = None
        self._restart_wanted = False
        self._open_pty()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, timeout=30, wait=True):
        """Power the board on and wait until its USB console is up; returns the serial device path.

        As on a real Pico, the boot banner stays in the firmware's USB buffer
        until the first input: a client sends Ctrl-C or Enter to get a prompt.
        wait=False returns at once; input written before the console is up is held for it.
        """
        try:
            self._spawn()
        except OSError as e:
            self._cleanup()
            raise EmulatorError("cannot start the emulator: %s" % e)
        self._thread = threading.Thread(target=self._relay, name="emuboard-relay", daemon=True)
        self._thread.start()
        if wait and not self._ready.wait(timeout):
            notes = "; ".join(self.notes[-3:])
            self.stop()
            raise EmulatorError("emulated %s: no USB console within %ss (image %s)%s"
                                % (self.board["name"], timeout, self.image, (": " + notes) if notes else ""))
        return self.device

    @property
    def pid(self):
        """The emulator's process id while it runs, else None."""
        return self._proc.pid if self._proc else None

    def stop(self):
        """Power off: end the emulator (its flash file is kept up to date), close the pty."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._kill()
        self._cleanup()

    def crash(self):
        """Cut the power: kill the emulator at once; the board starts again from its flash."""
        self._restart_wanted = True
        super().crash()

    # -- the emulator process ---------------------------------------------------------------

    def _spawn(self):
        args = ["node", SCRIPT, "--bootrom", self.bootrom, "--image", self.image, "--flash", self.flash,
                "--flash-size", str(self.board.get("flash_bytes", 2 * 1024 * 1024))]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      cwd=ROOT, preexec_fn=_child_setup, close_fds=True)
        for f in (self._proc.stdin, self._proc.stdout):
            fcntl.fcntl(f.fileno(), fcntl.F_SETFL, fcntl.fcntl(f.fileno(), fcntl.F_GETFL) | os.O_NONBLOCK)
        self._err_thread = threading.Thread(target=self._read_notes, args=(self._proc,), daemon=True)
        self._err_thread.start()
        self.log("emulator %d started (%s)" % (self._proc.pid, os.path.basename(self.image)))

    def _read_notes(self, proc):
        for line in proc.stderr:
            text = line.decode(errors="replace").rstrip()
            if "Unimplemented peripheral" in text:
                continue  # registers the firmware touches and rp2040js ignores; harmless
            if text == USB_UP:
                self._ready.set()
                continue
            self.notes.append(text)
            del self.notes[:-50]
            self.log(text)

    def _kill(self):
        p = self._proc
        if p is None:
            return
        # SIGTERM first: the emulator closes its flash file and exits.
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)
            except OSError:
                break
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except OSError:
                pass
        if self._err_thread:
            self._err_thread.join(timeout=2)
        self._proc = None

    def _cleanup(self):
        self._close_pty()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- relay ------------------------------------------------------------------------------

    def _relay(self):
        to_board = b""  # read from the pty, not yet taken by the emulator's stdin
        to_client = b""  # board output the pty did not take yet
        while not self._stop.is_set():
            proc = self._proc
            if proc is None:
                break
            ofd, ifd = proc.stdout.fileno(), proc.stdin.fileno()
            rfds = [ofd] + ([] if to_board else [self._cfd])
            wfds = ([ifd] if to_board else []) + ([self._cfd] if to_client else [])
            try:
                r, w, _ = select.select(rfds, wfds, [], 0.1)
            except (OSError, ValueError):
                break
            if self._cfd in r:
                try:
                    to_board += os.read(self._cfd, 4096)
                except OSError:
                    pass
            if ifd in w and to_board:
                try:
                    to_board = to_board[os.write(ifd, to_board):]
                except BlockingIOError:
                    pass
                except OSError:
                    to_board = b""
            if ofd in r:
                try:
                    data = os.read(ofd, 65536)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b""
                if data:
                    to_client = (to_client + data)[-_OUT_MAX:]
                elif data == b"":
                    self._exited(proc)
                    to_board = b""
                    continue
            if to_client:
                try:
                    to_client = to_client[os.write(self._cfd, to_client):]
                except BlockingIOError:
                    pass
                except OSError:
                    to_client = b""

    def _exited(self, proc):
        rc = proc.wait()
        if self._stop.is_set():
            return
        if self._restart_wanted:
            self._restart_wanted = False
            self.resets += 1
            self.log("emulator killed (power cut); starting again")
            self._kill()
            self._spawn()
            return
        self.log("emulator exited (%s): %s" % (rc, "; ".join(self.notes[-3:]) or "no message"))
        self._kill()
