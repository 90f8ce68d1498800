# firmware/detect: which boards are plugged in, and which of ours each looks like.
# MIT licence; part of ws2 for MicroPython.
#
# By default nothing is opened: opening a USB-UART port can reset an ESP32
# through DTR/RTS, so the guess comes from the USB ids pyserial reports (the
# list `mpremote connect list` prints). --query opens each candidate, asks
# MicroPython for sys.implementation._machine / _build, and names the board.
from firmware import FirmwareError, boards


class DetectError(FirmwareError):
    """A port that did not answer as a MicroPython REPL."""

# VID (or VID:PID) -> what such a USB id usually is, for ids no board.json names.
_KNOWN = {
    "303A": "Espressif native USB (ESP32-S2/S3/C3/C6)",
    "10C4:EA60": "Silicon Labs CP210x USB-UART (ESP32 dev boards)",
    "1A86:7523": "WCH CH340 USB-UART (ESP32 dev boards)",
    "1A86:55D4": "WCH CH9102/CH343 USB-UART (ESP32 dev boards)",
    "0403": "FTDI USB-UART (ESP32 dev kits)",
    "2E8A:0005": "Raspberry Pi RP2 running MicroPython",
    "2E8A:0003": "RP2040 in BOOTSEL mode",
    "2E8A:000F": "RP2350 in BOOTSEL mode",
    "2E8A": "Raspberry Pi RP2",
}


def usb_id(vid, pid):
    """Return 'VVVV:PPPP' in upper-case hex, or None without USB ids."""
    if not isinstance(vid, int) or not isinstance(pid, int):
        return None
    return "%04X:%04X" % (vid, pid)


def candidates(uid):
    """Return the names of our boards whose usb_ids contain uid (an emulated board is never plugged in)."""
    return [b["name"] for b in boards.usable() if uid in b.get("usb_ids", ()) and not b.get("emulator")]


def describe(uid):
    """Return what a USB id is, in words."""
    if uid is None:
        return "no USB ids (a built-in UART or a virtual port)"
    return _KNOWN.get(uid) or _KNOWN.get(uid[:4]) or "unknown USB device"


def board_from_machine(machine, build=None):
    """Return our board for sys.implementation._build (v1.25+) or _machine ('<board> with <mcu>'), or None."""
    known = boards.usable()
    for b in known:
        if build and build.split("-")[0] == b.get("micropython_board") and b["port"] != "unix":
            return b["name"]
    head = (machine or "").split(" with ")[0].strip()
    for b in known:
        if head and head == b.get("machine"):
            return b["name"]
    return None


def ports():
    """Return pyserial's serial ports with USB ids: [(device, 'VID:PID' or None, manufacturer, product, serial)]."""
    import serial.tools.list_ports

    out = []
    for p in sorted(serial.tools.list_ports.comports()):
        out.append((p.device, usb_id(p.vid, p.pid), p.manufacturer, p.product, p.serial_number))
    return out


def query(device, timeout=5):
    """Ask the board at device for (_machine, _build, mpy) through the raw REPL (no soft reset)."""
    import contextlib
    import io

    from firmware.device import Board

    # mpremote prints what it read before it gives up on a port that is not a
    # MicroPython REPL (often b''); that goes into the error, not onto our output.
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            b = Board(device, soft_reset=False, unstick=False)
    except Exception as e:
        seen = said.getvalue().strip()
        raise DetectError("%s%s" % (str(e) or type(e).__name__,
                                    "; it sent %s" % seen if seen and seen != "b''" else "; it sent nothing"))
    try:
        return b.eval("(getattr(__import__('sys').implementation, '_machine', ''), "
                      "getattr(__import__('sys').implementation, '_build', ''), "
                      "getattr(__import__('sys').implementation, '_mpy', 0))", timeout=timeout)
    finally:
        b.close()


def bootsel_drives():
    """Return [(mount point, label)] of mounted RP2 BOOTSEL drives (RPI-RP2, RP2350)."""
    from firmware.flash import find_drives

    return find_drives(("RPI-RP2", "RP2350"))


def run(out=print, do_query=False):
    """Print what is connected; return the number of boards found."""
    found = 0
    for dev, uid, maker, product, serial_no in ports():
        if uid is None and not do_query:
            continue
        cands = candidates(uid) if uid else []
        guess = " or ".join(cands) if cands else "not one of ours"
        line = "%-14s %-9s %s; looks like %s" % (dev, uid or "-", describe(uid), guess)
        if do_query:
            try:
                machine, build, mpy = query(dev)
                name = board_from_machine(machine, build)
                line += "\n%14s MicroPython says %r%s -> %s" % (
                    "", machine, " (%s)" % build if build else "", name or "not one of ours")
                cands = [name] if name else cands
            except Exception as e:  # not MicroPython, busy, or in a bootloader
                line += "\n%14s no MicroPython answer (%s)" % ("", str(e).strip().splitlines()[-1][:80] if str(e) else
                                                              type(e).__name__)
        out(line)
        found += 1 if cands else 0
    for mount, label in bootsel_drives():
        chip = "RP2040" if label == "RPI-RP2" else "RP2350"
        names = [b["name"] for b in boards.usable() if b.get("drive_label") == label and not b.get("emulator")]
        out("%-14s %-9s %s in BOOTSEL mode, ready for `make flash BOARD=%s`" % (
            mount, label, chip, "|".join(names)))
        found += 1
    if not found:
        out("no boards found (serial ports with USB ids: %d). Plug a board in; on Linux you may need to be in the "
            "dialout group. A virtual board is started by `make board`." % len([p for p in ports() if p[1]]))
    return found


__all__ = ["run", "ports", "candidates", "describe", "board_from_machine", "query", "usb_id"]
