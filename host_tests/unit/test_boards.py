# Boards: board.json, freeze manifests (read with a faithful stand-in of MicroPython's manifest
# functions), boot.py, bundles against the flash budget, package.json for mip.
# MIT licence; part of ws2 for MicroPython.
import json
import os
import subprocess
import sys

import pytest

from firmware import ROOT, boards, bundle, manifest, mip

BOARDS = boards.names()
WIFI_BOARDS = [b for b in BOARDS if boards.load(b)["wifi"]]
REAL_BOARDS = [b for b in BOARDS if boards.load(b)["port"] != "unix"]
# The port's own manifest each board's manifest must include (docs/boards.md).
PORT_MANIFEST = {"esp32": "$(PORT_DIR)/boards/manifest.py", "rp2": "$(BOARD_DIR)/manifest.py",
                 "unix": "$(PORT_DIR)/variants/standard/manifest.py"}
# What MicroPython's build passes to mpy-cross for frozen code on each chip (docs/boards.md).
ARCH = {"esp32": "xtensawin", "esp32s3": "xtensawin", "rp2040": "armv6m", "rp2350": "armv7m", "host": "x64"}
# ws2/board.py's handle-table capacity per sys.platform, which board.json must repeat.
PLATFORM = {"esp32": "esp32", "rp2": "rp2", "unix": "linux"}


# -- board.json ----------------------------------------------------------------------------------

def test_the_four_boards_and_the_virtual_one_exist():
    assert {"ESP32_GENERIC", "ESP32_GENERIC_S3", "RPI_PICO_W", "RPI_PICO2_W", "UNIX"} <= set(BOARDS)


@pytest.mark.parametrize("name", BOARDS)
def test_board_json_is_complete_and_consistent(name):
    assert boards.problems(boards.load(name)) == []


@pytest.mark.parametrize("name", BOARDS)
def test_board_arch_is_what_the_port_freezes_with(name):
    b = boards.load(name)
    assert b["mpy_arch"] == ARCH[b["chip"]]


@pytest.mark.parametrize("name", BOARDS)
def test_max_sockets_matches_ws2_board_table(name):
    from ws2 import board as ws2board

    b = boards.load(name)
    table = dict(ws2board._CAPACITY)
    assert b["max_sockets"] == table[PLATFORM[b["port"]]], (
        "board.json max_sockets and ws2/board.py _CAPACITY disagree for %s" % name)


@pytest.mark.parametrize("name", BOARDS)
def test_max_udp_sockets_matches_ws2_board_table(name):
    # ws2/board.py's number is what a board of that port holds with its network up; an emulated board
    # (no Wi-Fi, no DHCP client) may hold more.
    from ws2 import board as ws2board

    b = boards.load(name)
    port = PLATFORM[b["port"]]
    want = dict(ws2board._UDP).get(port, dict(ws2board._CAPACITY)[port])
    assert (b["max_udp_sockets"] >= want) if b.get("emulator") else (b["max_udp_sockets"] == want), (
        "board.json max_udp_sockets and ws2/board.py _UDP disagree for %s" % name)


def test_budgets_from_design():
    # docs/boards.md: heap 110 KB (ESP32_GENERIC) and 160 KB (RPI_PICO_W); .mpy of every module
    # <= 110 KB, of router + wspm <= 40 KB.
    assert boards.load("ESP32_GENERIC")["heap_kb"] == 110
    assert boards.load("RPI_PICO_W")["heap_kb"] == 160
    assert all(boards.load(n)["flash_budget_kb"] == 110 for n in BOARDS)
    assert all(boards.load(n)["flash_budget_tcp_kb"] == 40 for n in BOARDS)


def test_esp32_flash_offsets_and_chips():
    # MicroPython's firmware.bin goes to 0x1000 on ESP32 and 0x0 on ESP32-S3 (docs/boards.md).
    e, s3 = boards.load("ESP32_GENERIC"), boards.load("ESP32_GENERIC_S3")
    assert (e["esptool_chip"], int(e["flash_offset"], 16)) == ("esp32", 0x1000)
    assert (s3["esptool_chip"], int(s3["flash_offset"], 16)) == ("esp32s3", 0)


def test_problems_are_reported_in_words(tmp_path):
    b = dict(boards.load("RPI_PICO_W"), max_sockets=0, mpy_arch="arm", usb_ids=["2e8a-0005"])
    del b["drive_label"]
    out = boards.problems(b)
    assert out == ["missing 'drive_label'"]
    b["drive_label"] = "RPI-RP2"
    out = " / ".join(boards.problems(b))
    assert "mpy_arch 'arm'" in out and "max_sockets 0" in out and "'2e8a-0005'" in out


