# The installable packages: one table drives the mip index, packages/*.json and the manifest pieces.
# MIT licence; part of ws2 for MicroPython.
import hashlib
import json
import os

from firmware import ROOT, bundle, manifest, mip, mipindex, packages


def test_every_module_is_in_exactly_one_package():
    seen = [rel for p in packages.packages() for _, rel in p["files"]]
    assert sorted(seen) == sorted(rel for _, rel in bundle.sources())
    assert len(seen) == len(set(seen))
    table = packages.by_name()
    assert packages.CORE in table and all(set(p["deps"]) <= set(table) for p in table.values())


def test_the_tcp_set_is_in_the_core_package():
    core = {rel for _, rel in packages.by_name()[packages.CORE]["files"]}
    assert set(packages.TCP) <= core


def test_package_files_are_current():
    mip.write(check=True)  # FirmwareError naming the stale files otherwise


def test_package_json_of_a_package_lists_its_whole_closure():
    table = packages.by_name()
    with open(os.path.join(ROOT, "packages", "ws2-dns.json")) as f:
        data = json.load(f)
    want = [rel for n in ("ws2", "ws2-dns") for _, rel in table[n]["files"]]
    assert [u[0] for u in data["urls"]] == want
    for dst, src in data["urls"]:  # relative to packages/, as mip resolves them
        assert os.path.isfile(os.path.normpath(os.path.join(ROOT, "packages", src)))


def test_a_manifest_can_freeze_a_subset(tmp_path):
    m = tmp_path / "manifest.py"
    m.write_text('include("%s")\n' % os.path.join(ROOT, "packages", "ws2-dns.manifest.py"))
    got = sorted(f.target_path for f in manifest.read(str(m)).files)
    table = packages.by_name()
    assert got == sorted(rel for n in ("ws2", "ws2-dns") for _, rel in table[n]["files"])


def test_bytecode_build_drops_the_native_emitter(tmp_path):
    text = "import micropython\n\n@micropython.native\ndef f(x):\n    return x + 1\n"
    out = bundle.bytecode_source(text)
    assert "@micropython.native" not in out.replace("# (bytecode build) @micropython.native", "")
    assert out.count("\n") == text.count("\n")  # line numbers in tracebacks stay right
    src = os.path.join(ROOT, "ws2", "sockio.py")
    dst = str(tmp_path / "sockio.mpy")
    bundle.compile_bytecode(src, dst)
    with open(dst, "rb") as f:
        head = f.read(4)
    assert head[0] == ord("M") and head[2] >> 2 == 0  # no native arch: loads on every board


def test_mip_index_layout(tmp_path):
    out = str(tmp_path / "mip")
    sizes = mipindex.build(out)
    major = bundle.mpy_cross_version().split(".")[0]
    table = packages.by_name()
    assert set(sizes) == set(table)
    for name, pkg in table.items():
        for kind, ext in ((major, ".mpy"), ("py", ".py")):
            with open(os.path.join(out, "package", kind, name, "latest.json")) as f:
                latest = json.load(f)
            with open(os.path.join(out, "package", kind, name, latest["version"] + ".json")) as f:
                assert json.load(f) == latest
            assert latest["deps"] == [[d, "latest"] for d in pkg["deps"]]
            assert [h[0] for h in latest["hashes"]] == [rel[:-3] + ext for _, rel in pkg["files"]]
            for _, short in latest["hashes"]:
                with open(os.path.join(out, "file", short[:2], short), "rb") as f:
                    assert hashlib.sha256(f.read()).hexdigest()[:len(short)] == short
    with open(os.path.join(out, "index.json")) as f:
        assert [p["name"] for p in json.load(f)["packages"]] == list(table)
