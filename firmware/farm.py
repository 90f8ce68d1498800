# firmware/farm: boards on a labgrid farm: a local farm of virtual boards, and places as serial ports.
# MIT licence; part of ws2 for MicroPython.
#
# labgrid does the distributed part: a coordinator knows the places, one
# exporter per board publishes its serial port through ser2net (RFC 2217), and
# a place is acquired (locked) by one user at a time. This module
#   - runs a local farm (`up`/`down`): a supervisor process that owns a
#     coordinator, N virtual boards and one exporter per board, and creates a
#     place per board tagged `board=NAME`;
#   - turns a place into what the rest of the tooling takes, a serial URL that
#     mpremote and pyserial open (`acquire`/`release`, `place_port`).
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from firmware import ROOT, FirmwareError

DEFAULT_DIR = os.path.join(ROOT, "build", "farm")
EXPORTER_NAME = "ws2farm-%d"
PLACE_NAME = "ws2-%s-%d"
# ser2net answers RFC 2217 SET_CONTROL (DTR/RTS) with nothing on a pty or a
# USB-serial bridge that lacks those lines; pyserial would wait and fail.
URL_OPTIONS = "?ign_set_control"

ENV_YAML = """\
# labgrid environment for ws2's hardware-in-the-loop suite: one target, the place named by $LG_PLACE.
targets:
  main:
    resources:
      RemotePlace:
        name: !template $LG_PLACE
options:
  coordinator_address: %s
"""


class FarmError(FirmwareError):
    """A farm or labgrid step failed; the message says which and what labgrid said."""


