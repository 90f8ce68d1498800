# Unit tests of `make bench`'s statistics and report (synthetic numbers), and a smoke run of the quick bench
# on the board (virtual unless --port). No test here fails on a timing value. MIT licence; part of ws2 for MicroPython.
import json
import os

import pytest

from firmware import bench

BOARD = {"name": "UNIX", "mpy_arch": "x64", "heap_kb": 110, "max_sockets": 32}


# -- statistics --------------------------------------------------------------------------------------

def test_summarize_odd_count_keeps_run_order():
    s = bench.summarize([5, 1, 3, 2, 4])
    assert (s["n"], s["median"], s["min"], s["max"]) == (5, 3, 1, 5)
    assert (s["q1"], s["q3"]) == (2, 4)
    assert s["samples"] == [5, 1, 3, 2, 4]


def test_summarize_even_count_and_quartiles():
    s = bench.summarize([10, 20, 30, 40])
    assert s["median"] == 25
    assert s["q1"] == pytest.approx(17.5) and s["q3"] == pytest.approx(32.5)


def test_summarize_one_sample_has_no_spread():
    s = bench.summarize([7])
    assert s["median"] == s["min"] == s["max"] == s["q1"] == s["q3"] == 7


def test_summarize_nothing_is_an_error():
    with pytest.raises(ValueError):
        bench.summarize([])


@pytest.mark.parametrize("ws2, raw, want", [
    ([110, 120, 130], [100, 100, 100], 1.2),  # time: 20 % slower
    ([95, 95, 95], [100, 100, 100], 0.95),  # rate: 95 % of raw
    ([1], [0], None),  # raw median 0: no ratio
])
def test_ratio_of_medians(ws2, raw, want):
    r = bench.ratio(bench.summarize(ws2), bench.summarize(raw))
    assert r == (pytest.approx(want) if want is not None else None)


def test_ratio_missing_side_is_none():
    ok = bench.summarize([1, 2, 3])
    assert bench.ratio({"missing": "x"}, ok) is None
    assert bench.ratio(ok, None) is None


def test_paired_spread_uses_interleaved_repetitions():
    w = bench.summarize([110, 150, 120])
    r = bench.summarize([100, 100, 120])
    assert bench.paired_spread(w, r) == [pytest.approx(1.0), pytest.approx(1.5)]


@pytest.mark.parametrize("value, op, limit, want", [
    (12288, "<=", 12288, "met"), (12289, "<=", 12288, "not met"),
    (95, ">=", 95, "met"), (94.9, ">=", 95, "not met"), (None, "<=", 1, "missing"),
])
def test_verdict(value, op, limit, want):
    assert bench.verdict(value, op, limit) == want


@pytest.mark.parametrize("x, want", [(None, "-"), (3, "3"), (1234.0, "1,234"), (1234.6, "1,235"), (123.4, "123"),
                                     (12.34, "12.3"), (1.234, "1.23"), (0.1234, "0.123")])
def test_fmt(x, want):
    assert bench.fmt(x) == want


# -- results and report ----------------------------------------------------------------------------

def _synthetic(**over):
    """Figures as a run would leave them: every figure reported, some missing, budgets around their limits."""
    res = []
    for fid, script, title, unit, kind in bench.FIGURES:
        if fid == "flash_bundle":
            continue
        if kind in ("time", "rate"):
            res.append(("fig", fid, "raw", [100.0, 101.0, 99.0]))
            res.append(("fig", fid, "ws2", [105.0, 104.0, 106.0]))
        elif kind == "bytes":
            res.append(("fig", fid, "ws2", [300.0, 300.0, 300.0]))
            res.append(("fig", fid, "raw", [32.0, 32.0, 32.0]))
        else:
            res.append(("fig", fid, "ws2", [224]))
    res.append(("fig", "ram_import", "ws2", [20000.0, 20000.0]))
    res.append(("fig", "ram_import_rom", "ws2", [8000.0, 8000.0]))  # 32-bit: 4000 B; the .mpy files: 16000 B
    res.append(("fig", "tcp_bulk_4k", "ws2", [90.0, 91.0, 89.0]))  # 90 % of raw: the bulk budget fails
    res.append(("miss", "select_8", "ws2", "WSAError: [WSA 10045] Operation not supported"))
    res.append(("note", "tcp_rtt_64", "ws2", "TCP_NODELAY set through ws2.setsockopt"))
    res.append(("note", "tcp_rtt_64", "ws2", "TCP_NODELAY set through ws2.setsockopt"))  # once only
    res.append(("info", "word", None, 8))
    res.append(("prof", "send 64 B TCP", "raw sock.send", {"us": [1.0, 3.0, 2.0], "alloc": 0.0}))
    res.append(("prof", "send 64 B TCP", "ws2.send", "AttributeError: gone"))
    for k, v in over.items():
        res.append(v)
    return res


