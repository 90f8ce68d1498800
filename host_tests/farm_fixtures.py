# host_tests/farm_fixtures: the HIL harness on a labgrid farm: which place this run holds, and its report.
# MIT licence; part of ws2 for MicroPython.
#
# With --lg-env (labgrid's pytest plugin) the board is a labgrid place: it is
# acquired for the session, so two runs never share a board, its serial port
# comes from the place's resources and its board name from the place's
# `board=` tag. Under `firmware farm-test` each pytest-xdist worker holds one
# place and writes a report of its own.
import contextlib
import json
import os

import pytest

_results = []


def lg_environment(config):
    """labgrid's Environment of this run (from --lg-env / $LG_ENV), or None."""
    try:
        from labgrid.pytestplugin.hooks import LABGRID_ENV_KEY
    except ImportError:
        return None
    return config.stash.get(LABGRID_ENV_KEY, None)


def farm_mode(config):
    """True when the board comes from a labgrid place."""
    return lg_environment(config) is not None


def _target_resources(env):
    target = env.config.get_targets().get("main") or {}
    res = target.get("resources", {})
    if isinstance(res, list):  # labgrid allows a list of one-key dicts too
        merged = {}
        for r in res:
            merged.update(r)
        res = merged
    return res


@contextlib.contextmanager
def hold_place(config):
    """Yield the farm.Place this session holds (acquired, released at the end), or None without labgrid."""
    env = lg_environment(config)
    if env is None:
        yield None
        return
    from firmware import farm

    res = _target_resources(env)
    remote = res.get("RemotePlace")
    if remote is None:
        yield _local_port(env, config)
        return
    name = remote.get("name") if isinstance(remote, dict) else None
    if not name:
        pytest.exit("labgrid environment %s: target main's RemotePlace has no name (set $LG_PLACE)"
                    % env.config_file, returncode=4)
    coordinator = env.config.get_option("coordinator_address", None) or os.environ.get("LG_COORDINATOR")
    place = farm.Place(name, coordinator)
    try:
        place.__enter__()
    except farm.FarmError as e:
        # Another run holds it (or it does not exist): never share a board, say what labgrid said.
        pytest.exit(str(e), returncode=3)
    config._ws2_place = place
    try:
        yield place
    finally:
        place.__exit__(None, None, None)


class _LocalPort:
    """A serial port named by a local labgrid resource (USBSerialPort or RawSerialPort) of target main."""

    def __init__(self, url, board):
        self.place, self.url, self.board, self.tags = "local", url, board, {}

    def exporter_state(self):
        return "a local port: check the cable and the board"


def _local_port(env, config):
    from labgrid.resource import SerialPort

    target = env.get_target("main")
    port = target.get_resource(SerialPort, wait_avail=True)
    return _LocalPort(port.port, config.getoption("--board"))


def record(report):
    """Keep one outcome per test (setup errors and failures included) for the place's report."""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        msg = ""
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            msg = (crash.message if crash else str(report.longrepr or "failed")).strip().splitlines()[0][:300]
        elif report.skipped and isinstance(report.longrepr, tuple):
            msg = report.longrepr[2]
        _results.append((report.nodeid, report.outcome, msg))


def write_report(config):
    """Write reports/<place>.md and .json when this process held a place under farm-test."""
    folder = config.getoption("--farm-reports", None)
    place = getattr(config, "_ws2_place", None)
    if not folder or place is None:
        return
    from firmware import farm

    text, data = farm.report(place.place, place.board, _results)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, place.place + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(folder, place.place + ".json"), "w") as f:
        json.dump(data, f, indent=1)
