# The virtual board behaves as a board where tools notice: mpremote mount's binary protocol passes the
# serial line untouched, `fs ls` and `df` show the board's files and filesystem, a kept flash outlives
# Ctrl-C, and a board that does not start leaves nothing behind.
# MIT licence; part of ws2 for MicroPython.
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from firmware import ROOT, vboard
from firmware.vboard import VirtualBoard

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
# Every character a file name may hold on the host but "/" (and NUL), control characters included:
# "\n", "\r", Ctrl-C and CAN (mount's sync byte) are in every name longer than 24.
NAME_CHARS = "".join(chr(c) for c in range(1, 128) if c != ord("/"))


def mpremote(device, *args, timeout=60):
    r = subprocess.run([MPREMOTE, "connect", device] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


@pytest.fixture
def vb(request):
    b = VirtualBoard(request.config.getoption("--board"), micropython=request.config.getoption("--micropython"))
    b.start()
    yield b
    b.stop()


def name_of(n):
    return "".join(NAME_CHARS[(i * 7 + n) % len(NAME_CHARS)] for i in range(n))


def test_mount_stat_of_a_nine_letter_name(vb, tmp_path):
    (tmp_path / "abcdefghi").write_bytes(b"x" * 10)
    rc, out, err = mpremote(vb.device, "mount", str(tmp_path), "exec", "import os; print(os.stat('abcdefghi')[6])",
                            timeout=30)
    assert rc == 0, (out, err)
    assert out.splitlines()[-1].strip() == "10"
    rc, out, err = mpremote(vb.device, "mount", str(tmp_path), "exec", "import os; os.stat('abcdefghj')", timeout=30)
    assert rc == 1 and "OSError" in out + err and "ENOENT" in out + err, (out, err)


def test_mount_file_names_of_every_length_0_to_300(vb, tmp_path):
    for n in range(1, 256):
        (tmp_path / name_of(n)).write_bytes(bytes(range(n % 256)))
    code = "\n".join([
        "import os",
        "chars = %r" % NAME_CHARS,
        "def name_of(n):",
        "    return ''.join(chars[(i * 7 + n) % len(chars)] for i in range(n))",
        "ok = 0",
        "for n in range(301):",
        "    name = name_of(n)",
        "    try:",
        "        st = os.stat(name)",
        "    except OSError as e:",
        "        assert n > 255, (n, e)",
        "        ok += 1",
        "        continue",
        "    if n == 0:",
        "        assert st[0] & 0x4000",
        "    else:",
        "        assert st[6] == n, (n, st)",
        "        with open(name, 'rb') as f:",
        "            assert f.read() == bytes(range(n)), n",
        "    ok += 1",
        "print('names', ok, len(os.listdir()))",
    ])
    rc, out, err = mpremote(vb.device, "mount", str(tmp_path), "exec", code, timeout=120)
    assert rc == 0, (out[-2000:], err[-2000:])
    assert out.splitlines()[-1].strip() == "names 301 255"


def test_mount_a_file_of_every_byte_value_both_ways(vb, tmp_path):
    data = bytes(range(256)) * 9 + bytes(range(255, -1, -1))
    (tmp_path / "every.bin").write_bytes(data)
    code = "\n".join([
        "want = bytes(range(256)) * 9 + bytes(range(255, -1, -1))",
        "with open('every.bin', 'rb') as f:",
        "    got = f.read()",
        "assert got == want, len(got)",
        "with open('back.bin', 'wb') as f:",
        "    f.write(bytes(range(256)))",
        "    f.write(b'\\n\\r\\n\\x03\\x18\\x04>')",
        "print('read', len(got))",
    ])
    rc, out, err = mpremote(vb.device, "mount", str(tmp_path), "exec", code, timeout=60)
    assert rc == 0, (out, err)
    assert out.splitlines()[-1].strip() == "read %d" % len(data)
    assert (tmp_path / "back.bin").read_bytes() == bytes(range(256)) + b"\n\r\n\x03\x18\x04>"


def test_fs_ls_shows_sizes_and_df_the_board_filesystem(vb, tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(b"z" * 5000)
    assert mpremote(vb.device, "fs", "cp", str(f), ":data.bin")[0] == 0
    assert mpremote(vb.device, "fs", "mkdir", ":sub")[0] == 0
    rc, out, err = mpremote(vb.device, "fs", "ls")
    assert rc == 0, err
    sizes = {line.split()[-1]: int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()}
    assert sizes == {"data.bin": 5000, "sub/": 0}
    rc, out, err = mpremote(vb.device, "df")
    assert rc == 0, err
    row = [line.split() for line in out.splitlines() if line.split() and line.split()[-1] == "/"]
    assert row, out
    size, used, avail = (int(x) for x in row[0][-5:-2])
    blocks = vboard.flash_blocks(vb.board)
    assert size == blocks * 4096
    # root, sub/ and data.bin's two blocks
    assert used == 4 * 4096 and avail == size - used


def test_the_board_filesystem_size_follows_board_json():
    assert vboard.flash_blocks({"filesystem_kb": 848}) == 212
    assert vboard.flash_blocks({}) == 256


def test_make_board_flash_dir_outlives_ctrl_c(tmp_path):
    flash = tmp_path / "flash"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    p = subprocess.Popen(["make", "--no-print-directory", "board", "BOARD=UNIX", "FLASH=%s" % flash], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=env)
    try:
        dev = None
        deadline = time.time() + 120
        lines = []
        while time.time() < deadline:
            line = p.stdout.readline().decode()
            lines.append(line)
            if line.startswith("/dev/"):
                dev = line.strip()
            if "Ctrl-C stops it" in line:
                break
        assert dev, "".join(lines)
        assert "temporary" not in lines[-1] and str(flash) in lines[-1]
        f = tmp_path / "keep.txt"
        f.write_text("kept")
        assert mpremote(dev, "fs", "cp", str(f), ":keep.txt")[0] == 0
    finally:
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        p.wait(timeout=30)
    assert (flash / "keep.txt").read_text() == "kept"
    assert (flash / "lib" / "ws2").is_dir()


def _leftovers(d):
    return sorted(n for n in os.listdir(d) if n.startswith("ws2-flash-"))


def test_a_failed_start_leaves_no_temporary_flash(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no micropython interpreter at"):
        VirtualBoard("UNIX", micropython=str(tmp_path / "missing"))
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="keeps exiting at start"):
        VirtualBoard("UNIX", micropython="/bin/false").start(timeout=30)
    assert time.monotonic() - t0 < 20
    assert _leftovers(str(tmp_path)) == []
