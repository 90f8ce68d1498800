# firmware/soak_dns: `make soak` section 4: the DNS codec fuzzed on the host, nspm against a hostile server.
# MIT licence; part of ws2 for MicroPython.
#
# The codec (providers/dnsmsg.py) is pure, so its fuzz runs here on CPython, at
# host speed: generated messages - random bytes, mutations of well-formed
# answers, compression-pointer loops and chains, deep label chains, lying record
# counts - may only end in dnsmsg.DNSError. Time is checked by growth, not by a
# clock limit: each hostile family is parsed at 8 KB and at 64 KB, and
# the time must grow no faster than the size (at most 3x the linear figure).
# The fuzz draws its messages from four generators in turn: random bytes,
# mutated well-formed answers, valid headers over pointer/label soup, and the
# well-formed answers themselves.
import random
import struct
import sys
import time

from firmware import ROOT

FORGED = "192.0.2.66"
GENUINE = {"id": "192.0.2.20", "port": "192.0.2.20", "addr": "192.0.2.20", "name": "192.0.2.20",
           "trunc": "192.0.2.20", "big": "192.0.2.20", "poison": "192.0.2.20", "ttl0": "192.0.2.22",
           "ttlmax": "192.0.2.23", "ttltop": "192.0.2.24"}


def _name(labels):
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"


def answer(rng, txid=0x1234):
    """A well-formed answer: question, A/AAAA/CNAME/PTR records with compression, maybe a SOA."""
    q = _name([b"www", b"example", b"com"])
    body = q + struct.pack("!HH", 1, 1)
    recs = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice((1, 28, 5, 12))
        if kind == 1:
            rd = bytes(rng.getrandbits(8) for _ in range(4))
        elif kind == 28:
            rd = bytes(rng.getrandbits(8) for _ in range(16))
        else:
            rd = _name([b"cdn", b"example"]) if rng.random() < 0.5 else b"\x03cdn\xc0\x10"
        recs.append(b"\xc0\x0c" + struct.pack("!HHIH", kind, 1, rng.getrandbits(32), len(rd)) + rd)
    ns = []
    if rng.random() < 0.3:
        rd = b"\xc0\x10\xc0\x10" + struct.pack("!IIIII", 1, 2, 3, 4, rng.getrandbits(32))
        ns.append(b"\xc0\x10" + struct.pack("!HHIH", 6, 1, 300, len(rd)) + rd)
    hdr = struct.pack("!HHHHHH", txid, 0x8180, 1, len(recs), len(ns), 0)
    return hdr + body + b"".join(recs) + b"".join(ns)


def mutate(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        if op < 0.5 and b:
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        elif op < 0.7:
            b.insert(rng.randrange(len(b) + 1), rng.getrandbits(8))
        elif op < 0.85 and b:
            del b[rng.randrange(len(b))]
        else:
            b = b[: rng.randrange(len(b) + 1)]
    return bytes(b)


def _header(an=1, ns=0, qd=1, flags=0x8180):
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, 0)