def _report(results=None, flash=None):
    figures = bench.new_figures()
    info, profile = {}, {}
    bench.apply_results(figures, info, profile, _synthetic() if results is None else results)
    if flash is None:
        flash = {"UNIX": {"arch": "x64", "budget": 112640, "bytes": 40000, "tcp_bytes": 42000},
                 "RPI_PICO_W": {"arch": "armv6m", "budget": 112640, "missing": "mpy-cross failed"}}
    figures["flash_bundle"]["ws2"] = bench.summarize([40000])
    params = dict(bench.QUICK, quick=True, tls={"ca_pem": "x" * 1000})
    return bench.assemble(dict(BOARD), figures, info, profile, flash, params, word=8)


def test_parse_lines_reads_results_and_skips_noise():
    text = "\n".join(["boot: hello", "@R ('fig', 'tcp_rtt_64', 'raw', [1.0, 2.0])", "@R (broken",
                      "@R ('miss', 'select_1', 'ws2', 'WSAError: x | y')", "@R 42", "tail"])
    assert bench.parse_lines(text) == [("fig", "tcp_rtt_64", "raw", [1.0, 2.0]),
                                       ("miss", "select_1", "ws2", "WSAError: x | y")]


def test_unreported_figure_is_missing_with_reason():
    r = _report(results=[])
    f = r["figures"]["tcp_rtt_64"]
    assert f["missing"].startswith("not reported by the board") and f["ratio"] is None


def test_ratio_extra_and_scaling_in_the_report():
    r = _report()
    f = r["figures"]["tcp_rtt_64"]
    assert f["ratio"] == pytest.approx(1.05)
    assert f["ratio_spread"] == [pytest.approx(104 / 101), pytest.approx(106 / 99)]
    s = r["figures"]["ram_per_socket"]
    assert s["extra"] == 268 and s["scaled"]["extra"] == 134  # 64-bit port: halved to the 32-bit boards' words
    assert r["figures"]["alloc_send"]["scaled"] is None  # per-call allocation is shown as measured
    assert r["figures"]["select_8"]["missing"] == "WSAError: [WSA 10045] Operation not supported"
    assert r["figures"]["select_8"]["raw"]["median"] == 100
    assert r["figures"]["tcp_rtt_64"]["notes"] == ["TCP_NODELAY set through ws2.setsockopt"]


def test_budget_verdicts():
    b = {g["id"]: g for g in _report()["budgets"]}
    assert b["import_ram_rom"]["value"] == 4000 and b["import_ram_rom"]["verdict"] == "met"
    assert b["import_ram"]["value"] == 16000 and b["import_ram"]["verdict"] == "met"  # (20000 - 8000) + 4000
    assert b["socket_ram"]["value"] == 134 and b["socket_ram"]["verdict"] == "not met"
    assert b["rtt_overhead"]["value"] == pytest.approx(5.0)  # on the 5 % limit: float rounding decides
    assert b["bulk"]["value"] == pytest.approx(90 / 100 * 100) and b["bulk"]["verdict"] == "met"
    assert b["bundle"]["value"] == 40000 and b["bundle"]["verdict"] == "met"
    assert b["bundle_tcp"]["value"] == 42000 and b["bundle_tcp"]["verdict"] == "not met"
    for bid in ("socket_close", "select_1", "gai_numeric", "gai_warm"):  # ws2 / raw of the figure of that id
        assert b[bid]["value"] == pytest.approx(105 / 100) and b[bid]["verdict"] == "met", b[bid]
    assert [g["id"] for g in _report()["budgets"]] == [x[0] for x in bench.BUDGETS]


@pytest.mark.parametrize("fs, rom, want", [
    (45056, 22528, 22528 + 11264),  # the copied part keeps its size, the objects halve
    (20000, 0, 20000),  # nothing runs in place: everything was copied
    (20000, 20000, 10000),  # nothing copied: plain halving
    (1000, 1200, 600),  # noise (ROMFS above fs): nothing copied, not a negative part
])
def test_import_estimate32(fs, rom, want):
    assert bench.import_estimate32(fs, rom) == pytest.approx(want)


