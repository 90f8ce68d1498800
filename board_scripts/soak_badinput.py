# Soak, section 1: bad input generated from ws2's own API table, the SPI and the socket drop-in.
# MIT licence; part of ws2 for MicroPython. Runs after soak_lib.py.
#
# Every public name of ws2 (ws2._WHERE) that is a function is called with 0 to
# P["arity"] arguments: each argument position in turn takes every hostile
# value while the others hold a plain filler (a live, non-blocking TCP handle in
# front, 0 behind), and once all positions take the same hostile value. A call
# must end in a WSAError with a Winsock code (the same code as the thread's last
# error) or in the TypeError of a wrong argument count; it must not leave a
# handle it did not return, and the router must stay usable. Calls that return
# normally are counted as accepted (for many values that is right: htons(0)).
# P["part"] picks the matrix: "api", "spi" (wspm's proc table through the
# router's dispatch edge) or "compat" (ws2.compat, where it exists).
import array

LIMIT_MS = P["call_limit_ms"]
# Functions whose job is to wait as long as asked: an in-range wait cut short by the time limit is an
# accepted call, not a hang.
WAITS = ("sleep_alertable",)
# WSAStartup reports its failure by its own result; Winsock keeps WSAGetLastError out of it.
NO_LAST_ERROR = ("WSAStartup",)
ARITY = P["arity"]
_CLASSES_SKIPPED = []
_FILL = ["the filler TCP handle"]  # markers, resolved to live handles just before each call
_UDP = ["the filler UDP handle"]


def _big():
    try:
        return bytes(P["big"])
    except MemoryError:
        return bytes(1024)


def hostile_values(kit):
    """(label, value) pairs; kit holds the handles that need a running router."""
    v = [("None", None), ("True", True), ("False", False), ("-1", -1), ("0", 0), ("1", 1), ("2**31-1", 0x7FFFFFFF),
         ("2**40", 1 << 40), ("-2**63", -(1 << 63)), ("2**100", 1 << 100), ("3.5", 3.5), ("nan", float("nan")),
         ("''", ""), ("str*300", "x" * 300), ("'1.2.3.4'", "1.2.3.4"), ("b''", b""), ("huge bytes", kit["big"]),
         ("bytearray(0)", bytearray(0)), ("b'1.2.3.4'", b"1.2.3.4"), ("readonly memoryview", memoryview(b"abcd")),
         ("int32 memoryview", memoryview(array.array("i", [1, 2, 3]))),
         ("empty memoryview", memoryview(bytearray(8))[4:4]), ("()", ()), ("(host,)", ("127.0.0.1",)),
         ("(host, 70000)", ("127.0.0.1", 70000)), ("(999.1.1.1, 80)", ("999.1.1.1", 80)),
         ("(None, None)", (None, None)), ("(80, host)", (80, "127.0.0.1")), ("(::1, 80, 0, 0, 9, 9)",
                                                                           ("::1", 80, 0, 0, 9, 9)),
         ("[]", []), ("[None]", [None]), ("{}", {}), ("object()", object()), ("0xFFFF level", 0xFFFF),
         ("ioctl 0x9800FFFF", 0x9800FFFF), ("closed handle", kit["closed"]), ("event object", kit["event"]),
         ("handle from before WSACleanup", kit["stale"]), ("UDP handle", _UDP)]
    if P["quick"]:
        keep = P["quick_values"]
        v = [x for x in v if x[0] in keep]
    return v


def is_argcount(e):
    """The TypeError Python gives for a wrong number of arguments."""
    if not isinstance(e, TypeError):
        return False
    s = str(e)
    return "argument" in s and ("given" in s or "missing" in s or "takes" in s or "expected" in s)


