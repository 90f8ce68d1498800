# providers/ssllsp/engine_cpy: the TLS engine on CPython: OpenSSL through ssl, an SSLObject over memory BIOs.
# MIT licence; part of ws2 for MicroPython.
from providers.ssllsp.conn import emit, lrecv
from ws2.native import ssl  # the port's module, even after ws2.compat.install()
from ws2.port import const

_WSP_SEND = const(23)
_MSG_DONTWAIT = const(0x40)
_MAX_RECV = const(16384)  # one TLS record

_NONBLOCK = const(0x20)

class Engine:
    """OpenSSL through CPython's ssl module: an SSLObject over memory BIOs."""

    def __init__(self, c, ctx, server, host, block):
        self.inc = ssl.MemoryBIO()
        self.outb = ssl.MemoryBIO()
        self.o = ctx.wrap_bio(self.inc, self.outb, server_side=bool(server), server_hostname=host)
        self.done = False
        self.buf = bytearray(_MAX_RECV)

    def _run(self, c, fn, buf):
        try:
            if not self.done:
                self.o.do_handshake()
                self.done = True
                if fn is None:
                    return 0
            return fn(buf)
        except ssl.SSLWantReadError:
            return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            if not self.done:
                raise
            return 0
        finally:
            data = self.outb.read()
            if data:
                emit(c, data, not c.state & _NONBLOCK)

    def read(self, c, buf):
        return self._run(c, self._read, buf)

    def _read(self, buf):
        return self.o.read(len(buf), buf) if len(buf) else 0

    def write(self, c, buf):
        return self._run(c, self.o.write, buf)

    def shake(self, c, buf):
        return self._run(c, None, buf)

    def feed(self, c):
        n = lrecv(c, memoryview(self.buf), True)
        if n is None:
            return False
        self._put(n)
        return True

    def wait(self, c):
        self._put(lrecv(c, memoryview(self.buf), False))

    def _put(self, n):
        if n:
            self.inc.write(memoryview(self.buf)[:n])
        else:
            self.inc.write_eof()

    def eof(self):
        return self.inc.eof

    def info(self):
        return self.o.cipher()[0], self.o.version()

    def chain(self):
        der = self.o.getpeercert(True)
        return [der] if der else []

    def close(self, c, graceful):
        if self.done and graceful:
            try:
                self.o.unwrap()  # queue close_notify
            except Exception:
                pass
            data = self.outb.read()
            if data and not c.out:
                try:
                    c.lt[_WSP_SEND](c.lc, data, _MSG_DONTWAIT, None, None, None)
                except Exception:
                    pass  # best effort: the socket closes anyway
