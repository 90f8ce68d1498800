# providers/dnsretry: nspm's retry and rotation schedule as a state machine fed timeouts and answers.
# MIT licence; part of ws2 for MicroPython.
#
# No sockets and no clock here: providers/nspm asks which server to try and
# for how long, does the asking, and reports back what happened (no answer in
# time, an answer with its RCODE, a server that cannot be reached). The rules:
# each server in turn gets a try, the first round with a short wait (deadline
# / 3 / servers, at least MIN_TRY_MS), each later round twice as long, never
# past the deadline; a SERVFAIL, REFUSED, FORMERR or NOTIMP answer, an ICMP
# "port unreachable" or a failed TCP retry takes that server out of the
# rotation for this query. Times are ms since the query started.
from ws2.port import const

MIN_TRY_MS = const(100)
_RCODE_NOERROR = const(0)
_RCODE_SERVFAIL = const(2)
_RCODE_NXDOMAIN = const(3)
_WSATRY_AGAIN = const(11002)
_WSANO_RECOVERY = const(11003)


class Schedule:
    """One query's schedule over servers 0..n-1 within timeout_ms."""

    def __init__(self, n, timeout_ms):
        self.timeout = timeout_ms
        self.live = list(range(n))  # the servers still in the rotation, in the order they are asked
        self.wait = max(MIN_TRY_MS, timeout_ms // 3 // n) if n else 0  # this round's wait for an answer
        self.turn = 0  # tries made in rotation (a server gone does not count)
        self.transient = False  # a SERVFAIL or a failed server: the answer may come later

    def server(self, elapsed):
        """The server to try now, or -1 when the query is over (no server left, or the deadline passed)."""
        if not self.live or elapsed >= self.timeout:
            return -1
        return self.live[self.turn % len(self.live)]

    def try_ms(self, elapsed):
        """How long the try starting at elapsed waits for an answer: this round's wait, cut at the deadline."""
        left = self.timeout - elapsed
        return self.wait if self.wait < left else left

    def unreachable(self, k):
        """Server k cannot be asked or answered with an error (no route, ICMP unreachable): out of the rotation."""
        if k in self.live:
            self.live.remove(k)
        self.transient = True

    def no_answer(self, k):
        """The try of server k ended without an answer: the next server; a new round waits twice as long."""
        if self.live and k in self.live:
            self.turn += 1
            if self.turn % len(self.live) == 0 and self.wait < self.timeout:
                self.wait *= 2

    def answer(self, k, rcode):
        """Server k answered with rcode: True when the answer is final (NOERROR, NXDOMAIN), else k is out."""
        if rcode == _RCODE_NOERROR or rcode == _RCODE_NXDOMAIN:
            return True
        if rcode == _RCODE_SERVFAIL:
            self.transient = True
        if k in self.live:
            self.live.remove(k)  # SERVFAIL, REFUSED, FORMERR, NOTIMP: this server cannot help, next one
        return False

    def failure(self):
        """The WSA error code of a query that ended without an answer."""
        if self.live:
            return _WSATRY_AGAIN  # the deadline passed with servers left
        return _WSATRY_AGAIN if self.transient else _WSANO_RECOVERY
