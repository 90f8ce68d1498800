# ws2/inaddr: IPv4/IPv6 text <-> bytes, pure functions (no socket module needed, so every port agrees).
# MIT licence; part of ws2 for MicroPython.
#
# The ports disagree on inet_pton/inet_ntop (absent on some lwIP builds, raw
# sockaddr bytes on unix), and the name service must recognise numeric hosts
# without touching the network (AI_NUMERICHOST), so the parsing lives here.
#
# The one parser and formatter of address text: the name service calls it,
# ws2/addrconv (inet_pton/inet_ntop) re-exports ip4 as pton4, pton6 and ntop4,
# and wraps ntop6. The two contracts differ in two places only:
# - a zone: ip6 drops a '%zone' suffix (fe80::1%eth0, fe80::1%3; the scope id is
#   the caller's business), pton6 refuses it as inet_pton does;
# - IPv4 in IPv6 on output: ntop6 writes hex groups (::ffff:102:304, as Python's
#   ipaddress), addrconv.ntop6 the dotted tail of glibc's inet_ntop for
#   ::ffff:a.b.c.d (RFC 5952 section 5) and the deprecated ::a.b.c.d.
# The rest is common: a dotted quad has 1-3 ASCII digits a part and no leading
# zeros, '::' stands for the longest run of two or more zero groups (the first
# of equal runs; glibc never compresses a single zero group either), lower case.


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
        if not 1 <= len(p) <= 3 or (len(p) > 1 and p[0] == "0"):
            return None
        v = 0
        for c in p:  # ASCII digits only: int() would take "+1", " 1", "1_0" and other scripts' digits
            d = ord(c) - 48
            if not 0 <= d <= 9:
                return None
            v = v * 10 + d
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
            o -= 48
        elif 97 <= o <= 102:
            o -= 87
        elif 65 <= o <= 70:
            o -= 55
        else:
            return -1
        v = (v << 4) | o
    return v


def pton6(s):
    """Return the 16 bytes of IPv6 text (with :: and a trailing dotted IPv4, no zone), or None."""
    if len(s) > 45:  # the longest form, ffff:...:ffff:255.255.255.255
        return None
    tail = None
    if "." in s:  # embedded IPv4: only as the last 32 bits
        k = s.rfind(":")
        tail = ip4(s[k + 1 :]) if k >= 0 else None
        if tail is None:
            return None
        s = s[: k + 1] + "0:0"  # stands for the two groups the IPv4 part fills
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
    if tail is not None:
        out[12:16] = tail
    return bytes(out)


def ip6(s):
    """Return the 16 bytes of an IPv6 text (zone id '%...' ignored), or None when s is not one."""
    if not isinstance(s, str) or len(s) > 64:
        return None
    pct = s.find("%")
    return pton6(s[:pct] if pct >= 0 else s)


def ntop4(b):
    """Return the dotted-quad text of 4 bytes."""
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def ntop6(b):
    """Return the RFC 5952 text of 16 bytes (longest zero run of 2+ groups as '::', lower case)."""
    w = [b[2 * i] << 8 | b[2 * i + 1] for i in range(8)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        if w[i]:
            i += 1
            continue
        j = i
        while j < 8 and not w[j]:
            j += 1
        if j - i > best_len:
            best, best_len = i, j - i
        i = j
    if best < 0:
        return ":".join("%x" % x for x in w)
    return ":".join("%x" % x for x in w[:best]) + "::" + ":".join("%x" % x for x in w[best + best_len :])


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
