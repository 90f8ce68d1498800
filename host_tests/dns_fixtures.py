# host_tests/dns_fixtures: real DNS servers (dnslib's DNSServer) on the host for the nspm tests.
# MIT licence; part of ws2 for MicroPython.
#
# Four servers on free ports of the host address the board reaches:
#   ok        - UDP and TCP, answers the ws2.test zone below (A, AAAA, CNAME
#               chains, PTR, NXDOMAIN/NODATA with a SOA for negative caching);
#               UDP answers over 512 bytes come back truncated (TC), as from
#               any server without EDNS, and the TCP listener answers in full
#   servfail  - UDP, answers everything with SERVFAIL
#   blackhole - UDP, reads queries and never answers
# Every server counts the queries it receives per name. The device cannot
# reach host memory, so the count is read over DNS itself: an A query for
# "count.<name>" answers 0.0.<hi>.<lo> (TTL 0) and is not counted.
# Two names misbehave on purpose: "spoof.ws2.test" is preceded by three
# forged answers (wrong id; wrong question; right id from another port) and
# "split.ws2.test" answers a CNAME without the record it points to.
import socket
import threading

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

ZONE = """
$TTL 300
ws2.test.            IN SOA  ns.ws2.test. admin.ws2.test. 1 3600 600 86400 60
a.ws2.test.          IN A    192.0.2.1
a.ws2.test.          IN AAAA 2001:db8::1
multi.ws2.test.      IN A    192.0.2.10
multi.ws2.test.      IN A    192.0.2.11
v6only.ws2.test.     IN AAAA 2001:db8::6
www.ws2.test.        IN CNAME web.ws2.test.
web.ws2.test.        IN CNAME a.ws2.test.
split.ws2.test.      IN CNAME multi.ws2.test.
spoof.ws2.test.      IN A    192.0.2.7
short.ws2.test.   1  IN A    192.0.2.2
flush.ws2.test.      IN A    192.0.2.3
cached.ws2.test.     IN A    192.0.2.4
1.2.0.192.in-addr.arpa.  IN PTR a.ws2.test.
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. IN PTR a.ws2.test.
"""
ZONE += "".join("big.ws2.test. IN A 198.51.100.%d\n" % i for i in range(1, 41))
FORGED_ADDR = "192.0.2.66"


def _key(qname):
    return str(qname).lower().rstrip(".")


class ZoneResolver(BaseResolver):
    """Answers ws2.test from ZONE in one of three modes: ok, servfail, blackhole (never called)."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.counts = {}
        self.lock = threading.Lock()
        self.rrs = RR.fromZone(ZONE)
        self.soa = [r for r in self.rrs if r.rtype == QTYPE.SOA][0]

    def count(self, name):
        """Return how many queries for name this server received."""
        with self.lock:
            return self.counts.get(_key(name), 0)

    def note(self, qname):
        with self.lock:
            k = _key(qname)
            self.counts[k] = self.counts.get(k, 0) + 1

    def resolve(self, request, handler):
        reply = request.reply()
        q = request.q
        name = _key(q.qname)
        if name.startswith("count.") and q.qtype == QTYPE.A:
            n = self.count(name[6:])
            reply.add_answer(RR(q.qname, QTYPE.A, ttl=0, rdata=A("0.0.%d.%d" % (n >> 8 & 255, n & 255))))
            return reply
        self.note(name)
        if self.mode == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        target = name
        exists = False
        for _ in range(8):
            here = [r for r in self.rrs if _key(r.rname) == target and r.rtype != QTYPE.SOA]
            exists = exists or bool(here)
            hits = [r for r in here if r.rtype == q.qtype]
            if hits:
                for r in hits:
                    reply.add_answer(r)
                break
            cname = [r for r in here if r.rtype == QTYPE.CNAME]
            if not cname:
                break
            reply.add_answer(cname[0])
            target = _key(cname[0].rdata.label)
            if name == "split.ws2.test":
                return reply  # the chain is left for the client to finish
        if not reply.rr:
            if not exists:
                reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self.soa)
        return reply


class Handler(DNSHandler):
    """dnslib's handler with the 512-byte UDP limit, the blackhole mode and the forgeries."""

    udplen = 512

    def handle(self):
        if self.server.resolver.mode == "blackhole":
            data = self.request[0] if self.server.socket_type == socket.SOCK_DGRAM else b""
            try:
                self.server.resolver.note(DNSRecord.parse(data).q.qname)
            except Exception:
                pass
            return
        req, sock = self.udp_request()
        if req is not None and _key(req.q.qname) == "spoof.ws2.test":
            self._forge(req, sock)
        super().handle()

    def udp_request(self):
        """(parsed query, socket) of a UDP request, or (None, None) over TCP or when it does not parse."""
        if self.server.socket_type != socket.SOCK_DGRAM:
            return None, None
        data, sock = self.request
        try:
            return DNSRecord.parse(data), sock
        except Exception:
            return None, None

    def _forge(self, req, sock):
        bad_id = req.reply()
        bad_id.header.id = (req.header.id + 1) & 0xFFFF
        bad_id.add_answer(RR(req.q.qname, QTYPE.A, ttl=300, rdata=A(FORGED_ADDR)))
        bad_q = DNSRecord.question("a.ws2.test").reply()
        bad_q.header.id = req.header.id
        bad_q.add_answer(RR("a.ws2.test", QTYPE.A, ttl=300, rdata=A(FORGED_ADDR)))
        other_port = req.reply()
        other_port.add_answer(RR(req.q.qname, QTYPE.A, ttl=300, rdata=A(FORGED_ADDR)))
        sock.sendto(bad_id.pack(), self.client_address)
        sock.sendto(bad_q.pack(), self.client_address)
        fam = socket.AF_INET6 if ":" in self.client_address[0] else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.sendto(other_port.pack(), self.client_address)


