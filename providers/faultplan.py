# providers/faultplan: what the faults layer does to a call, decided by a seeded generator; free of I/O.
# MIT licence; part of ws2 for MicroPython. providers/faults.py applies the decisions to sockets.
#
# A plan is a JSON-able dict (ws2.config(faults=...) stores it):
#   seed        the generator's seed: the same seed and calls give the same faults, on any port
#   drop, dup, reorder, delay, corrupt, truncate
#               per-mille chances for each datagram (drawn in this order, one draw per non-zero chance)
#   dir         "both" (default), "in" (received datagrams only) or "out" (sent ones only)
#   delay_ms    how long a delayed (or reordered, if nothing overtakes it) datagram is held; default 100
#   split_send, split_recv
#               at most this many bytes per stream send/recv call (short writes, short reads)
#   fail        [[kind, n, what], ...]: the n-th call (from 1) of kind (connect, accept, send, recv, sendto,
#               recvfrom) fails with the WSA error what, or, for what as a string, gets that fault:
#               drop/dup/corrupt/truncate/reorder/delay on a datagram; on a stream "close" (the peer closes)
#               or "corrupt" (one bit of what that recv got)
#   stall_connect_ms
#               connect waits this long, then fails with WSAETIMEDOUT
#   close_after the peer closes a stream after this many bytes received
from ws2.errors import WSAError, WSAEINVAL

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_MASK = const(0xFFFFFFFF)
# The errors a plan may inject (the ones a network really gives a socket call).
ERRORS = (10035, 10050, 10051, 10053, 10054, 10055, 10060, 10061, 10065)  # WOULDBLOCK NETDOWN NETUNREACH
# CONNABORTED CONNRESET NOBUFS TIMEDOUT CONNREFUSED HOSTUNREACH
FATAL = (10050, 10053, 10054)  # on a stream these end the connection: every later call fails the same way
KINDS = ("connect", "accept", "send", "recv", "sendto", "recvfrom")
DGRAM = ("drop", "dup", "reorder", "delay", "corrupt", "truncate")
_INTS = "seed delay_ms split_send split_recv stall_connect_ms close_after"
_KEYS = _INTS + " dir fail drop dup reorder delay corrupt truncate"


def _bad(msg):
    raise WSAError(WSAEINVAL, "faults: " + msg)


def _int(v, top, what):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= top:
        _bad("%s must be an int from 0 to %d, not %r" % (what, top, v))
    return v


def check_plan(spec):
    """Return spec normalised (every key present); WSAEINVAL saying what is wrong."""
    if not isinstance(spec, dict):
        _bad("a plan is a dict (keys: %s), not %r" % (_KEYS, spec))
    for k in spec:
        if k not in _KEYS.split():
            _bad("unknown plan key %r (known: %s)" % (k, _KEYS))
    out = {"seed": 1, "delay_ms": 100, "dir": "both", "fail": []}
    for k in _INTS.split():
        out[k] = _int(spec.get(k, out.get(k, 0)), 0x7FFFFFFF, k)
    for k in DGRAM:
        out[k] = _int(spec.get(k, 0), 1000, k + " (per mille)")
    d = spec.get("dir", "both")
    if d not in ("both", "in", "out"):
        _bad("dir must be 'both', 'in' or 'out', not %r" % (d,))
    out["dir"] = d
    fails = spec.get("fail", [])
    if not isinstance(fails, (list, tuple)):
        _bad("fail must be a list of [kind, n, what], not %r" % (fails,))
    for f in fails:
        ok = isinstance(f, (list, tuple)) and len(f) == 3 and f[0] in KINDS
        if ok:
            _int(f[1], 0x7FFFFFFF, "the call number of a fail entry")
            ok = f[1] > 0 and (f[2] in ERRORS or f[2] in DGRAM or f[2] == "close")
        if not ok:
            _bad("a fail entry is [kind, n >= 1, what] with kind one of %s and what a WSA error of %r or one of "
                 "%s, close; not %r" % (", ".join(KINDS), ERRORS, ", ".join(DGRAM), f))
        out["fail"].append([f[0], f[1], f[2]])
    return out


def check(value):
    """Check ws2.config(faults=...): {key: plan} with key a catalog entry id (int or text) or '*'."""
    if not isinstance(value, dict):
        _bad("the setting is a dict of catalog entry id (or '*') -> plan, not %r" % (value,))
    out = {}
    for k in value:
        key = str(k)
        if key != "*" and not (key.isdigit() and 0 < int(key) < 0x10000):
            _bad("a key must be a catalog entry id or '*', not %r" % (k,))
        out[key] = check_plan(value[k])
    return out


class Plan:
    """One plan's state: the generator, the call numbers, and how many of each fault it injected."""

    def __init__(self, spec):
        self.spec = check_plan(spec)
        self.x = (self.spec["seed"] & _MASK) or 0x9E3779B9  # xorshift32 has no zero state
        self.calls = {}
        self.counts = {}

    def rand(self):
        """The next 32-bit number (xorshift32: the same sequence on every port)."""
        x = self.x
        x ^= (x << 13) & _MASK
        x ^= x >> 17
        x ^= (x << 5) & _MASK
        self.x = x
        return x

    def note(self, what):
        """Count one injected fault."""
        self.counts[what] = self.counts.get(what, 0) + 1

    def call(self, kind):
        """Number this call of kind; return what its fail entry says (a WSA error or a fault name) or None."""
        n = self.calls.get(kind, 0) + 1
        self.calls[kind] = n
        for f in self.spec["fail"]:
            if f[0] == kind and f[1] == n:
                return f[2]
        return None

    def dgram(self, outbound):
        """The faults for one datagram going out (outbound) or coming in: a list of fault names."""
        s = self.spec
        if s["dir"] != "both" and (s["dir"] == "out") != outbound:
            return []
        out = []
        for k in DGRAM:
            p = s[k]
            if p and self.rand() % 1000 < p:
                out.append(k)
        return out

    def corrupt(self, data):
        """data with one bit flipped at a drawn position."""
        if not data:
            return data
        b = bytearray(data)
        r = self.rand()
        i = r % len(b)
        b[i] ^= 1 << (r >> 16) % 8
        return bytes(b)

    def truncate(self, data):
        """data cut to a drawn shorter length (at least 0 bytes, at most all but one)."""
        if not data:
            return data
        return data[: self.rand() % len(data)]
