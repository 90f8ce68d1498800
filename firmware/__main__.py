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

    print("%-18s %-6s %-10s %8s %8s %8s  %s" % ("board", "port", "arch", "heap KB", "sockets", "flash KB", "description"))
    for name in boards.names():
        b = boards.load(name)
        print("%-18s %-6s %-10s %8d %8d %8d  %s" % (name, b["port"], b["mpy_arch"], b["heap_kb"], b["max_sockets"],
                                                   b.get("flash_budget_kb", 48), b.get("description", "")))


def do_bundle(state, args):
    """Compile every device module for the board into build/BOARD/ and print the size report."""
    from firmware import bundle

    print("compiling for %s into build/%s/ ..." % (args.board, args.board))
    built = bundle.build(args.board)
    print(bundle.report(args.board, built))


def do_board(state, args):
    """Start a virtual board in the foreground (bundle deployed) and print its serial device."""
    from firmware import vboard

    vboard.serve(args.board, flash=args.flash, micropython=args.micropython, deploy=not args.no_deploy)


def do_deploy(state, args):
    """Copy the bundle to /lib on the board at --port (only changed files), then check the import."""
    from firmware import deploy

    if not args.port:
        raise CommandError("deploy needs --port (a serial device, e.g. /dev/ttyUSB0 or a virtual board's /dev/pts/N)")
    deploy.deploy(args.port, args.board, log=print)


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


def _parser():
    p = argparse.ArgumentParser(prog=PROG, description="ws2 host tooling: boards, bundles, virtual board, deploy, demo.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name, func, help_text):
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.set_defaults(func=func)
        c.add_argument("--board", default=os.environ.get("BOARD") or "UNIX",
                       help="board name, a folder under boards/ (default: $BOARD or UNIX)")
        return c

    cmd("list-boards", do_list_boards, do_list_boards.__doc__)
    cmd("bundle", do_bundle, do_bundle.__doc__)
    c = cmd("board", do_board, do_board.__doc__)
    c.add_argument("--flash", help="directory used as the board's flash (default: a temporary one)")
    c.add_argument("--micropython", help="unix-port interpreter (default: $MICROPYTHON or the venv's)")
    c.add_argument("--no-deploy", action="store_true", help="start with an empty flash")
    c = cmd("deploy", do_deploy, do_deploy.__doc__)
    c.add_argument("--port", default=os.environ.get("PORT") or None, help="serial device (default: $PORT)")
    c = cmd("run", do_run, do_run.__doc__)
    c.add_argument("--port", default=os.environ.get("PORT") or None, help="serial device of a real board")
    c.add_argument("--host-ip", default=os.environ.get("HOST_IP") or None,
                   help="address at which the board reaches this host (default 127.0.0.1)")
    c = cmd("repl", do_repl, do_repl.__doc__)
    c.add_argument("--port", default=os.environ.get("PORT") or None, help="serial device of a real board")
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
        from firmware.boards import BoardError
        from firmware.bundle import BundleError

        known = (CommandError, BoardError, BundleError, OSError)
        if not isinstance(e, known) and os.environ.get("FIRMWARE_DEBUG"):
            raise
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    return state["rc"]


if __name__ == "__main__":
    sys.exit(main())