def pointer_loop(size):
    """Question name made of compression pointers to itself and forward: every one must be refused."""
    body = b"\xc0\x0c" * (size // 2)
    return _header() + body


def pointer_chain(size):
    """A chain of backward pointers, each to the one before it, as long as the message allows: they sit in
    the data of a record of an unknown type, and the next record's name starts at the last of them."""
    n = max(1, (size - 60) // 2)
    q = _name([b"a"]) + struct.pack("!HH", 1, 1)  # the question "a" at offset 12
    first = 12 + len(q) + 12  # where the chain starts: after record 1's name (2) and fixed fields (10)
    chain = bytearray(struct.pack("!H", 0xC000 | 12))
    for i in range(1, n):
        chain += struct.pack("!H", 0xC000 | (first + 2 * (i - 1)))
    rec1 = b"\xc0\x0c" + struct.pack("!HHIH", 99, 1, 60, len(chain)) + chain
    rec2 = struct.pack("!H", 0xC000 | (first + 2 * (n - 1))) + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x01"
    return _header(an=2) + q + rec1 + rec2


def label_chain(size):
    """Deep label chains: records whose names are 127 one-byte labels (past the 255-byte limit they stop)."""
    name = b"\x01a" * 127 + b"\x00"
    rec = name + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x01"
    k = max(1, (size - 30) // len(rec))
    return _header(an=k) + _name([b"a"]) + struct.pack("!HH", 1, 1) + rec * k


def count_lie(size):
    """Record counts of 65,535 over a body of filler."""
    return _header(an=0xFFFF, ns=0xFFFF) + _name([b"a"]) + struct.pack("!HH", 1, 1) + b"\xc0\x0c" * (size // 2)


FAMILIES = (("pointer loops", pointer_loop), ("backward pointer chain", pointer_chain),
            ("deep label chains", label_chain), ("lying record counts", count_lie))


def _parse_time(parse, data, reps=5):
    best = None
    for _ in range(reps):
        t = time.perf_counter()
        try:
            parse(data)
        except ValueError:
            pass
        dt = time.perf_counter() - t
        best = dt if best is None or dt < best else best
    return best


def fuzz(n, seed, dnsmsg):
    """n generated messages through dnsmsg.parse: (tried, failures, per-kind counts, seconds, worst us/KB)."""
    rng = random.Random(seed)
    seeds = [answer(rng, rng.getrandbits(16)) for _ in range(64)]
    kinds = {"parsed": 0, "DNSError": 0}
    fails = []
    worst = 0.0
    t0 = time.perf_counter()
    for i in range(n):
        r = i % 4
        if r == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        elif r == 1:
            data = mutate(rng, rng.choice(seeds))
        elif r == 2:
            data = _header(an=rng.randint(0, 4), ns=rng.randint(0, 2), qd=rng.choice((0, 1, 1, 2)),
                           flags=rng.choice((0x8180, 0x8380, 0x0100, 0x8183))) + bytes(
                rng.choice((0xC0, 0xC0, 0x01, 0x3F, 0x00, 0x41, 0x0C)) for _ in range(rng.randint(0, 60)))
        else:
            data = rng.choice(seeds)
        t = time.perf_counter()
        try:
            dnsmsg.parse(data)
            kinds["parsed"] += 1
        except dnsmsg.DNSError:
            kinds["DNSError"] += 1
        except Exception as e:  # anything but its own error is a bug
            if len(fails) < 200:
                fails.append("%s on %s" % (repr(e)[:100], data[:40].hex()))
            kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
        dt = time.perf_counter() - t
        per = dt * 1e6 / max(1, len(data) / 1024)
        if len(data) >= 256 and per > worst:
            worst = per
    return n, fails, kinds, time.perf_counter() - t0, worst


def growth(dnsmsg):
    """Per family: (name, t(8 KB), t(64 KB), ratio); linear growth is a ratio of 8."""
    out = []
    for name, make in FAMILIES:
        t1 = _parse_time(dnsmsg.parse, make(8192))
        t64 = _parse_time(dnsmsg.parse, make(65000))
        out.append((name, t1, t64, t64 / t1 if t1 else 0.0))
    return out


def run(r):
    """Section 4's rows."""
    from firmware.soak import new_row

    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from providers import dnsmsg

    rows = []
    n, fails, kinds, secs, worst = fuzz(r.counts["dns_fuzz"], r.seed, dnsmsg)
    rows.append(new_row("dns.fuzz", "fuzzed messages through the codec (providers/dnsmsg.py, on the host): "
                                    "only DNSError may come out", n, len([1 for k in kinds if k not in (
                                        "parsed", "DNSError")]) and sum(v for k, v in kinds.items()
                                                                       if k not in ("parsed", "DNSError")),
                        ["%s %d" % kv for kv in sorted(kinds.items())] + [
                            "%.1f s, %.1f us per message" % (secs, secs * 1e6 / max(n, 1))] + fails[:5]))
    rows[-1]["failures"] = fails
    t = new_row("dns.linear", "hostile families parsed at 8 KB and 64 KB: time grows at most 3x linearly", 0, 0)
    for name, t1, t64, ratio in growth(dnsmsg):
        t["tried"] += 1
        t["notes"].append("%s: %.0f us -> %.0f us (x%.1f for x8 the size)" % (name, t1 * 1e6, t64 * 1e6, ratio))
        if ratio > 8 * 3:
            t["broke"] += 1
    rows.append(t)
    rows += _wire(r)
    return rows


def _wire(r):
    from firmware.soak import new_row

    try:
        from host_tests import dns_fixtures as fx
    except Exception as e:
        return [new_row("dns.wire", "nspm against a hostile DNS server", 0, 1,
                        ["no DNS test server (host_tests/dns_fixtures.py: %s)" % e])]
    bind = r.host_ip if r.host_ip in ("127.0.0.1", "localhost") else "0.0.0.0"
    server = fx.Server("ok", bind, tcp=True, handler=fx.HostileHandler, resolver=fx.HostileResolver())
    try:
        attacks = list(fx.HOSTILE_ATTACKS)
        if not r.host_ip.startswith("127."):
            attacks.remove("addr")  # another source address exists on loopback only
        rows = r.script("resolve", limit=30, dns_port=server.port, forged=fx.FORGED_ADDR, genuine=GENUINE,
                        attacks=attacks)
    finally:
        server.stop()
    for row in rows:
        if row["id"] == "dns.spoof":
            row["notes"].insert(0, "attacks: " + "; ".join("%s (%s)" % (a, fx.HOSTILE_ATTACKS[a]) for a in attacks))
    return rows
