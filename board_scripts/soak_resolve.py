# Soak, section 4: nspm against a hostile DNS server. MIT licence; part of ws2 for MicroPython.
# Runs after soak_lib.py.
#
# For each attack of the server (P["attacks"]: "<attack>.hostile.ws2.test"), with
# an empty cache: the name must resolve to its genuine address and never to the
# forged one; afterwards the cache must hold no forged address, and the victim
# names must still resolve genuinely. TTL 0 and a TTL with the top bit set must
# not be cached (the server sees the second query); TTL 2^31 - 1 must be cached
# no longer than nspm's ceiling.
ws2.WSAStartup(0x0202)
ws2.config(dns_servers=[(HOST, P["dns_port"])], dns_timeout_ms=3000)
FORGED = P["forged"]
GENUINE = P["genuine"]
DAY_MS = 86400 * 1000


def addrs(name):
    return [x[4][0] for x in ws2.getaddrinfo(name, 80, ws2.AF_INET, ws2.SOCK_STREAM)]


def count(name):
    # the server's count of queries for name, read over DNS itself (answers of TTL 0: never cached)
    a = addrs("count." + name)[0].split(".")
    return int(a[2]) * 256 + int(a[3])


def nspm_mod():
    import sys

    return sys.modules.get("providers.nspm")


def poisoned():
    m = nspm_mod()
    n = 0
    for k, e in list(m._cache.items()) if m else ():
        if FORGED in e[5] or FORGED in e[4]:
            n += 1
    return n


ticks_ms = _ms
ticks_diff = _diff

spoof = Tally("dns.spoof", "resolutions under attack (answers accepted from a forger = broke)")
genuine = Tally("dns.genuine", "the genuine answer returned under attack")
poison = Tally("dns.poison", "cache entries checked for forged addresses after each attack (poisoned = broke)")
ttl = Tally("dns.ttl", "TTL 0 and top-bit TTLs not cached; TTL 2^31 - 1 cached no longer than a day")
for rnd in range(P["dns_rounds"]):
    for attack in P["attacks"]:
        name = attack + ".hostile.ws2.test"
        m = nspm_mod()
        if m:
            m.cache_clear()
        try:
            got = addrs(name)
        except Exception as e:
            genuine.fail("no answer", "%s: %s" % (attack, why(e)))
            spoof.ok()
            continue
        if FORGED in got:
            spoof.fail("forged address accepted", "%s: %r" % (attack, got))
        else:
            spoof.ok()
        if got != [GENUINE[attack]]:
            genuine.fail("not the genuine answer", "%s: %r" % (attack, got))
        else:
            genuine.ok()
        for victim in ("victim.hostile.ws2.test", "a.ws2.test"):
            try:
                v = addrs(victim)
            except Exception as e:
                v = [why(e)]
            if FORGED in v:
                poison.fail("victim resolved to the forged address", "%s after %s" % (victim, attack))
            else:
                poison.ok()
        k = poisoned()
        if k:
            poison.fail("forged address in the cache", "%d entries after %s" % (k, attack))
        else:
            poison.ok()
        if attack in ("ttl0", "ttltop"):
            before = count(name)
            addrs(name)
            if count(name) != before + 1:
                ttl.fail("answer cached", "%s: a second lookup did not reach the server" % attack)
            else:
                ttl.ok()
        elif attack == "ttlmax":
            e = nspm_mod()._cache.get((name, 1))
            if e is None:
                ttl.fail("answer not cached", attack)
            elif ticks_diff(e[0], ticks_ms()) > DAY_MS:
                ttl.fail("cached for more than a day", "%d ms" % ticks_diff(e[0], ticks_ms()))
            else:
                ttl.ok()
        beat()
for t in (spoof, genuine, poison, ttl):
    t.emit()
ws2.config(dns_servers=[], dns_timeout_ms=2000)
stop_all()
