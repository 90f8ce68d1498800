# Unit tests: the capture layer's pcap codec (byte by byte), its ring sink, the host's joining of the ring,
# and the faults layer's seeded plans. MIT licence; part of ws2 for MicroPython.
import os
import struct

import dpkt
import pytest

from firmware import FirmwareError, capture
from providers import capsink, faultplan, pcap
from ws2.errors import WSAError

A = bytes([192, 0, 2, 1])
B = bytes([198, 51, 100, 7])
A6 = bytes(15) + b"\x01"
B6 = bytes.fromhex("20010db8000000000000000000000002")


def test_file_header_bytes():
    assert pcap.file_header() == bytes.fromhex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000".replace(" ", ""))
    assert pcap.file_header(96)[16:20] == b"\x60\x00\x00\x00"


def test_record_header_bytes():
    assert pcap.record_header(1700000000123456, 60, 60) == struct.pack("<IIII", 1700000000, 123456, 60, 60)


def test_checksum_of_rfc1071_example():
    # RFC 1071's example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement
    assert pcap.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert pcap.checksum(b"\x01") == 0xFEFF  # an odd byte is padded with zero
    assert pcap.checksum(b"\x00" * 200 + b"\xff\xfe") == 0x0001


def test_udp_ipv4_frame_byte_by_byte():
    rec = pcap.udp(2000001, True, A, B, 5353, 53, b"hi", ip_id=7)
    hdr, frame = rec[:16], rec[16:]
    assert hdr == struct.pack("<IIII", 2, 1, 14 + 20 + 8 + 2, 14 + 20 + 8 + 2)
    assert frame[:14] == b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    ip = frame[14:34]
    assert ip[:10] == bytes.fromhex("4500001e00074000" "4011")
    assert ip[12:16] == A and ip[16:20] == B
    assert pcap.checksum(ip) == 0  # a header with its checksum sums to zero
    udp = frame[34:]
    assert udp[:6] == struct.pack(">HHH", 5353, 53, 10) and udp[8:] == b"hi"
    pseudo = A + B + b"\x00\x11" + struct.pack(">H", 10)
    assert pcap.checksum(pseudo + udp) == 0
    # and dpkt agrees with every field
    e = dpkt.ethernet.Ethernet(frame)
    assert e.data.sum == struct.unpack(">H", ip[10:12])[0] and e.data.data.data == b"hi"


def test_inbound_frame_swaps_macs():
    frame = pcap.udp(0, False, B, A, 53, 5353, b"")[16:]
    assert frame[:12] == b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02"


def test_udp_ipv6_frame_byte_by_byte():
    frame = pcap.udp(0, True, A6, B6, 1000, 2000, b"abc")[16:]
    assert frame[12:14] == b"\x86\xdd"
    ip = frame[14:54]
    assert ip[:8] == bytes.fromhex("60000000000b1140")
    assert ip[8:24] == A6 and ip[24:40] == B6
    udp = frame[54:]
    pseudo = A6 + B6 + struct.pack(">IxxxB", 11, 17)
    assert udp[4:6] == b"\x00\x0b" and pcap.checksum(pseudo + udp) == 0
    assert udp[6:8] != b"\x00\x00"  # mandatory over IPv6


def test_tcp_numbering_follows_the_stream():
    t = pcap.Tcp((A, 40000), (B, 80), 1000, 5000)
    recs = t.open(0, True) + t.data(1, True, b"GET") + t.data(2, False, b"x" * 3000) + t.fin(3, True) + t.fin(4, False)
    segs = [dpkt.ethernet.Ethernet(r[16:]).data.data for r in recs]
    flags = [s.flags for s in segs]
    F, S, R, P, K = pcap.FIN, pcap.SYN, pcap.RST, pcap.PSH, pcap.ACK
    assert flags == [S, S | K, K, P | K, P | K, P | K, P | K, F | K, K, F | K, K]
    assert [(s.seq, s.ack) for s in segs] == [
        (1000, 0), (5000, 1001), (1001, 5001), (1001, 5001),
        (5001, 1004), (6461, 1004), (7921, 1004),  # 3000 bytes in MSS-sized segments
        (1004, 8001), (8001, 1005), (8001, 1005), (1005, 8002)]
    assert [len(s.data) for s in segs[4:7]] == [1460, 1460, 80]
    assert [(s.sport, s.dport) for s in segs[:2]] == [(40000, 80), (80, 40000)]
    for r in recs:  # every TCP checksum verifies
        ip = dpkt.ethernet.Ethernet(r[16:]).data
        tcp = bytes(ip.data)
        pseudo = ip.src + ip.dst + struct.pack(">BBH", 0, 6, len(tcp))
        assert pcap.checksum(pseudo + tcp) == 0
    assert t.fin(5, True) == []  # once per side
    assert dpkt.ethernet.Ethernet(t.rst(6, False)[0][16:]).data.data.flags == R | K


