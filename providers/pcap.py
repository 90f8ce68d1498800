# providers/pcap: classic pcap framing with synthesized Ethernet/IPv4/IPv6/TCP/UDP headers, free of I/O.
# MIT licence; part of ws2 for MicroPython. The capture layer (providers/capture.py) writes what this makes.
#
# A socket layer sees payloads and addresses, not packets; this module makes
# the packets a wire capture would have held, so that Wireshark and tshark
# follow the TCP streams and decode the protocols: an Ethernet frame
# (locally administered MACs, one per side), an IPv4 or IPv6 header with the
# real addresses, a TCP or UDP header with the real ports, correct checksums,
# and TCP sequence/acknowledgement numbers that follow the byte stream (the
# Tcp class). Every function returns bytes; the caller decides where they go.
import struct

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


LINKTYPE_ETHERNET = const(1)
MAGIC = const(0xA1B2C3D4)  # microsecond timestamps, written little-endian
SNAPLEN = const(65535)
MSS = const(1460)  # payload bytes per synthesized TCP segment
FIN = const(0x01)
SYN = const(0x02)
RST = const(0x04)
PSH = const(0x08)
ACK = const(0x10)
_PROTO_TCP = const(6)
_PROTO_UDP = const(17)
_WINDOW = const(65535)
_TTL = const(64)
# Two locally administered MACs: the board's side and the peer's side of every frame.
_MAC_LOCAL = b"\x02\x00\x00\x00\x00\x01"
_MAC_PEER = b"\x02\x00\x00\x00\x00\x02"
_ETH_IP4 = b"\x08\x00"
_ETH_IP6 = b"\x86\xdd"


def file_header(snaplen=SNAPLEN, linktype=LINKTYPE_ETHERNET):
    """The 24-byte pcap global header (version 2.4, little-endian, microseconds)."""
    return struct.pack("<IHHiIII", MAGIC, 2, 4, 0, 0, snaplen, linktype)


def record_header(ts_us, caplen, origlen):
    """The 16-byte header of one pcap record (timestamp in microseconds)."""
    return struct.pack("<IIII", (ts_us // 1000000) & 0xFFFFFFFF, ts_us % 1000000, caplen, origlen)


def cut(rec, snap):
    """rec with its frame cut to snap bytes (caplen snap, the original length kept), as tcpdump -s does."""
    if len(rec) - 16 <= snap:
        return rec
    return rec[:8] + struct.pack("<I", snap) + rec[12 : 16 + snap]


def _sum16(data, acc=0):
    # RFC 1071 ones'-complement sum of big-endian 16-bit words, folded to 16 bits; 32 words at a
    # time, so a full segment allocates small tuples, not one of 730 items.
    n = len(data)
    if n & 1:
        n -= 1
        acc += data[n] << 8
    i = 0
    while n - i >= 64:
        acc += sum(struct.unpack_from(">32H", data, i))
        i += 64
    if n > i:
        acc += sum(struct.unpack_from(">%dH" % ((n - i) >> 1), data, i))
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def checksum(data, acc=0):
    """The Internet checksum of data (with acc, a partial sum of a pseudo-header)."""
    return ~_sum16(data, acc) & 0xFFFF


def _l4(proto, src, dst, sport, dport, payload, seq, ack, flags):
    # The TCP or UDP header with its checksum over the pseudo-header (both IP versions).
    n = len(payload)
    if proto == _PROTO_TCP:
        hdr = bytearray(struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags,
                                    _WINDOW, 0, 0))
        off = 16
    else:
        hdr = bytearray(struct.pack(">HHHH", sport, dport, 8 + n, 0))
        off = 6
    size = len(hdr) + n
    pseudo = _sum16(src) + _sum16(dst) + proto + (size & 0xFFFF) + (size >> 16)
    c = checksum(payload, _sum16(hdr, pseudo))
    if proto == _PROTO_UDP and c == 0:
        c = 0xFFFF  # 0 means "no checksum" in UDP
    hdr[off] = c >> 8
    hdr[off + 1] = c & 0xFF
    return bytes(hdr)


def frame(ts_us, outbound, src, dst, proto, sport, dport, payload=b"", seq=0, ack=0, flags=0, ip_id=0):
    """One pcap record: Ethernet + IPv4/IPv6 (by address length) + TCP/UDP + payload.

    src and dst are packed addresses (4 or 16 bytes); outbound chooses which
    MAC is the source (the board's side or the peer's).
    """
    if not isinstance(payload, bytes):
        payload = bytes(payload)  # MicroPython's join takes bytes only
    l4 = _l4(proto, src, dst, sport, dport, payload, seq, ack, flags)
    ln = len(l4) + len(payload)
    if len(src) == 4:
        ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ln, ip_id & 0xFFFF, 0x4000, _TTL, proto, 0, src, dst))
        c = checksum(ip)
        ip[10] = c >> 8
        ip[11] = c & 0xFF
        eth = _ETH_IP4
    else:
        ip = struct.pack(">IHBB16s16s", 0x60000000, ln, proto, _TTL, src, dst)
        eth = _ETH_IP6
    macs = _MAC_PEER + _MAC_LOCAL if outbound else _MAC_LOCAL + _MAC_PEER
    size = 14 + len(ip) + ln
    return b"".join((record_header(ts_us, size, size), macs, eth, ip, l4, payload))