def test_import_estimate_in_the_figure_and_its_note():
    f = _report()["figures"]
    fs, rom = f["ram_import"], f["ram_import_rom"]
    assert fs["scaled"]["ws2"] == 16000 and fs["scaled"]["how"] == bench.IMPORT_FORMULA
    assert rom["scaled"]["ws2"] == 4000 and rom["scaled"]["how"] == "halved"
    assert any(bench.IMPORT_FORMULA in n and "16,000 B" in n for n in fs["notes"])
    assert f["ram_working_set"]["scaled"]["ws2"] == 150  # the other heap figures are still halved


def _import_only(fs, rom_line):
    res = [("fig", "ram_import", "ws2", [fs])] + ([rom_line] if rom_line else [])
    return {g["id"]: g for g in _report(results=res, flash={})["budgets"]}


@pytest.mark.parametrize("fs, want", [
    (20000.0, "undecided"),  # halved 10000 fits, measured 20000 does not: the two bounds disagree
    (40000.0, "not met"),  # even the lower bound is over
    (12000.0, "met"),  # even the upper bound fits
])
def test_import_budget_without_romfs_is_bounded(fs, want):
    b = _import_only(fs, ("miss", "ram_import_rom", "ws2", "this MicroPython has no vfs.VfsRom"))
    g = b["import_ram"]
    assert g["value"] == fs / 2 and g["verdict"] == want
    assert "lower bound" in g["note"] and "no vfs.VfsRom" in g["note"]
    assert b["import_ram_rom"]["verdict"] == "missing" and "no vfs.VfsRom" in b["import_ram_rom"]["note"]


def test_import_budgets_on_a_32_bit_board_are_as_measured():
    figures = bench.new_figures()
    bench.apply_results(figures, {}, {}, [("fig", "ram_import", "ws2", [20000]),
                                          ("fig", "ram_import_rom", "ws2", [8000])])
    r = bench.assemble(dict(BOARD), figures, {}, {}, {}, dict(bench.QUICK, quick=True), word=4)
    b = {g["id"]: g for g in r["budgets"]}
    assert b["import_ram"]["value"] == 20000 and b["import_ram"]["verdict"] == "not met"
    assert b["import_ram_rom"]["value"] == 8000 and b["import_ram_rom"]["verdict"] == "met"
    assert r["figures"]["ram_import"]["scaled"] is None


def test_markdown_shows_both_import_budgets():
    md = bench.markdown(_report())
    rows = [line for line in md.splitlines() if line.startswith("| RAM after importing")]
    assert len(rows) == 2
    assert "frozen / ROMFS" in rows[0] and "| 4,000 B | **met** |" in rows[0] and "stands for flash" in rows[0]
    assert "filesystem" in rows[1] and "| 16,000 B | **met** |" in rows[1] and bench.IMPORT_FORMULA in rows[1]
    assert bench.IMPORT_FORMULA in md.split("| figure |")[0]  # the report text says how the estimate is made
    lower = bench.markdown(_report(results=[("fig", "ram_import", "ws2", [20000.0])], flash={}))
    assert "≥10000 B 32-bit (lower bound)" in lower


def test_budget_without_a_figure_is_missing():
    b = {g["id"]: g for g in _report(results=[], flash={})["budgets"]}
    assert all(g["verdict"] == "missing" for g in b.values())
    assert b["rtt_overhead"]["note"].startswith("not reported")


def test_report_json_schema():
    r = json.loads(json.dumps(_report()))  # plain JSON all the way down
    assert r["schema"] == bench.SCHEMA
    for key in ("board", "virtual", "quick", "reps", "params", "started", "duration_s", "host", "info", "figures",
                "budgets", "flash", "profile"):
        assert key in r, key
    assert "tls" not in r["params"]  # the CA is not worth keeping
    assert set(r["figures"]) == set(bench.FIGURE_IDS)
    for f in r["figures"].values():
        for key in ("id", "title", "unit", "kind", "raw", "ws2", "ratio", "ratio_spread", "missing", "notes"):
            assert key in f
        assert ("median" in f["ws2"]) != bool(f["missing"])
    for g in r["budgets"]:
        assert set(g) >= {"id", "what", "op", "limit", "unit", "value", "verdict", "note"}
    assert r["profile"]["send 64 B TCP"]["raw sock.send"] == {"us": 2.0, "alloc": 0.0}
    assert r["profile"]["send 64 B TCP"]["ws2.send"] == "AttributeError: gone"