class Server:
    """One DNS server (UDP, plus TCP on the same port when tcp) on address."""

    def __init__(self, mode, address, tcp=False, handler=None, resolver=None):
        self.resolver = resolver or ZoneResolver(mode)
        handler = handler or Handler
        self.address = address
        logger = DNSLogger("-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False)
        for _ in range(20):  # the UDP port must also be free for TCP
            udp = DNSServer(self.resolver, port=0, address=address, logger=logger, handler=handler)
            self.port = udp.server.server_address[1]
            if not tcp:
                break
            try:
                tcps = DNSServer(self.resolver, port=self.port, address=address, logger=logger, handler=handler,
                                 tcp=True)
                break
            except OSError:
                udp.server.server_close()
        else:
            raise RuntimeError("no free port for a UDP+TCP DNS server")
        self.servers = [udp] + ([tcps] if tcp else [])
        for s in self.servers:
            s.start_thread()

    def count(self, name):
        """Return how many queries for name reached this server."""
        return self.resolver.count(name)

    def stop(self):
        """Stop the listeners."""
        for s in self.servers:
            s.stop()
            s.server.server_close()


def _host_ip(request):
    try:
        ip = request.config.getoption("--host-ip")
    except (ValueError, AttributeError):
        ip = None
    return ip or "127.0.0.1"


@pytest.fixture(scope="session")
def dns_servers(request):
    """The running Server objects, by mode: {"ok": ..., "servfail": ..., "blackhole": ...}."""
    ip = _host_ip(request)
    bind = "0.0.0.0" if ip not in ("127.0.0.1", "localhost") else ip
    got = {"ok": Server("ok", bind, tcp=True), "servfail": Server("servfail", bind),
           "blackhole": Server("blackhole", bind)}
    yield got
    for s in got.values():
        s.stop()


@pytest.fixture(scope="session")
def dns_server(request, dns_servers):
    """env items for device tests: dns_ip, dns_port (ok), dns_servfail_port, dns_blackhole_port."""
    return {"dns_ip": _host_ip(request), "dns_port": dns_servers["ok"].port,
            "dns_servfail_port": dns_servers["servfail"].port, "dns_blackhole_port": dns_servers["blackhole"].port}


# -- a hostile server (make soak): "<attack>.hostile.ws2.test" is answered genuinely, but after forgeries --------

HOSTILE_ZONE = """
$TTL 300
id.hostile.ws2.test.      IN A 192.0.2.20
port.hostile.ws2.test.    IN A 192.0.2.20
addr.hostile.ws2.test.    IN A 192.0.2.20
name.hostile.ws2.test.    IN A 192.0.2.20
trunc.hostile.ws2.test.   IN A 192.0.2.20
big.hostile.ws2.test.     IN A 192.0.2.20
poison.hostile.ws2.test.  IN A 192.0.2.20
victim.hostile.ws2.test.  IN A 192.0.2.21
ttl0.hostile.ws2.test.  0 IN A 192.0.2.22
ttlmax.hostile.ws2.test.  IN A 192.0.2.23
ttltop.hostile.ws2.test.  IN A 192.0.2.24
"""
# attack -> what it sends before (or instead of part of) the genuine answer
HOSTILE_ATTACKS = {
    "id": "an answer with the wrong transaction id",
    "port": "an answer from another source port",
    "addr": "an answer from another source address (127.0.0.2)",
    "name": "an answer with the right id for another name",
    "trunc": "an answer cut short in its records",
    "big": "an oversized (4,000 B) answer with the right id",
    "poison": "the genuine answer carrying forged records for another name",
    "ttl0": "the genuine answer with TTL 0",
    "ttlmax": "the genuine answer with TTL 2^31 - 1",
    "ttltop": "the genuine answer with TTL 2^31 (top bit set)",
}


class HostileResolver(ZoneResolver):
    """ZoneResolver for HOSTILE_ZONE; poisons and bends the TTLs of the genuine answers that say so."""

    def __init__(self):
        super().__init__("ok")
        self.rrs = RR.fromZone(ZONE) + RR.fromZone(HOSTILE_ZONE)
        self.soa = [r for r in self.rrs if r.rtype == QTYPE.SOA][0]

    def resolve(self, request, handler):
        reply = super().resolve(request, handler)
        name = _key(request.q.qname)
        if name == "poison.hostile.ws2.test":
            reply.add_answer(RR("victim.hostile.ws2.test", QTYPE.A, ttl=86400, rdata=A(FORGED_ADDR)))
            reply.add_auth(RR("victim.hostile.ws2.test", QTYPE.A, ttl=86400, rdata=A(FORGED_ADDR)))
            reply.add_ar(RR("victim.hostile.ws2.test", QTYPE.A, ttl=86400, rdata=A(FORGED_ADDR)))
            reply.add_ar(RR("a.ws2.test", QTYPE.A, ttl=86400, rdata=A(FORGED_ADDR)))
        for rr in reply.rr:
            if name == "ttlmax.hostile.ws2.test":
                rr.ttl = 0x7FFFFFFF
            elif name == "ttltop.hostile.ws2.test":
                rr.ttl = 0x80000000
        return reply


class HostileHandler(Handler):
    """Sends the forgery of the attack a name asks for, then lets dnslib answer genuinely."""

    def handle(self):
        req, sock = self.udp_request()
        name = _key(req.q.qname) if req is not None else ""
        if name.endswith(".hostile.ws2.test"):
            self._attack(name.split(".")[0], req, sock)
        super().handle()

    def _forged(self, req, qname=None, txid=None):
        r = DNSRecord.question(qname or str(req.q.qname)).reply()
        r.header.id = req.header.id if txid is None else txid
        r.add_answer(RR(qname or req.q.qname, QTYPE.A, ttl=300, rdata=A(FORGED_ADDR)))
        return r

    def _attack(self, kind, req, sock):
        to = self.client_address
        fam = socket.AF_INET6 if ":" in to[0] else socket.AF_INET
        if kind == "id":
            sock.sendto(self._forged(req, txid=(req.header.id + 1) & 0xFFFF).pack(), to)
        elif kind == "port":
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.sendto(self._forged(req).pack(), to)
        elif kind == "addr" and fam == socket.AF_INET and to[0].startswith("127."):
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.2", self.server.server_address[1]))
                s.sendto(self._forged(req).pack(), to)
        elif kind == "name":
            sock.sendto(self._forged(req, qname="a.ws2.test").pack(), to)
        elif kind == "trunc":
            data = self._forged(req).pack()
            sock.sendto(data[:-3], to)
        elif kind == "big":
            r = self._forged(req)
            for i in range(150):  # ~4,000 bytes: a reply no UDP client without EDNS may take
                r.add_answer(RR(req.q.qname, QTYPE.A, ttl=300, rdata=A(FORGED_ADDR)))
            sock.sendto(r.pack(), to)
