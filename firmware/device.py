# firmware/device: one connection to a board (real or virtual) through mpremote's transport.
# MIT licence; part of ws2 for MicroPython.
import time

from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport


class DeviceError(Exception):
    """Code raised on the board; the message is the board's traceback."""


class DeviceTimeout(Exception):
    """The board sent nothing for the allowed time; it was interrupted and soft-reset."""


class _Recorder:
    # Stands in front of the pyserial object so every byte both ways is kept
    # for the transcript attached to failing tests.
    def __init__(self, serial, sink):
        self._serial = serial
        self._sink = sink

    def read(self, n=1):
        data = self._serial.read(n)
        self._sink.extend(data)
        return data

    def write(self, data):
        self._sink.extend(b"\n>>> " + bytes(data) + b"\n" if len(data) > 1 else b"")
        return self._serial.write(data)

    def __getattr__(self, name):
        return getattr(self._serial, name)


class Board:
    """A raw-REPL session with a board: exec, eval, files, soft reset, transcript."""

    def __init__(self, device, baud=115200, soft_reset=True, unstick=True):
        self.device = device
        self.transcript = bytearray()
        self.t = SerialTransport(device, baudrate=baud)
        self.t.serial = _Recorder(self.t.serial, self.transcript)
        try:
            self.t.enter_raw_repl(soft_reset=soft_reset)
        except TransportError:
            if not unstick:  # a port that may not be a board at all (detect --query): poke it no further
                self.t.close()
                raise
            self._unstick()

    def _unstick(self):
        # No raw REPL: the board may hang in boot.py (which every soft reset runs again), or a client that
        # died mid-transfer (a killed deploy) may have left it inside a raw paste, where Ctrl-C is data.
        # Interrupt it and come in without a soft reset; failing that, end the paste (Ctrl-D) first.
        for seq in (b"\r\x03\x03", b"\x04\r\x03\x03"):
            self.t.serial.write(seq)
            time.sleep(0.5)
            while self.t.serial.inWaiting():
                self.t.serial.read(self.t.serial.inWaiting())
            try:
                self.t.enter_raw_repl(soft_reset=False)
                return
            except TransportError:
                pass
        raise TransportError("could not enter raw repl (the board answers neither Ctrl-C nor Ctrl-D)")

    def exec(self, code, timeout=30):
        """Run code on the board; return its output; DeviceError on a board exception."""
        try:
            self.t.exec_raw_no_follow(code)
            out, err = self.t.follow(timeout)
        except TransportError as e:
            self.recover()
            raise DeviceTimeout("no answer from the board within %ss (%s); interrupted and soft-reset" % (timeout, e))
        if err:
            raise DeviceError(err.decode(errors="replace").strip())
        return out.decode(errors="replace").replace("\r\n", "\n")

    def eval(self, expr, timeout=30):
        """Evaluate expr on the board and return its value (via repr)."""
        import ast

        out = self.exec("print(repr(%s))" % expr, timeout).strip()
        return ast.literal_eval(out)

    def recover(self):
        """Interrupt whatever runs (Ctrl-C) and soft-reset into the raw REPL."""
        self.t.serial.write(b"\r\x03\x03")
        time.sleep(0.2)
        self.t.enter_raw_repl(soft_reset=True)

    def soft_reset(self):
        """Soft-reset the board (Ctrl-D), staying in the raw REPL."""
        self.t.enter_raw_repl(soft_reset=True)

    def write_file(self, path, data):
        """Write bytes to a file on the board."""
        self.t.fs_writefile(path, data)

    def read_file(self, path):
        """Read a file from the board."""
        return self.t.fs_readfile(path)

    def close(self):
        """Leave the raw REPL and close the port."""
        try:
            self.t.exit_raw_repl()
        except Exception:
            pass
        self.t.close()


__all__ = ["Board", "DeviceError", "DeviceTimeout", "TransportExecError"]
