# providers/ssllsp/engine_mp: the TLS engine on MicroPython: mbedTLS through the port's tls (ssl) module.
# MIT licence; part of ws2 for MicroPython.
#
# mbedTLS wants a stream: _Pipe is one, reading and writing the lower socket
# through its proc table. mbedTLS through MicroPython reports no "handshake
# done" apart from the first record that goes through, so a non-blocking
# handshake finishes in the reads and writes that follow.
import io

from providers.ssllsp.conn import emit, lrecv
from ws2.port import const

_INBOX = const(32)  # bytes a blocking wait reads ahead for mbedTLS (it then reads the rest itself)
_PIPE_READ = const(2048)  # at most this much per lower read: a lower recv(n) may allocate n bytes
_IOCTL_CLOSE = const(4)  # the stream ioctl a close sends
_EIO = const(-5)
_EINVAL = const(-22)

_NONBLOCK = const(0x20)

class _Pipe(io.IOBase):
    """The stream mbedTLS reads and writes: the lower socket through its proc table."""

    def __init__(self, c):
        self.c = c
        self.block = False  # True while a blocking handshake runs inside wrap_socket
        self.inbox = None
        self.i0 = 0
        self.i1 = 0
        self.eof = False

    def readinto(self, buf):
        try:
            if self.i1 > self.i0:
                n = min(len(buf), self.i1 - self.i0)
                buf[:n] = memoryview(self.inbox)[self.i0 : self.i0 + n]
                self.i0 += n
                return n
            if self.eof:
                return 0
            # Outside a blocking handshake mbedTLS only takes what is there:
            # a blocking read here would wait for bytes the peer never sends.
            n = lrecv(self.c, memoryview(buf)[:_PIPE_READ], not self.block)
            if n == 0:
                self.eof = True
            return n
        except Exception as e:
            # Never let an exception unwind through mbedTLS; ssllsp raises it afterwards.
            self.c.err = e
            return _EIO

    def write(self, buf):
        try:
            emit(self.c, buf, self.block or not self.c.state & _NONBLOCK)
            return len(buf)
        except Exception as e:
            self.c.err = e
            return _EIO

    def ioctl(self, req, arg):
        return 0 if req == _IOCTL_CLOSE else _EINVAL  # ssllsp closes the lower socket itself

    def wait(self):
        # Block until the lower socket has input, and keep it for mbedTLS.
        if self.inbox is None:
            self.inbox = bytearray(_INBOX)
        n = lrecv(self.c, memoryview(self.inbox), False)
        self.i0 = 0
        self.i1 = n or 0
        if not n:
            self.eof = True


class Engine:
    """mbedTLS through MicroPython's tls module, over a _Pipe."""

    def __init__(self, c, ctx, server, host, block):
        self.pipe = _Pipe(c)
        self.pipe.block = block
        try:
            self.s = ctx.wrap_socket(self.pipe, server_side=bool(server), do_handshake_on_connect=block,
                                     server_hostname=host)
        finally:
            self.pipe.block = False
        self.done = block

    def shake(self, c, buf):
        return 0  # wrap_socket has done it

    def read(self, c, buf):
        return self.s.readinto(buf)

    def write(self, c, buf):
        return self.s.write(buf)

    def feed(self, c):
        return False  # the pipe already read whatever was there

    def wait(self, c):
        self.pipe.wait()

    def eof(self):
        return self.pipe.eof

    def info(self):
        return self.s.cipher()

    def chain(self):
        return None

    def close(self, c, graceful):
        self.s.close()  # no close_notify: MicroPython's tls module cannot send one
