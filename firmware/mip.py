# firmware/mip: package.json at the repository root, so `mpremote mip install` installs ws2.
# MIT licence; part of ws2 for MicroPython.
#
# `mpremote mip install ./package.json` (from a checkout; or a URL to this
# package.json, or `mip.install(...)` on a board with network) reads "urls": [board path, source] pairs, relative sources
# being relative to package.json. The list is generated from the same
# module list the bundle and the manifests use, and a test keeps it in sync.
import json
import os

from firmware import ROOT, FirmwareError, bundle

PACKAGE_JSON = os.path.join(ROOT, "package.json")
VERSION = "0.1.0"


def expected(version=VERSION):
    """Return the package.json content (a dict) for the current device modules."""
    return {"urls": [[rel, rel] for _, rel in bundle.sources()], "deps": [], "version": version}


def render(data):
    """Return package.json text: one url pair per line, stable for diffs."""
    lines = ["{", '  "urls": [']
    urls = data["urls"]
    for i, (dst, src) in enumerate(urls):
        lines.append("    [%s, %s]%s" % (json.dumps(dst), json.dumps(src), "," if i < len(urls) - 1 else ""))
    lines.append("  ],")
    lines.append('  "deps": %s,' % json.dumps(data["deps"]))
    lines.append('  "version": %s' % json.dumps(data["version"]))
    lines.append("}")
    return "\n".join(lines) + "\n"


def load(path=PACKAGE_JSON):
    """Return the package.json on disk as a dict."""
    with open(path) as f:
        return json.load(f)


def differences(path=PACKAGE_JSON):
    """Return (missing, extra) board paths between package.json and the device modules."""
    have = {tuple(u)[0] for u in load(path).get("urls", [])}
    want = {u[0] for u in expected()["urls"]}
    return sorted(want - have), sorted(have - want)


def write(path=PACKAGE_JSON, check=False):
    """Regenerate package.json (keeping its version); with check, raise FirmwareError if it is out of date."""
    version = VERSION
    if os.path.exists(path):
        version = load(path).get("version", VERSION)
    text = render(expected(version))
    if check:
        with open(path) as f:
            if f.read() != text:
                missing, extra = differences(path)
                raise FirmwareError("package.json is out of date (missing: %s; extra: %s): run `make package-json`"
                                    % (", ".join(missing) or "-", ", ".join(extra) or "-"))
        return False
    with open(path, "w") as f:
        f.write(text)
    return True
