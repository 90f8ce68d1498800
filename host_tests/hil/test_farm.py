# The HIL suite on a labgrid farm: a local farm of two virtual boards (coordinator, an exporter with
# ser2net per board, a place per board), the smoke subset on both places in parallel, locks, a lost
# exporter, and a farm-down that leaves no process behind.
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from firmware import ROOT, farm

pytestmark = pytest.mark.skipif(bool(farm.missing_tools()), reason="a local labgrid farm needs " +
                                "; ".join(farm.missing_tools()))


@pytest.fixture(scope="module")
def local_farm(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("farm"))
    st = farm.up(d, ["UNIX", "UNIX"], log=lambda m: None)
    try:
        assert len(farm.farm_processes(d)) >= 6  # supervisor, coordinator, 2 exporters, 2 interpreters
        yield d, st
    finally:
        farm.down(d, log=lambda m: None)


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "firmware"] + list(args), cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=kw.pop("timeout", 600), **kw)


def _report(folder, place):
    with open(os.path.join(folder, place + ".json")) as f:
        return json.load(f)


def test_smoke_suite_on_two_places_in_parallel(local_farm, tmp_path):
    d, st = local_farm
    r = _cli("farm-test", "--dir", d, "--reports", str(tmp_path))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    for p in st["places"]:
        rep = _report(str(tmp_path), p["name"])
        assert rep["board"] == "UNIX"  # from the place's tag
        assert rep["counts"].get("passed", 0) >= 5 and not rep["counts"].get("failed")
        assert "place %s (board UNIX):" % p["name"] in r.stdout


def test_a_locked_place_is_never_shared(local_farm):
    d, st = local_farm
    place = st["places"][0]["name"]
    rc, out = farm.client(st["coordinator"], "acquire", place=place)
    assert rc == 0, out
    try:
        env = dict(os.environ, LG_PLACE=place)
        r = subprocess.run([sys.executable, "-m", "pytest", "--lg-env", st["env"], "-q", "-m", "hil",
                            "host_tests/device/test_dispatch.py", "-k", "echo_1_byte"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert r.returncode != 0
        assert "already acquired place %s" % place in r.stdout + r.stderr  # labgrid's own words
        assert " passed" not in r.stdout
    finally:
        farm.client(st["coordinator"], "release", place=place)


def test_a_killed_exporter_fails_only_its_place(tmp_path):
    # A farm of its own: the exporter it kills is gone for good.
    d = str(tmp_path / "farm")
    st = farm.up(d, ["UNIX", "UNIX"], log=lambda m: None)
    reports = str(tmp_path / "reports")
    try:
        p = subprocess.Popen([sys.executable, "-m", "firmware", "farm-test", "--dir", d, "--reports", reports, "--",
                              "host_tests/device/test_dispatch.py", "-m", "hil", "-vv", "-p", "no:randomly"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        out = []
        deadline = time.monotonic() + 300
        for line in p.stdout:  # the second place (worker gw1) has passed its first test: pull its plug
            out.append(line)
            if "[gw1]" in line and "PASSED" in line:
                os.killpg(st["places"][1]["exporter_pid"], signal.SIGKILL)
                break
            assert time.monotonic() < deadline, "".join(out)
        out.append(p.stdout.read())
        p.wait(300)
        text = "".join(out)
        assert p.returncode != 0, text[-4000:]
        first = _report(reports, st["places"][0]["name"])
        second = _report(reports, st["places"][1]["name"])
        assert first["counts"].get("passed", 0) == sum(first["counts"].values()), first
        assert second["counts"].get("failed", 0) >= 1, second
        lost = [r["message"] for r in second["results"] if r["outcome"] == "failed"]
        assert all("place %s" % st["places"][1]["name"] in m for m in lost), lost
        assert any("exporter is gone" in m for m in lost), lost
    finally:
        farm.down(d, log=lambda m: None)
    assert farm.farm_processes(d) == []


def test_deploy_through_a_place(local_farm):
    d, st = local_farm
    place = st["places"][1]["name"]
    env = dict(os.environ, LG_COORDINATOR=st["coordinator"])
    r = _cli("deploy", "--place", place, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "place %s acquired" % place in r.stdout
    rc, out = farm.client(st["coordinator"], "show", place=place)
    assert "acquired: None" in out  # released after the command


def test_farm_down_leaves_no_process(tmp_path):
    d = str(tmp_path / "farm")
    farm.up(d, ["UNIX"], log=lambda m: None)
    assert farm.farm_processes(d)
    r = _cli("farm-down", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert farm.farm_processes(d) == []
    assert not os.path.exists(farm.state_path(d))


def test_parse_show_reads_tags_and_the_serial_resource():
    text = """Place 'ws2-unix-1':
  tags: board=UNIX, rack=2
  matches:
    ws2farm-1/ws2-unix-1/*
  acquired: host/user
  acquired resources:
    ws2farm-1/ws2-unix-1/NetworkSerialPort/RawSerialPort
Acquired resource 'RawSerialPort' (ws2farm-1/ws2-unix-1/NetworkSerialPort/RawSerialPort):
  {'acquired': 'ws2-unix-1',
   'avail': True,
   'cls': 'NetworkSerialPort',
   'params': {'host': '127.0.0.1', 'port': 37109, 'speed': 115200}}
"""
    tags, ports = farm.parse_show(text)
    assert tags == {"board": "UNIX", "rack": "2"}
    assert ports[0]["params"]["port"] == 37109 and ports[0]["avail"]
