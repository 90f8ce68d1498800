# Bench: UDP datagrams per second through raw socket and ws2, 64 B and 1,400 B, against the host's UDP echo.
# MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py.
#
# Each repetition sends P["udp_n"] datagrams in windows of 8 (8 sendto, then 8
# recvfrom); the figure is datagrams echoed per second. A datagram lost on the
# way costs the 1 s receive timeout and is counted in a note.
import errno

start()
_N = P["udp_n"]
_BIG = bytearray(1400)
_lost = {}
_TIMEOUTS = (errno.ETIMEDOUT, errno.EAGAIN, 10060, 10035)  # the port's, then WSAETIMEDOUT, WSAEWOULDBLOCK


def udp(size):
    fid = "udp_%d" % size
    buf = memoryview(_BIG)[:size]
    windows = max(1, _N // 8)
    _lost[fid] = ([0], [0])  # receive timeouts: raw, ws2
    socks = []

    def make_raw():
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks.append(u)
        u.settimeout(1)
        addr = raw_addr(HOST, P["udp_echo"])
        return udp_echo_rate(type(u).sendto, type(u).recvfrom, u, buf, addr, windows, _TIMEOUTS, _lost[fid][0])

    def make_ws2():
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP)
        socks.append(s)
        how = timeout_ws2(s, 1000)
        if not how.startswith("ws2"):
            out("note", fid, "ws2", "receive timeout set through " + how)
        addr = (HOST, P["udp_echo"])
        return udp_echo_rate(ws2.sendto, ws2.recvfrom, s, buf, addr, windows, _TIMEOUTS, _lost[fid][1])

    pair(fid, make_raw, make_ws2)
    for k, side in ((0, "raw"), (1, "ws2")):
        if _lost[fid][k][0]:
            out("note", fid, side, "%d receive timeouts (lost datagrams)" % _lost[fid][k][0])
    for x in socks:
        close(x)


for _size in (64, 1400):
    udp(_size)
ws2.WSACleanup()