class Matrix:
    """Runs calls, keeps the filler sockets alive, checks every outcome."""

    def __init__(self, rid, what, accept_oserror=False):
        self.t = Tally(rid, what)
        self.accepted = 0
        self.argcount = 0
        self.refused = 0
        self.oserror = accept_oserror
        self.left = []  # handles the matrix was given back and keeps open
        self.fill = None
        self.udp = None
        self.n = 0

    def fillers(self):
        """(Re)create the filler sockets when WSACleanup or a hostile close took them."""
        if not state.started:
            ws2.WSAStartup(0x0202)
        live = open_handles()
        if self.fill not in live:
            self.fill = tcp()
            ws2.ioctlsocket(self.fill, ws2.FIONBIO, 1)
        if self.udp not in live:
            self.udp = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
            ws2.ioctlsocket(self.udp, ws2.FIONBIO, 1)
        self.left = [h for h in self.left if h in live]

    def call(self, label, fn, args):
        """One hostile call, classified."""
        self.n += 1
        beat(self.n)
        try:
            self.fillers()
        except Exception as e:
            self.t.fail("filler sockets could not be made", why(e))
            return
        args = [self.udp if a is _UDP else self.fill if a is _FILL else a for a in args]
        before = open_handles()
        ws2.WSASetLastError(12345)
        t0 = _ms()
        res = None
        err = None
        try:
            res = fn(*args)
        except KeyboardInterrupt:
            err = "timeout"
        except ws2.WSAError as e:
            err = e
        except Exception as e:
            err = e
        dt = _diff(_ms(), t0)
        if err == "timeout":
            if label.split("(")[0] in WAITS:
                self.accepted += 1
                self.t.ok()
            else:
                self.t.fail("timeout", "%s: over the limit, interrupted" % label)
            return
        if dt > LIMIT_MS:
            self.t.fail("slow", "%s: %d ms" % (label, dt))
            return
        if isinstance(err, ws2.WSAError):
            code = err.args[0] if err.args else None
            from ws2.errors import errname

            if not errname(code):
                self.t.fail("WSAError without a Winsock code", "%s: %r" % (label, err))
                return
            if state.started and ws2.WSAGetLastError() != code and label.split("(")[0] not in NO_LAST_ERROR:
                self.t.fail("last error differs from the raised code",
                            "%s: raised %d, last error %d" % (label, code, ws2.WSAGetLastError()))
                return
            self.refused += 1
        elif err is not None:
            if is_argcount(err):
                self.argcount += 1
            elif self.oserror and isinstance(err, (OSError, TypeError, ValueError, OverflowError, MemoryError)):
                # The socket drop-in answers as the port's own socket does (on its fast path the data calls
                # are the port's own methods): OSError, TypeError/ValueError for a wrong type or value, and
                # for sizes no buffer can have (recv(-1), recv(2**100)) the port's OverflowError/MemoryError.
                self.refused += 1
            else:
                self.t.fail("not a WSAError", "%s: %s" % (label, why(err)))
                return
        else:
            self.accepted += 1
        # handles: none may appear that the call did not hand back
        got = set()
        for x in (res if isinstance(res, (tuple, list)) else (res,)):
            if isinstance(x, int) and not isinstance(x, bool):
                got.add(x)
        now = open_handles()
        for h in now:
            if h not in before:
                if h in got:
                    self.left.append(h)
                else:
                    self.t.fail("handle leaked", "%s: handle %d appeared" % (label, h))
                    return
        self.t.ok()

    def run(self, name, fn, values, arity=ARITY):
        for k in range(arity + 1):
            if k == 0:
                self.call("%s()" % name, fn, [])
                continue
            for vl, v in values:
                for i in range(k):
                    args = [0] * k
                    args[0] = _FILL if i else v
                    args[i] = v
                    self.call("%s(%s at %d of %d)" % (name, vl, i, k), fn, args)
                if k > 1:
                    self.call("%s(%s x%d)" % (name, vl, k), fn, [v] * k)

    def finish(self, extra=()):
        """Close what the matrix left open; the table must then be empty and an echo must work."""
        if not state.started:
            ws2.WSAStartup(0x0202)
        expected = set(self.left) | set(h for h in (self.fill, self.udp) if h)
        live = set(open_handles())
        stray = live - expected
        if stray:
            self.t.fail("table holds handles the matrix did not leave open", repr(sorted(stray)))
        for h in live:
            try:
                ws2.closesocket(h)
            except Exception as e:
                self.t.fail("closing a handle the matrix left open failed", why(e))
        if open_handles():
            self.t.fail("table not empty after closing everything", repr(open_handles()))
        echo_check(self.t, "TCP echo after the matrix")
        self.t.emit(["refused with a WSA error: %d" % self.refused, "wrong argument count: %d" % self.argcount,
                     "accepted: %d" % self.accepted, "left open by the matrix (then closed): %d" % len(expected)]
                    + list(extra))