def _tool(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else (shutil.which(name) or name)


def ser2net_path():
    """The ser2net binary labgrid's exporter starts, or None."""
    return shutil.which("ser2net") or (os.path.exists("/usr/sbin/ser2net") and "/usr/sbin/ser2net") or None


def missing_tools():
    """What a local farm needs that is not installed, as install hints (empty when all is there)."""
    out = []
    try:
        import labgrid  # noqa: F401
    except ImportError:
        out.append("labgrid (make venv installs it from requirements.txt)")
    if not ser2net_path():
        out.append("ser2net (Debian: apt-get install ser2net; `make farm-deps` does it as root)")
    return out


def client(coordinator, *args, place=None, timeout=30):
    """Run labgrid-client against the coordinator; return (exit code, output)."""
    cmd = [_tool("labgrid-client"), "-x", coordinator]
    if place:
        cmd += ["-p", place]
    env = dict(os.environ)
    env.pop("LG_PLACE", None)
    try:
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 1, "labgrid-client %s: no answer from the coordinator at %s in %ss" % (" ".join(args), coordinator,
                                                                                     timeout)
    return r.returncode, (r.stdout + r.stderr).strip()


def _must(coordinator, *args, place=None):
    rc, out = client(coordinator, *args, place=place)
    if rc:
        raise FarmError("labgrid-client %s%s failed: %s" % ("-p %s " % place if place else "", " ".join(args),
                                                           out or "exit %d" % rc))
    return out


# -- a place as a serial port -------------------------------------------------------------------------------

def parse_show(text):
    """From `labgrid-client show`: (tags dict, [serial resource params with host/port/avail/acquired])."""
    import ast

    tags, ports = {}, []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("tags:"):
            for kv in line[5:].split(","):
                if "=" in kv:
                    k, v = kv.strip().split("=", 1)
                    tags[k] = v
        elif line.startswith("Acquired resource") and "SerialPort" in line:
            block = []
            i += 1
            while i < len(lines) and lines[i].startswith("  "):
                block.append(lines[i])
                i += 1
            ports.append(ast.literal_eval("\n".join(block).strip()))
            continue
        i += 1
    return tags, ports


def acquire(coordinator, place):
    """Lock the place for this user; FarmError with labgrid's own message when it is taken or unknown."""
    _must(coordinator, "acquire", place=place)


def release(coordinator, place):
    """Unlock the place (quietly: it may already be free)."""
    client(coordinator, "release", place=place)


def place_port(coordinator, place, wait=20):
    """(serial URL, tags) of an acquired place: its NetworkSerialPort as rfc2217://host:port."""
    deadline = time.monotonic() + wait
    while True:
        tags, ports = parse_show(_must(coordinator, "show", place=place))
        for p in ports:
            params = p.get("params", {})
            if p.get("avail") and params.get("port"):
                return "rfc2217://%s:%d%s" % (params["host"], params["port"], URL_OPTIONS), tags
        if time.monotonic() > deadline:
            if not ports:
                raise FarmError("place %s has no serial port among its acquired resources (does it match an "
                                "exporter's group? `labgrid-client -p %s show`)" % (place, place))
            raise FarmError("place %s: its serial port is not available (is its exporter running?)" % place)
        time.sleep(0.3)


class Place:
    """A labgrid place held for the duration of a `with` block: .url (serial URL) and .board (from its tags)."""

    def __init__(self, place, coordinator=None):
        self.place = place
        self.coordinator = coordinator or os.environ.get("LG_COORDINATOR") or "127.0.0.1:20408"
        self.url = self.board = None
        self.tags = {}

    def __enter__(self):
        acquire(self.coordinator, self.place)
        try:
            self.url, self.tags = place_port(self.coordinator, self.place)
        except BaseException:
            release(self.coordinator, self.place)
            raise
        self.board = self.tags.get("board")
        return self

    def __exit__(self, *exc):
        release(self.coordinator, self.place)

    def exporter_state(self):
        """One line on the place's serial resource as the coordinator sees it now (for error messages)."""
        rc, out = client(self.coordinator, "show", place=self.place, timeout=10)
        if rc:
            return "the coordinator does not answer (%s)" % out.splitlines()[-1:] if out else "no answer"
        _, ports = parse_show(out)
        if not ports or not ports[0].get("avail"):
            return "its exporter is gone: the serial resource is no longer available"
        return "its serial resource is still published"


# -- the local farm ------------------------------------------------------------------------------------------

def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port, proc, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FarmError("%s exited (code %s) while starting" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise FarmError("%s did not listen on port %d within %ss" % (what, port, timeout))


def _stop_group(proc, grace=5.0):
    # Each helper process leads its own process group (an exporter's ser2net
    # children are in it too): the whole group goes, so nothing is left behind.
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def state_path(farm_dir):
    """Where a farm's state file lives."""
    return os.path.join(farm_dir, "state.json")


def read_state(farm_dir):
    """The running farm's state (coordinator, places, pids), or None."""
    try:
        with open(state_path(farm_dir)) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return None
    return st if _alive(st.get("supervisor", 0)) else None


def _write_state(farm_dir, st):
    tmp = state_path(farm_dir) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.replace(tmp, state_path(farm_dir))


def serve(farm_dir, boards, log=print):
    """The supervisor: coordinator, boards, exporters and places; runs until SIGTERM, then stops them all."""
    from firmware.vboard import VirtualBoard

    farm_dir = os.path.abspath(farm_dir)
    os.makedirs(farm_dir, exist_ok=True)
    # Every process of the farm inherits this mark, so `down` can prove none outlives it.
    os.environ["WS2_FARM"] = os.path.abspath(farm_dir)
    coord_dir = os.path.join(farm_dir, "coordinator")
    shutil.rmtree(coord_dir, ignore_errors=True)  # a fresh farm: no places left from an earlier one
    os.makedirs(coord_dir)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *a: stopping.append(1))
    procs, vbs = [], []
    logf = open(os.path.join(farm_dir, "services.log"), "ab")
    try:
        port = _free_port()
        coordinator = "127.0.0.1:%d" % port
        coord = subprocess.Popen([_tool("labgrid-coordinator"), "-l", coordinator], cwd=coord_dir,
                                 stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        procs.append(("coordinator", coord))
        _wait_port(port, coord, "labgrid-coordinator")
        places = []
        for i, board in enumerate(boards, 1):
            vb = VirtualBoard(board, log=None)
            vbs.append(vb)
            pty = vb.start()
            name = PLACE_NAME % (board.lower().replace("_", "-"), i)
            exporter = EXPORTER_NAME % i
            cfg = os.path.join(farm_dir, "exporter-%d.yaml" % i)
            with open(cfg, "w") as f:
                f.write("%s:\n  RawSerialPort:\n    port: \"%s\"\n    speed: 115200\n" % (name, pty))
            exp = subprocess.Popen([_tool("labgrid-exporter"), "-c", coordinator, "-n", exporter,
                                    "--hostname", "127.0.0.1", cfg], stdout=logf, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
            procs.append(("exporter " + exporter, exp))
            places.append({"name": name, "board": board, "pty": pty, "exporter": exporter,
                           "exporter_pid": exp.pid})
        for p in places:
            _wait_resource(coordinator, "%s/%s/NetworkSerialPort" % (p["exporter"], p["name"]), procs)
            _must(coordinator, "create", place=p["name"])
            _must(coordinator, "add-match", "%s/%s/*" % (p["exporter"], p["name"]), place=p["name"])
            _must(coordinator, "set-tags", "board=%s" % p["board"], place=p["name"])
        env_file = os.path.join(farm_dir, "env.yaml")
        with open(env_file, "w") as f:
            f.write(ENV_YAML % coordinator)
        st = {"supervisor": os.getpid(), "coordinator": coordinator, "coordinator_pid": coord.pid,
              "places": places, "env": env_file, "ready": True}
        _write_state(farm_dir, st)
        log("farm up: coordinator %s, %d place(s): %s" % (coordinator, len(places),
                                                         ", ".join(p["name"] for p in places)))
        while not stopping:
            time.sleep(0.2)
            # An exporter that dies is a host gone: its place stays in the farm, unavailable, as in a real rack.
    finally:
        for _, proc in reversed(procs):
            _stop_group(proc)
        for vb in vbs:
            vb.stop()
        logf.close()
        try:
            os.remove(state_path(farm_dir))
        except OSError:
            pass


def _wait_resource(coordinator, name, procs, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for what, proc in procs:
            if proc.poll() is not None:
                raise FarmError("%s exited (code %s) while starting; see services.log" % (what, proc.returncode))
        rc, out = client(coordinator, "resources", timeout=10)
        if rc == 0 and name in out.split():
            return
        time.sleep(0.3)
    raise FarmError("the exporter did not publish %s within %ss" % (name, timeout))


def up(farm_dir=DEFAULT_DIR, boards=("UNIX", "UNIX"), timeout=90, log=print):
    """Start a local farm in the background (a supervisor process); return its state."""
    farm_dir = os.path.abspath(farm_dir)
    missing = missing_tools()
    if missing:
        raise FarmError("a local farm needs " + "; ".join(missing))
    st = read_state(farm_dir)
    if st:
        log("a farm is already up in %s: %s" % (farm_dir, ", ".join(p["name"] for p in st["places"])))
        return st
    os.makedirs(farm_dir, exist_ok=True)
    with open(os.path.join(farm_dir, "farm.log"), "wb") as out:
        sup = subprocess.Popen([sys.executable, "-m", "firmware", "farm-serve", "--dir", farm_dir,
                                "--boards", ",".join(boards)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True,
                               env=dict(os.environ, WS2_FARM=farm_dir))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_state(farm_dir)
        if st and st.get("ready") and st["supervisor"] == sup.pid:
            for p in st["places"]:
                log("place %-16s board=%-14s serial %s" % (p["name"], p["board"], p["pty"]))
            log("coordinator %s; labgrid environment %s" % (st["coordinator"], st["env"]))
            return st
        if sup.poll() is not None:
            break
        time.sleep(0.2)
    _stop_group(sup)
    with open(os.path.join(farm_dir, "farm.log"), errors="replace") as f:
        tail = f.read()[-2000:]
    raise FarmError("the farm did not come up; its log:\n" + tail)


def down(farm_dir=DEFAULT_DIR, log=print):
    """Stop the local farm and everything it started; raise if a process outlives it."""
    try:
        with open(state_path(farm_dir)) as f:
            st = json.load(f)
    except (OSError, ValueError):
        log("no farm is up in %s" % farm_dir)
        return
    pids = farm_processes(farm_dir)
    sup = st.get("supervisor")
    if sup and _alive(sup):
        os.kill(sup, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    left = [p for p in farm_processes(farm_dir) if _alive(p)]
    for p in left:  # the supervisor died without cleaning up: finish its job
        try:
            os.killpg(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.remove(state_path(farm_dir))
    except OSError:
        pass
    log("farm down: stopped the coordinator, %d exporter(s) and board(s)%s" % (
        len(st.get("places", ())), "" if not left else " (%d killed)" % len(left)))


def farm_processes(farm_dir):
    """Pids of every process the farm in farm_dir started (they carry WS2_FARM=<dir> in their environment)."""
    mark = ("WS2_FARM=" + os.path.abspath(farm_dir)).encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                if mark in f.read().split(b"\0"):
                    out.append(int(name))
        except OSError:
            continue
    return [p for p in out if _alive(p)]


def worker_place(places):
    """The place of this pytest-xdist worker (gwN takes the Nth of PLACES), or the first one without xdist."""
    names = [p for p in places.split(",") if p]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    i = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return names[i] if i < len(names) else None


# -- the suite on several places --------------------------------------------------------------------------

SMOKE = ("host_tests/device/test_dispatch.py", "-m", "hil")


def test(places, env_file, coordinator, pytest_args=(), report_dir=None, dist="each", log=print):
    """Run pytest with one xdist worker per place (each holding its place's lock); print a report per place."""
    report_dir = os.path.abspath(report_dir or os.path.join(DEFAULT_DIR, "reports"))
    os.makedirs(report_dir, exist_ok=True)
    for p in places:
        for ext in (".json", ".md"):
            try:
                os.remove(os.path.join(report_dir, p + ext))
            except OSError:
                pass
    args = [sys.executable, "-m", "pytest", "-p", "xdist", "-n", str(len(places)), "--dist", dist,
            "--lg-env", os.path.abspath(env_file), "--farm-places", ",".join(places), "--farm-reports", report_dir]
    if coordinator:
        args += ["--lg-coordinator", coordinator]
    args += list(pytest_args or SMOKE)
    log("running on %d place(s) in parallel: %s" % (len(places), " ".join(args[3:])))
    rc = subprocess.call(args, cwd=ROOT, stdin=subprocess.DEVNULL)
    for p in places:
        path = os.path.join(report_dir, p + ".md")
        if os.path.exists(path):
            with open(path) as f:
                log(f.read().rstrip())
        else:
            log("place %s: no report (its worker never got the place)" % p)
    return rc


def report(place, board, results):
    """Per-place report text and data from [(nodeid, outcome, message)]."""
    counts = {}
    for _, outcome, _ in results:
        counts[outcome] = counts.get(outcome, 0) + 1
    data = {"place": place, "board": board, "counts": counts,
            "results": [{"test": n, "outcome": o, "message": m} for n, o, m in results]}
    lines = ["place %s (board %s): %s" % (place, board or "?", ", ".join(
        "%d %s" % (counts[k], k) for k in sorted(counts)) or "no tests")]
    for n, o, m in results:
        if o == "failed":
            lines.append("  FAILED %s: %s" % (n, m))
    return "\n".join(lines) + "\n", data