def test_markdown_table():
    md = bench.markdown(_report())
    lines = md.splitlines()
    head = lines.index("| figure | unit | raw socket | ws2 | ws2 vs raw | notes |")
    rows = lines[head + 2: head + 2 + len(bench.FIGURES)]
    assert [r.split(" | ")[0][2:] for r in rows] == [f[2] for f in bench.FIGURES]
    assert all(r.count(" | ") == 5 for r in rows)  # cell text with "|" is escaped
    assert "missing: WSAError: [WSA 10045] Operation not supported" in md
    assert "×1.05 (+5 %, +5 µs)" in md and "105 (104–106)" in md
    assert "| **met** |" in md and "| **not met** |" in md
    assert "| RPI_PICO_W | armv6m | missing: mpy-cross failed |" in md
    assert "| send 64 B TCP | ws2.send | missing: AttributeError: gone | - |" in md


def test_write_files(tmp_path):
    r = _report()
    got = []
    bench.write(r, got.append, str(tmp_path))
    assert json.loads((tmp_path / "UNIX.json").read_text())["schema"] == bench.SCHEMA
    assert (tmp_path / "UNIX.md").read_text() == bench.markdown(r)
    assert any("| figure |" in line for line in got)


def test_chart_only_with_matplotlib(tmp_path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert bench.chart(_report(), str(tmp_path / "x.png")) is None
    else:
        assert os.path.exists(bench.chart(_report(), str(tmp_path / "x.png")))


def test_device_scripts_are_micropython_shaped(tmp_path):
    # What the board runs: no f-strings, no typing, and MicroPython's compiler takes P + bench_lib + the script.
    import io
    import subprocess
    import tokenize

    from firmware import bundle

    names = sorted(n[6:-3] for n in os.listdir(bench.SCRIPTS) if n.startswith("bench_") and n.endswith(".py"))
    assert set(names) >= set(bench.ORDER) | {"lib"}
    for name in names:
        text = open(os.path.join(bench.SCRIPTS, "bench_%s.py" % name)).read()
        assert "typing" not in text, name
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            assert not (tok.type == tokenize.STRING and tok.string[:2].lower() in ("f'", 'f"', "rf", "fr")), (name, tok)
        if name == "lib":
            continue
        src = tmp_path / ("bench_%s.py" % name)
        src.write_text(bench.script_code(name, dict(bench.QUICK, quick=True)))
        r = subprocess.run([bundle.mpy_cross(), "-o", str(tmp_path / "x.mpy"), str(src)], capture_output=True,
                           text=True)
        assert r.returncode == 0, (name, r.stderr)


# -- ROMFS image ---------------------------------------------------------------------------------------

def _bundle(tmp_path):
    """A tiny bundle as deploy.snapshot() returns it: two packages compiled with mpy-cross, and boot.py."""
    import subprocess

    from firmware import bundle

    srcs = {"pkg/__init__.py": "def f(x):\n    return x + 1\n", "pkg/sub.py": "NAME = 'sub'\n"}
    files = []
    for rel, text in srcs.items():
        src = tmp_path / rel.replace("/", "_")
        src.write_text(text)
        out = tmp_path / (rel.replace("/", "_") + ".mpy")
        subprocess.run([bundle.mpy_cross(), "-s", rel, "-o", str(out), str(src)], check=True)
        files.append(("/lib/" + rel[:-3] + ".mpy", out.read_bytes()))
    return files + [("/boot.py", b"print('boot')\n")]


def test_romfs_image_of_the_lib_files(tmp_path):
    files = _bundle(tmp_path)
    img = bench.romfs_image(files)
    assert img.startswith(b"\xd2\xcd\x31")  # mpremote's VfsRomWriter.ROMFS_HEADER
    assert b"pkg" in img and b"sub.mpy" in img and b"__init__.mpy" in img
    assert b"boot.py" not in img and b"lib" not in img  # only /lib's contents, at the image's root
    with pytest.raises(ValueError):
        bench.romfs_image([("/boot.py", b"")])


def test_romfs_image_mounts_and_imports_in_micropython(tmp_path):
    # The unix port (the virtual board's interpreter) mounts the image with vfs.VfsRom and imports from it.
    import subprocess

    from firmware import vboard

    try:
        mp = vboard.default_micropython()
    except FileNotFoundError:
        pytest.skip("no micropython interpreter")
    img = tmp_path / "x.romfs"
    img.write_bytes(bench.romfs_image(_bundle(tmp_path)))
    code = ("import sys, vfs\nb = open(%r, 'rb').read()\nvfs.mount(vfs.VfsRom(b), '/rom')\n"
            "sys.path.insert(0, '/rom')\nimport pkg, pkg.sub\nprint(pkg.f(1), pkg.sub.NAME, pkg.__file__)" % str(img))
    r = subprocess.run([mp, "-c", code], capture_output=True, text=True)
    if "VfsRom" in r.stderr:
        pytest.skip("this micropython has no vfs.VfsRom")
    assert r.stdout.split() == ["2", "sub", "/rom/pkg/__init__.mpy"], r.stderr


def test_deployed_files_read_back_from_a_virtual_flash(tmp_path):
    for rel, data in (("lib/ws2/__init__.mpy", b"M1"), ("lib/providers/wspm.mpy", b"M2"),
                      ("lib/ws2/x.mpy.part", b"half"), ("lib/other/y.mpy", b"not ours"), ("boot.py", b"")):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    assert bench.deployed_files("UNIX", str(tmp_path)) == [("/lib/ws2/__init__.mpy", b"M1"),
                                                           ("/lib/providers/wspm.mpy", b"M2")]


class _Dev:
    def __init__(self, answer):
        self.answer = answer
        self.files = {}

    def eval(self, expr):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def write_file(self, path, data):
        self.files[path] = data


def test_put_romfs_copies_the_image(tmp_path):
    files = _bundle(tmp_path)
    dev = _Dev((True, 1 << 20))
    p = bench.put_romfs(dev, files)
    assert p["romfs_missing"] is None and p["romfs"]["path"] == bench.ROMFS_PATH
    assert dev.files[bench.ROMFS_PATH] == bench.romfs_image(files) and p["romfs"]["size"] == len(
        dev.files[bench.ROMFS_PATH])
    flash = tmp_path / "flash"
    flash.mkdir()
    p = bench.put_romfs(_Dev((True, 1 << 20)), files, str(flash))  # a virtual board: straight into its flash
    assert (flash / bench.ROMFS_PATH.lstrip("/")).read_bytes() == bench.romfs_image(files)


@pytest.mark.parametrize("answer, why", [
    ((False, 1 << 20), "no vfs.VfsRom"),
    ((True, 1000), "does not fit in the heap"),
    (RuntimeError("ImportError: no module named 'vfs'"), "cannot ask the board"),
])
def test_put_romfs_says_why_not(tmp_path, answer, why):
    dev = _Dev(answer)
    p = bench.put_romfs(dev, _bundle(tmp_path))
    assert p["romfs"] is None and why in p["romfs_missing"] and not dev.files


# -- smoke: the quick bench end to end ------------------------------------------------------------------

@pytest.mark.hil
def test_quick_bench_produces_every_figure(request, tmp_path):
    """The quick bench on the board: every figure is a value or an explicit "missing: reason"; no timing checked."""
    lines = []
    r = bench.run(request.config.getoption("--board"), port=request.config.getoption("--port"),
                  host_ip=request.config.getoption("--host-ip"), quick=True, out=lines.append,
                  micropython=request.config.getoption("--micropython"), out_dir=str(tmp_path))
    assert set(r["figures"]) == set(bench.FIGURE_IDS)
    for fid, f in r["figures"].items():
        w = f["ws2"]
        assert ("median" in w) or (isinstance(w.get("missing"), str) and w["missing"]), (fid, w)
        assert f["raw"] is None or "median" in f["raw"] or f["raw"].get("missing"), (fid, f["raw"])
    # The machinery works: something was measured on each side (what ws2 cannot do yet is only "missing").
    assert any(f["raw"] and "median" in f["raw"] for f in r["figures"].values())
    assert any("median" in f["ws2"] for f in r["figures"].values() if f["group"] != "flash")
    assert [g["id"] for g in r["budgets"]] == [b[0] for b in bench.BUDGETS]
    assert all(g["verdict"] in ("met", "not met", "undecided", "missing") for g in r["budgets"])
    text = "\n".join(lines)
    assert "| figure | unit | raw socket | ws2 | ws2 vs raw | notes |" in text
    saved = json.loads((tmp_path / ("%s.json" % r["board"]["name"])).read_text())
    assert set(saved["figures"]) == set(bench.FIGURE_IDS)
    # Both import figures feed their own budget row; the ROMFS one measured, or missing with a reason.
    b = {g["id"]: g for g in r["budgets"]}
    assert {"import_ram_rom", "import_ram"} <= set(b)
    rom = r["figures"]["ram_import_rom"]
    assert "median" in rom["ws2"] or rom["missing"]
