# ws2/store: the power-safe two-slot file, byte by byte: frame/unframe/pick at every truncation point.
# MIT licence; part of ws2 for MicroPython.
import os
import struct
from binascii import crc32

import pytest
from hypothesis import given, settings, strategies as st

from ws2 import store

OLD = b'{"old": 1}'
NEW = b'{"new": 2, "longer": "payload"}'


def test_frame_layout_byte_by_byte():
    f = store.frame(7, b"abc")
    assert f[:4] == b"WS2S"
    assert f[4:8] == struct.pack("<I", 7)
    assert f[8:12] == struct.pack("<I", 3)
    assert f[12:16] == struct.pack("<I", crc32(b"abc") & 0xFFFFFFFF)
    assert f[16:] == b"abc" and len(f) == 19
    assert store.header(7, b"abc") + b"abc" == f


def test_unframe_roundtrip_and_empty_payload():
    assert store.unframe(store.frame(1, NEW)) == (1, NEW)
    assert store.unframe(store.frame(0xFFFFFFFF, b"")) == (0xFFFFFFFF, b"")
    assert store.frame(0x100000001, b"x")[4:8] == struct.pack("<I", 1)  # the sequence wraps


@pytest.mark.parametrize("payload", [b"", b"x", NEW, bytes(range(256)) * 4])
def test_every_truncation_point_is_rejected(payload):
    f = store.frame(5, payload)
    for n in range(len(f)):
        assert store.unframe(f[:n]) is None, n
    assert store.unframe(f) == (5, payload)


def test_every_flipped_byte_is_rejected():
    f = bytearray(store.frame(9, NEW))
    for i in range(len(f)):
        g = bytearray(f)
        g[i] ^= 0x5A
        got = store.unframe(bytes(g))
        # a flipped sequence number is still a good frame: it only changes which slot wins
        assert got is None or (4 <= i < 8 and got[1] == NEW), i


def test_hostile_slots():
    for data in (None, b"", b"WS2S", b"\x00" * 16, b"XXXX" + bytes(12) + b"payload",
                 store.frame(1, NEW) + b"trailing", store.header(1, b"a" * (store.MAX_PAYLOAD + 1)) + b"a" * (store.MAX_PAYLOAD + 1)):
        assert store.unframe(data) is None


@settings(max_examples=3000, deadline=None, database=None)
@given(st.binary(max_size=64))
def test_unframe_never_raises(data):
    got = store.unframe(data)
    assert got is None or isinstance(got[1], bytes)


def test_pick_prefers_newest_good_slot():
    a, b = store.frame(1, OLD), store.frame(2, NEW)
    assert store.pick(a, b) == (1, 2, NEW)
    assert store.pick(b, a) == (0, 2, NEW)
    assert store.pick(a, None) == (0, 1, OLD)
    assert store.pick(None, b) == (1, 2, NEW)
    assert store.pick(None, None) is None
    assert store.pick(b"junk", b"") is None
    # equal sequence numbers (never written so, but decidable): slot 0
    assert store.pick(store.frame(3, OLD), store.frame(3, NEW)) == (0, 3, OLD)
    # serial-number arithmetic across the 2**32 wrap
    assert store.pick(store.frame(0xFFFFFFFF, OLD), store.frame(0, NEW)) == (1, 0, NEW)
    assert store.newer(0, 0xFFFFFFFF) and not store.newer(0xFFFFFFFF, 0)


def test_pick_with_new_slot_torn_at_every_byte_keeps_old():
    old = store.frame(4, OLD)
    new = store.frame(5, NEW)
    for n in range(len(new)):
        assert store.pick(old, new[:n]) == (0, 4, OLD), n
        assert store.pick(new[:n], old) == (1, 4, OLD), n
    assert store.pick(old, new) == (1, 5, NEW)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("WS2_ROOT", str(tmp_path / "flash"))
    return tmp_path / "flash"


def test_save_alternates_slots_and_load_returns_newest(root):
    assert store.load("x") is None and not store.exists("x")
    store.save("x", b"one")
    assert store.load("x") == b"one" and store.exists("x")
    assert (root / "x.0").read_bytes() == store.frame(1, b"one")
    store.save("x", b"two")
    assert (root / "x.1").read_bytes() == store.frame(2, b"two")
    store.save("x", b"three")
    assert (root / "x.0").read_bytes() == store.frame(3, b"three")
    assert store.load("x") == b"three"
    store.remove("x")
    assert store.load("x") is None and not store.exists("x")


def test_power_cut_at_every_byte_of_a_save_leaves_old_or_new(root):
    # Simulate what a save would leave behind if power failed after n bytes of
    # the target slot were written: the load must give the old payload, and
    # once complete, the new one. Both slots' roles are exercised.
    for first_slot in (0, 1):
        store.remove("c")
        if first_slot:  # make slot 1 the newest, so the next save targets slot 0
            store.save("c", b"zero")
        store.save("c", OLD)
        got = store.pick(*(store._read(store._path("c", i)) for i in (0, 1)))
        target = 1 - got[0]
        full = store.frame(got[1] + 1, NEW)
        keep = (root / ("c.%d" % target)).read_bytes() if (root / ("c.%d" % target)).exists() else None
        for n in range(len(full) + 1):
            (root / ("c.%d" % target)).write_bytes(full[:n])
            assert store.load("c") == (NEW if n == len(full) else OLD), (first_slot, n)
        if keep is not None:
            (root / ("c.%d" % target)).write_bytes(keep)


def test_a_save_after_a_torn_one_goes_to_the_torn_slot(root):
    store.save("t", OLD)  # slot 0, seq 1
    (root / "t.1").write_bytes(store.frame(2, NEW)[:10])  # a torn write of seq 2
    store.save("t", NEW)
    assert (root / "t.1").read_bytes() == store.frame(2, NEW)
    assert (root / "t.0").read_bytes() == store.frame(1, OLD)  # the good copy was never touched
    assert store.load("t") == NEW


def test_oversized_slot_file_reads_as_corrupt_without_loading_it(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "big.0").write_bytes(b"x" * (store.MAX_PAYLOAD + 100))
    assert store.exists("big") and store.load("big") is None
    with pytest.raises(ValueError):
        store.save("big", b"y" * (store.MAX_PAYLOAD + 1))