def test_passive_open_starts_from_the_peer():
    t = pcap.Tcp((A, 80), (B, 50000), 1, 100)
    segs = [dpkt.ethernet.Ethernet(r[16:]).data.data for r in t.open(0, False)]
    assert [(s.sport, s.flags, s.seq) for s in segs] == [(50000, pcap.SYN, 100), (80, pcap.SYN | pcap.ACK, 1),
                                                          (50000, pcap.ACK, 101)]


def test_cut_keeps_the_original_length():
    rec = pcap.udp(0, True, A, B, 1, 2, b"z" * 100)
    cut = pcap.cut(rec, 50)
    assert len(cut) == 66 and struct.unpack("<II", cut[8:16]) == (50, len(rec) - 16)
    assert pcap.cut(rec, 1000) is rec


def test_capture_settings_are_checked():
    assert capsink.check({}) == {}
    assert capsink.check({"kb": 8}) == {"file": "", "kb": 8, "to": None, "snap": 0, "flush_ms": 250}
    for bad in ({"kb": 2}, {"kb": True}, {"bogus": 1}, {"to": ["1.2.3.4"]}, {"snap": -1}, [], {"file": 3},
                {"flush_ms": -1}):
        with pytest.raises(WSAError) as e:
            capsink.check(bad)
        assert e.value.errno == 10022


def test_ring_alternates_two_bounded_files(tmp_path):
    path = str(tmp_path / "c.pcap")
    r = capsink.Ring(path, 4)  # 2 KB per file
    for i in range(40):
        r.write(pcap.udp(i * 1000, True, A, B, 1, 2, bytes([i]) * 200))
    r.close()
    sizes = [os.path.getsize(p) for p in (path, path + ".1")]
    assert all(s <= 2048 for s in sizes), sizes
    with open(path, "rb") as f:
        a = f.read()
    with open(path + ".1", "rb") as f:
        b = f.read()
    joined = capture.join([a, b])
    pl = [bytes(dpkt.ethernet.Ethernet(buf).data.data.data)[0] for _, buf in dpkt.pcap.Reader(__import__("io").BytesIO(joined))]
    assert pl == list(range(pl[0], 40)) and pl[0] > 0  # the newest, in order, whichever file is older


def test_join_leaves_out_a_record_cut_by_a_reset():
    data = pcap.file_header() + pcap.udp(0, True, A, B, 1, 2, b"whole")
    torn = data + pcap.udp(1, True, A, B, 1, 2, b"torn")[:30]
    assert capture.join([None, torn]) == data
    with pytest.raises(FirmwareError):
        capture.join([None, b""])
    with pytest.raises(FirmwareError):
        capture.records(b"not a pcap file at all.....")


def test_fault_plan_is_reproducible_and_checked():
    spec = {"seed": 42, "drop": 500, "corrupt": 500, "fail": [["recv", 2, 10054], ["sendto", 1, "dup"]]}
    a, b = faultplan.Plan(spec), faultplan.Plan(spec)
    assert [a.rand() for _ in range(5)] == [b.rand() for _ in range(5)]
    x = faultplan.Plan({"seed": 1})
    assert [x.rand() for _ in range(3)] == [270369, 67634689, 2647435461]  # xorshift32 from 1
    p = faultplan.Plan(spec)
    assert [p.call("recv"), p.call("recv"), p.call("recv"), p.call("sendto")] == [None, 10054, None, "dup"]
    assert p.corrupt(b"\x00\x00\x00\x00") != b"\x00\x00\x00\x00"
    assert len(p.truncate(b"abcdef")) < 6
    assert faultplan.Plan({"dir": "in", "drop": 1000}).dgram(True) == []
    assert faultplan.Plan({"drop": 1000}).dgram(False) == ["drop"]
    assert faultplan.check({1010: {}, "*": {"split_send": 3}})["1010"]["seed"] == 1
    for bad in ({"drop": 1001}, {"nope": 1}, {"fail": [["recv", 1, 12345]]}, {"fail": [["read", 1, 10054]]},
                {"dir": "up"}, {"fail": "x"}):
        with pytest.raises(WSAError) as e:
            faultplan.check_plan(bad)
        assert e.value.errno == 10022
    with pytest.raises(WSAError):
        faultplan.check({"chain": {}})


def test_capture_cli_has_help_and_needs_a_port(capsys):
    from firmware.__main__ import main

    with pytest.raises(SystemExit):
        main(["capture", "--help"])
    assert "--seconds" in capsys.readouterr().out
    assert main(["capture"]) == 1 or os.environ.get("PORT")
    assert "needs --port" in capsys.readouterr().err or os.environ.get("PORT")
