# Device tests: ws2/settings: ws2.config validation. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import err


def test_config_validation():
    from ws2 import settings

    settings.reset()
    try:
        cur = ws2.config()
        for k in ("dns_servers", "dns_timeout_ms", "hosts", "tls_ca_file", "max_sockets"):
            assert k in cur, k
        bad = (
            {"dns_server": []}, {"Hosts": {}}, {"dns_servers": "8.8.8.8"}, {"dns_servers": [("8.8.8.8",)]},
            {"dns_servers": [("8.8.8.8", "53")]}, {"dns_servers": [("8.8.8.8", 0)]}, {"dns_servers": [("dns.example", 53)]},
            {"dns_servers": [(None, 53)]}, {"dns_timeout_ms": "2000"}, {"dns_timeout_ms": -1}, {"dns_timeout_ms": True},
            {"dns_timeout_ms": 1.5}, {"hosts": []}, {"hosts": {"a": 5}}, {"hosts": {"a": "not-an-ip"}}, {"hosts": {"": "1.2.3.4"}},
            {"tls_ca_file": None}, {"max_sockets": 256}, {"max_sockets": -1}, {"max_sockets": "8"},
        )
        for kw in bad:
            e = err(ws2.WSAEINVAL, lambda: ws2.config(**kw))
            key = list(kw)[0]
            assert key in str(e), (kw, str(e))  # the message names the setting
            assert ws2.config() == cur, kw  # nothing changed
        e = err(ws2.WSAEINVAL, lambda: ws2.config(dns_server=[]))
        assert "known:" in str(e) and "dns_servers" in str(e)
        got = ws2.config(dns_servers=[("10.0.0.1", 53), ["::1", 5353]], hosts={"printer": "10.0.0.9"})
        assert got["dns_servers"] == [["10.0.0.1", 53], ["::1", 5353]] and got["hosts"] == {"printer": "10.0.0.9"}
        settings.forget()  # what a reboot does: read back from flash
        assert ws2.config()["dns_servers"] == [["10.0.0.1", 53], ["::1", 5353]]
    finally:
        settings.reset()
    assert ws2.config() == cur


def test_checking_a_layer_setting_keeps_no_layer_code():
    # Settings are checked each time they are read from flash; the capture and faults checkers live in
    # their layers' modules, which must not stay in RAM afterwards (capsink would keep pcap, 4 KB and more).
    import sys

    from ws2 import settings

    settings.reset()
    try:
        before = sorted(m for m in sys.modules if m.startswith("providers."))
        ws2.config(capture={"kb": 8}, faults={})
        ws2.config(capture={})
        err(ws2.WSAEINVAL, lambda: ws2.config(capture={"bogus": 1}))
        settings.reset()
        settings.validate("capture", {"kb": 8})
        assert sorted(m for m in sys.modules if m.startswith("providers.")) == before, sys.modules
    finally:
        settings.reset()
