# Every device module compiles with mpy-cross for the boards' architectures.
# MIT licence; part of ws2 for MicroPython.
import os

import pytest

from firmware import ROOT, bundle

DEVICE_FILES = [rel for _, rel in bundle.sources()] + [
    os.path.relpath(os.path.join(d, "boot.py"), ROOT)
    for d in (os.path.join(ROOT, "boards", b) for b in sorted(os.listdir(os.path.join(ROOT, "boards"))))
    if os.path.exists(os.path.join(d, "boot.py"))]


@pytest.mark.parametrize("arch", ["x64", "xtensawin", "armv6m"])
@pytest.mark.parametrize("rel", DEVICE_FILES)
def test_compiles(rel, arch, tmp_path):
    bundle.compile_one(os.path.join(ROOT, rel), str(tmp_path / "out.mpy"), arch)
    assert (tmp_path / "out.mpy").stat().st_size > 0


def test_version_mismatch_is_a_clear_error(monkeypatch):
    from firmware import boards

    real = boards.load
    monkeypatch.setattr(boards, "load", lambda name: dict(real(name), mpy_version="5.0"))
    with pytest.raises(bundle.BundleError, match="mpy-cross emits .mpy v6.3 but UNIX runs v5.0"):
        bundle.build("UNIX", out_dir="/tmp/ws2-never")
