# ws2/netup: what a board's boot.py does at every reset: Wi-Fi up from /secrets.json, the catalog loaded.
# MIT licence; part of ws2 for MicroPython.
#
# Frozen with ws2, so a reset compiles nothing (a boot.py of 80 lines would be
# compiled from source into the heap at every reset) and every Wi-Fi board
# runs the same code. It stays short: mpremote (and with it deploy and the
# tests) waits at most 10 s for boot.py, hence a join timeout of 8 s by
# default, and a board still on the network from before a soft reset is not
# joined again. /secrets.json is written on the board by
# `make wifi SSID=... PASSWORD=... PORT=...` and never lives in git.
# Keys: ssid, password, and optionally country, hostname, timeout_s.


def wifi(path="/secrets.json"):
    """Join the Wi-Fi network named in path (a JSON file of ssid, password, ...); prints what happened."""
    try:
        import json

        with open(path) as f:
            cfg = json.load(f)
        ssid = cfg["ssid"]
        limit = int(cfg.get("timeout_s", 8) * 1000)
    except OSError:
        print("boot: no %s: Wi-Fi stays off (make wifi SSID=... PASSWORD=... PORT=...)" % path)
        return
    except (ValueError, KeyError, TypeError):
        print("boot: %s is not {\"ssid\": ..., \"password\": ...}: Wi-Fi stays off (run make wifi again)" % path)
        return
    try:
        import network
    except ImportError:
        print("boot: this firmware has no network module: Wi-Fi stays off")
        return
    from ws2.port import sleep_ms, ticks_diff, ticks_ms

    wlan = network.WLAN(network.STA_IF)
    if wlan.active() and wlan.isconnected():
        print("boot: Wi-Fi %r up, address %s" % (ssid, wlan.ifconfig()[0]))
        return
    try:
        if cfg.get("country"):
            network.country(cfg["country"])
        if cfg.get("hostname"):
            network.hostname(cfg["hostname"])
    except Exception as e:  # older firmware, or a bad value: join anyway
        print("boot: Wi-Fi country/hostname not set (%r)" % (e,))
    wlan.active(True)
    wlan.connect(ssid, cfg.get("password", ""))
    wrong = getattr(network, "STAT_WRONG_PASSWORD", None)
    t0 = ticks_ms()
    st = None
    while not wlan.isconnected():
        st = wlan.status()
        if st == wrong or ticks_diff(ticks_ms(), t0) > limit:
            break
        sleep_ms(100)
    else:
        print("boot: Wi-Fi %r up, address %s" % (ssid, wlan.ifconfig()[0]))
        return
    why = st
    for k in dir(network):
        if k.startswith("STAT_") and getattr(network, k) == st:
            why = k
    print("boot: Wi-Fi %r not joined after %d ms (status %s): check the SSID and password (make wifi ...) "
          "and that the access point is in range; continuing without network"
          % (ssid, ticks_diff(ticks_ms(), t0), why))


def catalog():
    """Load the ws2 catalog; a broken one is reported, never raised (the board must boot)."""
    from ws2 import catalog as cat

    try:
        cat.ensure()
    except Exception as e:  # a broken catalog must not stop the board from booting
        print("boot: ws2 catalog not loaded: %r" % (e,))