def test_list_boards_cli_shows_budgets():
    r = subprocess.run([sys.executable, "-m", "firmware", "list-boards"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    for name in BOARDS:
        assert name in r.stdout
    assert "heap KB" in r.stdout and "flash KB" in r.stdout


# -- the manifest reader itself -----------------------------------------------------------------

def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_reader_package_module_include_options(tmp_path):
    _write(tmp_path / "lib" / "pkg" / "__init__.py", "")
    _write(tmp_path / "lib" / "pkg" / "sub" / "x.py", "")
    _write(tmp_path / "lib" / "pkg" / "data.txt", "")
    _write(tmp_path / "lib" / "solo.py", "")
    _write(tmp_path / "inc" / "manifest.py",
           "options.defaults(extra=False)\nif options.extra:\n    module('solo.py', base_path='../lib', opt=3)\n")
    top = _write(tmp_path / "boards" / "X" / "manifest.py",
                 "include('$(PORT_DIR)/boards/manifest.py')\n"
                 "package('pkg', base_path='../../lib')\n"
                 "include('../../inc', extra=True)\n"
                 "include('../../inc/manifest.py')\n"  # a second include of the same manifest does nothing
                 "require('aioble')\n")
    m = manifest.read(str(top))
    assert [f.target_path for f in m.files] == ["pkg/__init__.py", "pkg/sub/x.py", "solo.py"]
    assert m.files[-1].opt == 3 and m.files[0].opt is None
    assert [(e.func, e.what) for e in m.external] == [("include", "$(PORT_DIR)/boards/manifest.py"),
                                                       ("require", "aioble")]


def test_reader_freeze_variants_and_path_vars(tmp_path):
    _write(tmp_path / "mods" / "a.py", "")
    _write(tmp_path / "mods" / "b.mpy", "")
    _write(tmp_path / "port" / "boards" / "manifest.py", "freeze('../../mods', 'a.py')\n")
    top = _write(tmp_path / "manifest.py", "include('$(PORT_DIR)/boards/manifest.py')\nfreeze_mpy('mods')\n")
    m = manifest.read(str(top), path_vars={"PORT_DIR": str(tmp_path / "port")})
    assert [(f.target_path, f.kind) for f in m.files] == [("a.py", manifest.KIND_MPY),
                                                          ("b.mpy", manifest.KIND_FROZEN_MPY)]
    assert m.external == []


@pytest.mark.parametrize("text, message", [
    ("module('missing.py')", "Cannot stat"),
    ("module('x.txt')", "module must be .py file"),
    ("package('nothing_here')", "matched no .py file"),
    ("metadata(version='1')\nmetadata(version='2')", "Duplicate call to metadata()"),
    ("metadata(colour='red')", "unexpected keyword argument"),
    ("require('x', library='nope')", "Unknown library 'nope'"),
    ("include('$(NOPE)/m.py')", "unknown path variable $(NOPE)"),
    ("include('elsewhere.py')", "Error in manifest file"),
    ("frobnicate()", "name 'frobnicate' is not defined"),
    ("module('a.py')\nfreeze('.', 'a.py')", "are both frozen as a.py"),
    ("c_module('.')", "must contain micropython.mk"),
])
def test_reader_rejects_what_the_build_rejects(tmp_path, text, message):
    _write(tmp_path / "a.py", "")
    top = _write(tmp_path / "manifest.py", text + "\n")
    with pytest.raises(manifest.ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("$", r"\$")):
        manifest.read(str(top))


# -- the boards' manifests ----------------------------------------------------------------------

@pytest.mark.parametrize("name", BOARDS)
def test_manifest_is_valid_and_freezes_exactly_the_bundle(name):
    b = boards.load(name)
    m = manifest.read(os.path.join(b["dir"], "manifest.py"))
    # The port's own manifest first (MicroPython's modules stay in the firmware), nothing else external.
    assert [(e.func, e.what) for e in m.external] == [("include", PORT_MANIFEST[b["port"]])]
    for f in m.files:
        assert os.path.isfile(f.full_path) and f.full_path.startswith(ROOT + os.sep)
        assert f.kind == manifest.KIND_MPY
    # What the firmware freezes is what `make bundle` compiles and `make deploy` copies.
    assert sorted(f.target_path for f in m.files) == sorted(rel for _, rel in bundle.sources())


@pytest.mark.parametrize("name, provider", [(n, p) for n in BOARDS for p in boards.load(n)["providers"]])
def test_manifest_freezes_the_providers_the_board_ships(name, provider):
    # A provider is a module (nspm.py) or a package (wspm/, ssllsp/): every file of it is frozen.
    module = "providers/%s.py" % provider
    files = [module] if os.path.exists(os.path.join(ROOT, module)) else [
        rel for _, rel in bundle.sources() if rel.startswith("providers/%s/" % provider)]
    assert files, "providers/%s is neither a module nor a package" % provider
    m = manifest.read(os.path.join(boards.load(name)["dir"], "manifest.py"))
    frozen = [f.target_path for f in m.files]
    assert [f for f in files if f not in frozen] == []


def test_manifest_cli_lists_frozen_files():
    r = subprocess.run([sys.executable, "-m", "firmware", "manifest", "--board", "RPI_PICO_W"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "include    $(BOARD_DIR)/manifest.py" in r.stdout
    assert "ws2/__init__.py" in r.stdout and "providers/wspm/__init__.py" in r.stdout


# -- boot.py -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BOARDS)
def test_boot_py_compiles_for_the_board_arch(name, tmp_path):
    b = boards.load(name)
    bundle.compile_one(os.path.join(b["dir"], "boot.py"), str(tmp_path / "boot.mpy"), b["mpy_arch"])


def test_wifi_boards_share_one_boot_py():
    # One body for every Wi-Fi board (only the two header lines name the board), so fixes reach all.
    bodies = {n: open(os.path.join(boards.load(n)["dir"], "boot.py")).read().split("\n", 2)[2] for n in WIFI_BOARDS}
    assert len(set(bodies.values())) == 1, "boot.py bodies differ between %s" % ", ".join(WIFI_BOARDS)
    body = next(iter(bodies.values()))
    assert "netup.wifi()" in body and "netup.catalog()" in body  # the work is in the frozen ws2.netup
    netup = open(os.path.join(ROOT, "ws2", "netup.py")).read()
    assert "/secrets.json" in netup and "cat.ensure()" in netup


def test_secrets_never_in_git():
    with open(os.path.join(ROOT, ".gitignore")) as f:
        assert "secrets.json" in f.read().split()
    r = subprocess.run(["git", "ls-files", "*secrets.json"], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == ""


def test_secrets_payload_validation():
    from firmware import wifi

    assert json.loads(wifi.secrets_payload("home", "password1", "gb", "ws2-board", 5)) == {
        "ssid": "home", "password": "password1", "country": "GB", "hostname": "ws2-board", "timeout_s": 5}
    assert json.loads(wifi.secrets_payload("cafe", "")) == {"ssid": "cafe", "password": ""}
    for args, msg in [(("", "password1"), "SSID"), (("x" * 33, "password1"), "SSID"), (("a", "short"), "8 to 63"),
                      (("a", "password1", "GBR"), "two-letter"), (("a", "password1", None, None, 30), "1 to 9 s")]:
        with pytest.raises(wifi.WifiError, match=msg):
            wifi.secrets_payload(*args)


# -- bundles -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for name in BOARDS:
        d = tmp_path_factory.mktemp("bundle-" + name)
        out[name] = bundle.build(name, out_dir=str(d))
    return out


@pytest.mark.parametrize("name", BOARDS)
def test_bundle_compiles_for_the_board_arch(name, built):
    assert sorted(n for n, _ in built[name]) == sorted(rel[:-3] + ".mpy" for _, rel in bundle.sources())
    assert all(size > 0 for _, size in built[name])


@pytest.mark.parametrize("name", BOARDS)
def test_bundle_fits_the_flash_budgets(name, built):
    over = bundle.over_budget(name, built[name])
    if over:
        biggest = sorted(built[name], key=lambda x: -x[1])[:4]
        pytest.xfail("OVER BUDGET (docs/testing.md): %s; biggest: %s" % (
            "; ".join("%s %d B > %d KB" % (w, n, b // 1024) for w, n, b in over),
            ", ".join("%s %d B" % x for x in biggest)))
    assert over == []


def test_bundle_report_has_every_module_packages_and_the_verdicts(built):
    text = bundle.report("RPI_PICO_W", built["RPI_PICO_W"], {"xtensawin": built["ESP32_GENERIC"]})
    for name, size in built["RPI_PICO_W"]:
        assert "%-30s %8d" % (name, size) in text
    for pkg, size in bundle.package_sizes(built["ESP32_GENERIC"]):
        assert pkg in text and str(size) in text
    assert "the 110 KB budget of RPI_PICO_W" in text and "the 40 KB budget of RPI_PICO_W" in text
    assert "within" in text or "OVER" in text


def test_bundle_cli_exits_nonzero_over_budget(tmp_path):
    r = subprocess.run([sys.executable, "-m", "firmware", "bundle", "--board", "RPI_PICO_W"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    over = bundle.over_budget("RPI_PICO_W", bundle.build("RPI_PICO_W", out_dir=str(tmp_path)))
    assert r.returncode == (1 if over else 0), r.stderr
    assert ("over its flash budget" in r.stderr) == bool(over)