def kit_make():
    ws2.WSAStartup(0x0202)
    stale = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    stop_all()
    ws2.WSAStartup(0x0202)
    closed = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.closesocket(closed)
    return {"big": _big(), "closed": closed, "event": ws2.WSACreateEvent(), "stale": stale}


def api_functions():
    """Every public function in ws2's own table (classes are constructors of values, counted apart)."""
    out = []
    for mod, names in ws2._WHERE:
        for name in names.split():
            obj = getattr(ws2, name)
            if isinstance(obj, type):
                _CLASSES_SKIPPED.append(name)
            elif callable(obj):
                out.append((name, obj))
    return out


def part_api():
    funcs = api_functions()  # imports every module of ws2 first: the values below come after
    gc.collect()
    free = heap()
    kit = kit_make()
    vals = hostile_values(kit)
    m = Matrix("api", "ws2 public functions x hostile arguments")
    snap = snapshot_store()
    try:
        for name, fn in funcs:
            m.run(name, fn, vals)
    finally:
        restore_store(snap)
    m.finish(["functions: %d (from ws2._WHERE), heap free with all of ws2 imported: %d B" % (len(funcs), free),
              "hostile values: %d, up to %d arguments" % (len(vals), ARITY),
              "classes not called (constructors): %s" % " ".join(_CLASSES_SKIPPED)])
    stop_all()


# wspm's proc table slots that take a socket context (WSPCleanup, WSPCloseSocket and WSPSocket do not:
# the router calls them itself, never on behalf of a handle).
_SPI_SKIP = (5, 6, 28)
_SPI_NAMES = ("WSPAccept WSPAddressToString WSPAsyncSelect WSPBind WSPCancelBlockingCall WSPCleanup WSPCloseSocket"
              " WSPConnect WSPDuplicateSocket WSPEnumNetworkEvents WSPEventSelect WSPGetOverlappedResult"
              " WSPGetPeerName WSPGetSockName WSPGetSockOpt WSPGetQOSByName WSPIoctl WSPJoinLeaf WSPListen WSPRecv"
              " WSPRecvDisconnect WSPRecvFrom WSPSelect WSPSend WSPSendDisconnect WSPSendTo WSPSetSockOpt"
              " WSPShutdown WSPSocket WSPStringToAddress").split()


def part_spi():
    from ws2 import dispatch

    kit = kit_make()
    vals = hostile_values(kit)
    m = Matrix("spi", "wspm proc table through the router's dispatch edge x hostile arguments")
    slots = [i for i in range(30) if i not in _SPI_SKIP]
    for target in ("tcp", "udp"):
        for i in slots:
            def fn(*a, _i=i, _t=target):
                m.fillers()
                return dispatch.call(m.fill if _t == "tcp" else m.udp, _i, *a)

            m.run("%s on %s" % (_SPI_NAMES[i], target), fn, vals, arity=min(ARITY, 4) - 1)
    m.finish(["slots: %d per socket kind, TCP and UDP" % len(slots),
              "not called through a handle: " + " ".join(_SPI_NAMES[i] for i in _SPI_SKIP)])
    stop_all()


def part_compat():
    try:
        from ws2 import compat
    except (ImportError, AttributeError) as e:
        if "compat" not in str(e):
            raise
        row("compat", "socket drop-in (ws2.compat) x hostile arguments", 0, 0, ["not present"])
        return
    kit = kit_make()
    vals = hostile_values(kit)
    m = Matrix("compat", "socket drop-in (ws2.compat) x hostile arguments", accept_oserror=True)
    names = [n for n in dir(compat) if not n.startswith("_")]
    funcs = [(n, getattr(compat, n)) for n in names if callable(getattr(compat, n)) and not isinstance(
        getattr(compat, n), type)]
    for n, fn in funcs:
        m.run("compat." + n, fn, vals)
    methods = 0
    cls = getattr(compat, "socket", None)
    if isinstance(cls, type):
        for mname in [x for x in dir(cls) if not x.startswith("_")]:
            def fn(*a, _m=mname):
                o = cls()
                try:
                    return getattr(o, _m)(*a)
                finally:
                    try:
                        o.close()
                    except Exception:
                        pass

            if callable(getattr(cls, mname)):
                methods += 1
                m.run("compat.socket()." + mname, fn, vals, arity=min(ARITY, 3))
    m.finish(["functions: %d, socket methods: %d" % (len(funcs), methods)])
    stop_all()


{"api": part_api, "spi": part_spi, "compat": part_compat}[P["part"]]()
