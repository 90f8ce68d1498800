# Bench: what the optional layers cost. A 64 B TCP echo round trip on a plain ws2 socket (the "raw" column
# here) against the same through the capture layer (idle, and capturing to the flash ring) and through the
# faults layer without a plan; and the heap each layer's import takes.
# MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py.
import os

start()
_N = max(20, P["rtt_n"] // 2)
_PING = bytes(64)
_RING = "/.ws2/bench_capture.pcap"
_socks = []


def _import_heap(fid, names):
    gc.collect()
    before = gc.mem_free()
    for n in names:
        __import__(n)
    gc.collect()
    out("fig", fid, "ws2", [before - gc.mem_free()])


def _rtt(s):
    return echo_rtt(ws2.send, ws2.recv, s, _N, _PING)


def _sock(info):
    s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, info) if info else ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    _socks.append(s)
    nodelay_ws2(s)
    ws2.connect(s, (HOST, P["echo"]))
    return s


def _figure(fid, info, capturing=False):
    runs = []
    attempt(fid, "raw", runs, lambda: _rtt(_sock(None)))

    def layered():
        s = _sock(info)
        if capturing:
            ws2.WSAIoctl(s, ws2.SIO_CAPTURE_START, {"file": _RING, "kb": 32})
        return _rtt(s)

    attempt(fid, "ws2", runs, layered)
    measure(fid, runs)
    for s in _socks:
        if capturing:
            try:
                ws2.WSAIoctl(s, ws2.SIO_CAPTURE_STOP)
            except Exception:
                pass
        close(s)
    del _socks[:]


try:
    _import_heap("layer_ram_capture", ("providers.layer", "providers.pcap", "providers.capsink", "providers.capture"))
    _import_heap("layer_ram_faults", ("providers.faultplan", "providers.faults"))
    from providers import lspinst

    ws2.catalog.reset()
    _cap = lspinst.install("capture", [1001])[0]
    _flt = lspinst.install("faults", [1001])[0]
    _infos = {}
    for _p in ws2.WSCEnumProtocols():
        _infos[_p.catalog_entry_id] = _p
    _figure("layer_capture_idle", _infos[_cap])
    _figure("layer_capture_on", _infos[_cap], True)
    _figure("layer_faults_idle", _infos[_flt])
finally:
    ws2.WSACleanup()
    ws2.catalog.reset()
    for _f in (_RING, _RING + ".1"):
        try:
            os.remove(_f)
        except OSError:
            pass