def udp(ts_us, outbound, src, dst, sport, dport, payload, ip_id=0):
    """One UDP datagram as a pcap record."""
    return frame(ts_us, outbound, src, dst, _PROTO_UDP, sport, dport, payload, ip_id=ip_id)


class Tcp:
    """One TCP connection's numbering: turns opens, data, FIN and RST into pcap records.

    local/peer are (packed address, port); isn_local/isn_peer the initial
    sequence numbers. Each method returns a list of records (bytes).
    """

    def __init__(self, local, peer, isn_local, isn_peer):
        self.la, self.lp = local
        self.pa, self.pp = peer
        self.seq = isn_local  # next byte the board sends
        self.ack = isn_peer  # next byte the peer sends
        self.fin_out = False
        self.fin_in = False
        self.ip_id = 0

    def _seg(self, ts, outbound, flags, payload=b""):
        self.ip_id += 1
        ack = self.ack if outbound else self.seq
        if not flags & ACK:
            ack = 0  # a bare SYN acknowledges nothing (readers flag a stray number)
        if outbound:
            return frame(ts, True, self.la, self.pa, _PROTO_TCP, self.lp, self.pp, payload, self.seq, ack, flags,
                         self.ip_id)
        return frame(ts, False, self.pa, self.la, _PROTO_TCP, self.pp, self.lp, payload, self.ack, ack, flags,
                     self.ip_id)

    def open(self, ts, active):
        """The three-way handshake: active (the board connected) or passive (the board accepted)."""
        if active:
            out = [self._seg(ts, True, SYN)]
            self.seq += 1
            out.append(self._seg(ts, False, SYN | ACK))
            self.ack += 1
            out.append(self._seg(ts, True, ACK))
        else:
            out = [self._seg(ts, False, SYN)]
            self.ack += 1
            out.append(self._seg(ts, True, SYN | ACK))
            self.seq += 1
            out.append(self._seg(ts, False, ACK))
        return out

    def data(self, ts, outbound, payload):
        """Segments of at most MSS bytes carrying payload in one direction, numbered on."""
        out = []
        mv = memoryview(payload)
        for i in range(0, len(payload), MSS):
            part = bytes(mv[i : i + MSS])
            out.append(self._seg(ts, outbound, PSH | ACK, part))
            if outbound:
                self.seq += len(part)
            else:
                self.ack += len(part)
        return out

    def fin(self, ts, outbound):
        """A FIN from one side (once per side), and its acknowledgement from the other."""
        if (self.fin_out if outbound else self.fin_in):
            return []
        out = [self._seg(ts, outbound, FIN | ACK)]
        if outbound:
            self.fin_out = True
            self.seq += 1
        else:
            self.fin_in = True
            self.ack += 1
        out.append(self._seg(ts, not outbound, ACK))
        return out

    def rst(self, ts, outbound):
        """A reset from one side; nothing more is numbered after it."""
        self.fin_out = self.fin_in = True
        return [self._seg(ts, outbound, RST | ACK)]

