# ws2/inaddr: IPv4/IPv6 text <-> bytes, pure functions (no socket module needed, so every port agrees).
# MIT licence; part of ws2 for MicroPython.
#
# The ports disagree on inet_pton/inet_ntop (absent on some lwIP builds, raw
# sockaddr bytes on unix), and the name service must recognise numeric hosts
# without touching the network (AI_NUMERICHOST), so the parsing lives here.


def ip4(s):
    """Return the 4 bytes of a dotted-quad IPv4 text, or None when s is not one."""
    if not isinstance(s, str) or not 7 <= len(s) <= 15:
        return None
    parts = s.split(".")
    if len(parts) != 4:
        return None
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        # isdigit rejects "+1", " 1" and "1_0", which int() would take
        if not p or len(p) > 3 or not p.isdigit() or (len(p) > 1 and p[0] == "0"):
            return None
        v = int(p)
        if v > 255:
            return None
        out[i] = v
    return bytes(out)


def _hex16(p):
    if not 1 <= len(p) <= 4:
        return -1
    v = 0
    for c in p:
        o = ord(c)
        if 48 <= o <= 57:
            d = o - 48
        elif 97 <= o <= 102:
            d = o - 87
        elif 65 <= o <= 70:
            d = o - 55
        else:
            return -1
        v = v * 16 + d
    return v


def ip6(s):
    """Return the 16 bytes of an IPv6 text (zone id '%...' ignored), or None when s is not one."""
    if not isinstance(s, str) or not 2 <= len(s) <= 64:
        return None
    pct = s.find("%")
    if pct >= 0:
        s = s[:pct]
    if "." in s:  # embedded IPv4 in the last 32 bits (::ffff:1.2.3.4): re-express it as two groups
        k = s.rfind(":")
        v4 = ip4(s[k + 1 :]) if k >= 0 else None
        if v4 is None:
            return None
        s = s[: k + 1] + "%x:%x" % (v4[0] << 8 | v4[1], v4[2] << 8 | v4[3])
    halves = s.split("::")
    if len(halves) > 2:
        return None
    groups = []
    for h in halves:
        g = []
        if h:
            for p in h.split(":"):
                v = _hex16(p)
                if v < 0:
                    return None
                g.append(v)
        groups.append(g)
    if len(halves) == 2:
        n = len(groups[0]) + len(groups[1])
        if n > 7:
            return None
        words = groups[0] + [0] * (8 - n) + groups[1]
    else:
        words = groups[0]
        if len(words) != 8:
            return None
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = words[i] >> 8
        out[2 * i + 1] = words[i] & 0xFF
    return bytes(out)


def ntop4(b):
    """Return the dotted-quad text of 4 bytes."""
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def ntop6(b):
    """Return the RFC 5952 text of 16 bytes (longest zero run of 2+ groups as '::', lower case)."""
    w = [b[2 * i] << 8 | b[2 * i + 1] for i in range(8)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        if w[i] == 0:
            j = i
            while j < 8 and w[j] == 0:
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    if best < 0:
        return ":".join("%x" % x for x in w)
    left = ":".join("%x" % x for x in w[:best])
    right = ":".join("%x" % x for x in w[best + best_len :])
    return left + "::" + right


def family(s):
    """Return 2 (AF_INET) or 23 (AF_INET6) when s is a numeric address text, else 0."""
    if ip4(s) is not None:
        return 2
    if ":" in s and ip6(s) is not None:
        return 23
    return 0


def canonical(s):
    """Return the normalised text of a numeric address (e.g. '::FFFF:0:1' -> '::ffff:0:1'), or None."""
    b = ip4(s)
    if b is not None:
        return s
    b = ip6(s)
    return ntop6(b) if b is not None else None
