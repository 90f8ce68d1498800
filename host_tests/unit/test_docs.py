# The repository documents itself: every public name of ws2 in docs/api.md, links that resolve, no path
# outside the repository, and no words about how the product is made instead of what it is.
# MIT licence; part of ws2 for MicroPython.
import os
import re
import subprocess

import pytest

from firmware import ROOT

DOCS = os.path.join(ROOT, "docs")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_TEXT_EXT = (".py", ".md", ".json", ".txt", ".ini", ".cfg", ".toml", ".sh", ".yml", ".yaml", "")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _public_names():
    import ws2

    return [n for _, names in ws2._WHERE for n in names.split()]


def _tracked():
    """The repository's text files (git's list when there is one, else a walk without build output)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        paths = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for top, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("build", "node_modules", "__pycache__")]
            paths += [os.path.relpath(os.path.join(top, n), ROOT) for n in names]
    keep = []
    for p in paths:
        name = os.path.basename(p)
        ext = os.path.splitext(name)[1] if "." in name[1:] else ""
        if ext in _TEXT_EXT and os.path.isfile(os.path.join(ROOT, p)):
            keep.append(p)
    return keep


def _slug(heading):
    # GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes.
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def _anchors(path):
    out = set()
    for line in _read(path).splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            out.add(_slug(m.group(1)))
    return out


def _indexed():
    """The docs/*.md files docs/README.md's index links to."""
    return {t.split("#")[0] for t in _LINK.findall(_read(os.path.join(DOCS, "README.md"))) if t.endswith(".md")
            or ".md#" in t}


# -- the API reference ---------------------------------------------------------------------------

def test_every_public_name_of_ws2_is_in_the_api_reference():
    api = _read(os.path.join(DOCS, "api.md"))
    missing = [n for n in _public_names() if not re.search(r"`%s[`(]" % re.escape(n), api)]
    assert not missing, "docs/api.md does not document %s (write each as `name(...)` or `name`)" % ", ".join(missing)


def test_the_check_sees_an_undocumented_name():
    # The pattern must not be satisfied by a longer name that merely starts with the new one.
    assert not re.search(r"`%s[`(]" % re.escape("WSASend"), "`WSASendTo(s, buffers, addr)`")
    assert re.search(r"`%s[`(]" % re.escape("WSASend"), "### `WSASend(s, buffers)`")


# -- the index and the links -----------------------------------------------------------------------

def test_the_index_lists_every_document():
    have = {n for n in os.listdir(DOCS) if n.endswith(".md") and n != "README.md"}
    missing = sorted(have - _indexed())
    assert not missing, "docs/README.md does not list %s" % ", ".join(missing)


@pytest.mark.parametrize("doc", ["README.md", "providers/README.md", "host_tests/README.md"] +
                         sorted("docs/" + n for n in os.listdir(DOCS) if n.endswith(".md")))
def test_links_resolve(doc):
    """Relative links reach a file of the repository (or a document the index lists) and an existing heading."""
    path = os.path.join(ROOT, doc)
    planned = {os.path.normpath(os.path.join(DOCS, t)) for t in _indexed()}
    bad = []
    for target in _LINK.findall(_read(path)):
        if re.match(r"[a-z]+:", target):
            continue  # a URL
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(dest):
            if dest not in planned:
                bad.append("%s (no such file)" % target)
            continue
        if anchor and dest.endswith(".md") and anchor not in _anchors(dest):
            bad.append("%s (no such heading)" % target)
    assert not bad, "%s: broken links: %s" % (doc, "; ".join(bad))


# -- nothing outside the repository, nothing about how it is made ------------------------------------

# Built from pieces so that this file does not match itself.
_OUTSIDE = [re.compile(p) for p in (
    r"\.\./" + "shared",
    r"(?<![\w.])/" + r"work/",
    r"\b(DESIGN|REFERENCE|MICROPYTHON|COMPAT|STYLE)" + r"\.md\b",
)]
_DEVELOPMENT = [re.compile(p, re.I) for p in (
    r"\bthe " + r"lead\b",
    r"\banother " + r"issue\b",
    r"\bissues? " + r"#?\d",
    r"\bsessions" + r"\)",
    r"\b(other|test|helper|parallel) " + r"sessions?\b",
    r"\bnot written " + r"yet\b",
    r"\b(engineer|integrator)" + r"s?\b",
    r"\bOWNER/" + r"REPO\b",
)]


def _offences(patterns):
    me = os.path.relpath(__file__, ROOT)
    out = []
    for rel in _tracked():
        if rel == me:
            continue
        try:
            text = _read(os.path.join(ROOT, rel))
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for p in patterns:
                m = p.search(line)
                if m:
                    out.append("%s:%d: %r" % (rel, n, m.group(0)))
    return out


def test_no_file_names_a_path_outside_the_repository():
    bad = _offences(_OUTSIDE)
    assert not bad, "paths a clone does not have:\n" + "\n".join(bad)


def test_no_file_speaks_of_how_the_product_is_developed():
    bad = _offences(_DEVELOPMENT)
    assert not bad, "wording about development, not the product:\n" + "\n".join(bad)


def test_the_patterns_catch_what_they_are_for():
    assert any(p.search("see ../" + "shared/DESIGN" + ".md") for p in _OUTSIDE)
    assert any(p.search("cd /" + "work/main") for p in _OUTSIDE)
    assert not any(p.search("/dev/ttyACM0 and /lib/ws2 and rp2040.work/x") for p in _OUTSIDE)
    assert any(p.search("Reported to the " + "lead") for p in _DEVELOPMENT)
    assert any(p.search("(issue " + "4: no garbage)") for p in _DEVELOPMENT)
    assert not any(p.search("a TLS session ticket; pytest scope='session'") for p in _DEVELOPMENT)
