# firmware/flash: put a firmware image on a board: esptool (ESP32 family), UF2 drive or picotool (RP2).
# MIT licence; part of ws2 for MicroPython.
#
# plan() turns (board, port, options) into the exact commands and copies to
# run, so --dry-run prints precisely what run() would do. Images are checked
# before anything touches the board: an ESP32-S3 image on an ESP32, or an
# RP2350 UF2 on an RP2040, is refused with a message.
import os
import shlex
import shutil
import struct
import subprocess
import sys
import time

from firmware import ROOT, FirmwareError, boards

# ESP image header: chip id at offset 12 (esp_image_header_t); values from ESP-IDF's esp_chip_id_t.
_ESP_CHIP_IDS = {"esp32": 0x0000, "esp32s2": 0x0002, "esp32c3": 0x0005, "esp32s3": 0x0009, "esp32c2": 0x000C,
                 "esp32c6": 0x000D, "esp32h2": 0x0010, "esp32p4": 0x0012, "esp32c5": 0x0017}
_UF2_MAGIC = (0x0A324655, 0x9E5D5157, 0x0AB16F30)
_UF2_FAMILY_PRESENT = 0x00002000
_UF2_FAMILY_NAMES = {0xE48BFF56: "RP2040", 0xE48BFF57: "RP2XXX absolute", 0xE48BFF59: "RP2350 ARM (secure)",
                     0xE48BFF5A: "RP2350 RISC-V", 0xE48BFF5B: "RP2350 ARM (non-secure)"}
_BOOTSEL_WAIT_S = 15


class FlashError(FirmwareError):
    """Nothing to flash, the wrong image for the board, or a flasher that failed."""


# -- images ------------------------------------------------------------------------------

def default_image(board):
    """Return build/<BOARD>/<image>, where `make firmware` leaves it."""
    return os.path.join(ROOT, "build", board["name"], board["image"])


def check_esp_image(board, path):
    """Raise FlashError unless path is an ESP image for the board's chip."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) < 16 or head[0] != 0xE9:
        raise FlashError("%s is not an ESP32 firmware image (no 0xE9 magic at its start)" % path)
    (chip_id,) = struct.unpack_from("<H", head, 12)
    want = _ESP_CHIP_IDS[board["esptool_chip"]]
    if chip_id != want:
        names = {v: k for k, v in _ESP_CHIP_IDS.items()}
        raise FlashError("%s is built for %s, but %s is an %s: build it with `make firmware BOARD=%s`" % (
            path, names.get(chip_id, "chip id %d" % chip_id), board["name"], board["esptool_chip"], board["name"]))


def uf2_families(path):
    """Return the set of UF2 family ids in a .uf2 file; FlashError when it is not UF2."""
    families = set()
    with open(path, "rb") as f:
        data = f.read()
    if not data or len(data) % 512:
        raise FlashError("%s is not a UF2 file (its size is not a multiple of 512)" % path)
    for off in range(0, len(data), 512):
        m0, m1, flags, _, _, _, _, family = struct.unpack_from("<8I", data, off)
        (m2,) = struct.unpack_from("<I", data, off + 508)
        if (m0, m1, m2) != _UF2_MAGIC:
            raise FlashError("%s is not a UF2 file (bad block magic at byte %d)" % (path, off))
        if flags & _UF2_FAMILY_PRESENT:
            families.add(family)
    return families


def uf2_extent(path, base):
    """Return how many bytes of flash from base the UF2's blocks reach (the image size it writes)."""
    with open(path, "rb") as f:
        data = f.read()
    end = base
    for off in range(0, len(data) - 511, 512):
        _, _, _, addr, size = struct.unpack_from("<5I", data, off)
        end = max(end, addr + size)
    return end - base


def uf2_from_bin(data, base, family):
    """Return a UF2 file that writes data at flash address base (256-byte payloads, family id set)."""
    n = (len(data) + 255) // 256
    out = bytearray()
    for i in range(n):
        chunk = data[i * 256:(i + 1) * 256]
        out += struct.pack("<8I", _UF2_MAGIC[0], _UF2_MAGIC[1], _UF2_FAMILY_PRESENT, base + 256 * i, 256, i, n,
                           family)
        out += chunk + bytes(476 - len(chunk)) + struct.pack("<I", _UF2_MAGIC[2])
    return bytes(out)


def image_size(board, path):
    """Return the bytes of flash the image occupies: the UF2's reach, or the file's size."""
    if path.endswith(".uf2"):
        return uf2_extent(path, int(board["flash_offset"], 16))
    return os.path.getsize(path)


def check_fits(board, path, size=None, error=None):
    """Raise (error or FlashError) when the image would overlap the filesystem; return (size, limit, how)."""
    part = boards.firmware_partition(board)
    size = image_size(board, path) if size is None else size
    if part is None:
        return size, None, None
    limit, how = part
    if size > limit:
        raise (error or FlashError)(
            "%s is %d B, but the firmware partition of %s is %d B (%s): it would overlap the filesystem by %d B "
            "and corrupt it; freeze fewer modules, or deploy some as .mpy files (make deploy)" % (
                os.path.relpath(path, os.getcwd()), size, board["name"], limit, how, size - limit))
    return size, limit, how


def margin_text(size, limit, how):
    """The size check in words: used, partition, what is left."""
    return "image %d B of the %d B firmware partition (%s): %d B (%.1f %%) left" % (
        size, limit, how, limit - size, 100.0 * (limit - size) / limit)


def check_image(board, image):
    """Everything flash checks before touching the board: the image exists, is for this chip, and fits."""
    if not os.path.isfile(image):
        raise FlashError("no firmware image %s: build one with `make firmware BOARD=%s MICROPY_DIR=...`, or give "
                         "%s (e.g. a release from https://micropython.org/download/%s/ - then ws2 is not frozen; "
                         "`make deploy` adds it)" % (os.path.relpath(image, os.getcwd()), board["name"],
                                                     option("--image", "PATH"), board["micropython_board"]))
    if board["flasher"] == "esptool":
        check_esp_image(board, image)
    else:
        check_uf2_image(board, image)
    return check_fits(board, image)


def check_uf2_image(board, path):
    """Raise FlashError unless every block of the UF2 is for the board's chip."""
    allowed = {int(x, 16) for x in board["uf2_families"]}
    got = uf2_families(path)
    wrong = got - allowed
    if wrong or not got:
        what = ", ".join(_UF2_FAMILY_NAMES.get(f, "0x%08x" % f) for f in sorted(got)) or "no family id"
        raise FlashError("%s is for %s, but %s is an %s: build it with `make firmware BOARD=%s`" % (
            path, what, board["name"], board["chip"].upper(), board["name"]))


# -- finding things --------------------------------------------------------------------------------

def find_drives(labels):
    """Return [(mount point, label)] of mounted UF2 bootloader drives whose Board-ID is one of labels."""
    seen = []
    for mount in _mount_points():
        label = _uf2_board_id(mount)
        if label in labels and mount not in [m for m, _ in seen]:
            seen.append((mount, label))
    return seen


def _mount_points():
    points = []
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] in ("vfat", "msdos", "fat", "fuseblk", "exfat"):
                    points.append(parts[1].replace("\\040", " "))
    except OSError:
        pass
    for pattern_root in ("/media", "/run/media", "/Volumes", "/mnt"):
        try:
            for d in os.listdir(pattern_root):
                p = os.path.join(pattern_root, d)
                points.append(p)
                if os.path.isdir(p) and pattern_root != "/Volumes":
                    points += [os.path.join(p, x) for x in _listdir(p)]
        except OSError:
            pass
    if sys.platform == "win32":
        points += ["%s:\\" % c for c in "DEFGHIJKLMNOPQRSTUVWXYZ"]
    return points


def _listdir(p):
    try:
        return os.listdir(p)
    except OSError:
        return []


def _uf2_board_id(mount):
    # The bootloader drive has INFO_UF2.TXT with "Board-ID: RPI-RP2" (RP2040) or "Board-ID: RP2350".
    try:
        with open(os.path.join(mount, "INFO_UF2.TXT")) as f:
            for line in f:
                if line.startswith("Board-ID:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _tool(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name)


def esptool_cmd():
    """Return (argv prefix, major version) of the esptool to use (the venv's pinned one first)."""
    exe = _tool("esptool") or _tool("esptool.py")
    if exe:
        major = 4 if exe.endswith(".py") else 5
        try:
            from importlib.metadata import version

            major = int(version("esptool").split(".")[0])
        except Exception:
            pass
        return [exe], major
    return [sys.executable, "-m", "esptool"], 5


# -- the plan -------------------------------------------------------------------------------------

class Step:
    """One thing flash does: run a command, copy a file onto a drive, or wait for a drive."""

    def __init__(self, kind, argv=None, src=None, dst=None, note=None):
        self.kind = kind  # "run", "copy", "wait-drive", "wait-port"
        self.argv = argv
        self.src = src
        self.dst = dst
        self.note = note

    def text(self):
        """The step as a shell command line (what --dry-run prints)."""
        if self.kind == "run":
            return shlex.join(self.argv)
        if self.kind == "copy":
            return shlex.join(["cp", self.src, self.dst])
        return "# %s" % self.note


def plan(board, port=None, image=None, erase=False, method="auto", drive=None, baud=None):
    """Return [Step] that flash performs for these options (nothing is touched)."""
    image = os.path.abspath(image or default_image(board))
    if board["flasher"] == "esptool":
        return _plan_esptool(board, port, image, erase, baud)
    if board["flasher"] == "uf2":
        return _plan_uf2(board, port, image, erase, method, drive)
    raise FlashError("%s is not flashed: it is the virtual board (build it with `make firmware BOARD=%s`, "
                     "use it with `make test MICROPYTHON=build/%s/micropython`)" % (board["name"], board["name"],
                                                                                    board["name"]))


def _plan_esptool(board, port, image, erase, baud):
    if not port:
        raise FlashError("flashing %s needs --port (PORT=...), the board's serial device, e.g. /dev/ttyUSB0; "
                         "`python -m firmware detect` lists them" % board["name"])
    exe, major = esptool_cmd()
    v5 = major >= 5

    def name(s):  # esptool v4 spells commands and options with underscores
        if v5:
            return s
        lead = len(s) - len(s.lstrip("-"))
        return s[:lead] + s[lead:].replace("-", "_")

    common = exe + ["--chip", board["esptool_chip"], "--port", port, "--baud", str(baud or board["flash_baud"]),
                    "--before", name("default-reset"), "--after", name("hard-reset")]
    steps = []
    if erase:
        steps.append(Step("run", common + [name("erase-flash")]))
    steps.append(Step("run", common + [name("write-flash"), name("--flash-mode"), board["flash_mode"],
                                       name("--flash-size"), board["flash_size"], board["flash_offset"], image]))
    return steps


def _plan_uf2(board, port, image, erase, method, drive):
    label = board["drive_label"]
    picotool = _tool("picotool")
    if method == "auto":
        # A mounted drive is the simplest; picotool needs no automounter; erasing needs picotool.
        method = "drive" if (drive or find_drives((label,))) else ("picotool" if picotool else "drive")
        if erase and picotool:
            method = "picotool"
    steps = []
    if port:  # a running MicroPython board: into BOOTSEL first
        mpremote = _tool("mpremote") or "mpremote"
        steps.append(Step("run", [mpremote, "connect", port, "bootloader"]))
    if method == "picotool":
        exe = picotool or "picotool"
        if port:
            steps.append(Step("wait-usb", note="wait for the %s in BOOTSEL mode (USB %s)" % (
                board["chip"].upper(), board.get("bootsel_usb_id", "?"))))
        if erase:
            steps.append(Step("run", [exe, "erase", "-a"]))
        steps.append(Step("run", [exe, "load", "-v", "-x", image]))
        return steps
    if erase:
        raise FlashError("erasing an %s needs picotool (`picotool erase -a`; use --method picotool), or copy "
                         "Raspberry Pi's flash_nuke.uf2 to the %s drive first" % (board["chip"].upper(), label))
    if not drive:
        found = find_drives((label,))
        if found:
            drive = found[0][0]
        else:
            drive = os.path.join("/media", os.environ.get("USER", "user"), label)
            steps.append(Step("wait-drive", dst=drive, note="wait for the %s drive (at most %d s; it appears "
                                                             "when the board is in BOOTSEL mode)" % (label, _BOOTSEL_WAIT_S)))
    steps.append(Step("copy", src=image, dst=os.path.join(drive, os.path.basename(image))))
    return steps


# -- running it ------------------------------------------------------------------------------------

def run(board, steps, image, out=print):
    """Check the image, then perform the steps with progress shown."""
    out(margin_text(*check_image(board, image)))
    label = board.get("drive_label")
    for step in steps:
        if step.kind == "run":
            out("$ " + step.text())
            try:
                rc = subprocess.call(step.argv)
            except OSError as e:
                raise FlashError("cannot run %s: %s%s" % (step.argv[0], e.strerror, _install_hint(step.argv[0])))
            if rc:
                raise FlashError("%s failed (exit code %d)%s" % (os.path.basename(step.argv[0]), rc,
                                                                 _failure_hint(board, step.argv)))
        elif step.kind == "wait-drive":
            out("waiting for the %s drive ..." % label)
            deadline = time.monotonic() + _BOOTSEL_WAIT_S
            while True:
                found = find_drives((label,))
                if found:
                    break
                if time.monotonic() > deadline:
                    raise FlashError("no %s drive appeared: hold BOOTSEL while plugging the board in, make sure the "
                                     "drive gets mounted (or pass --drive PATH), or use --method picotool" % label)
                time.sleep(0.5)
            step.dst = os.path.join(found[0][0], os.path.basename(image))
        elif step.kind == "wait-usb":
            out("waiting %d s for the board to enter BOOTSEL mode ..." % 3)
            time.sleep(3)
        elif step.kind == "copy":
            out("$ " + step.text())
            copy_with_progress(step.src, step.dst, out=out)
    out("flashed %s with %s" % (board["name"], os.path.relpath(image, os.getcwd())))


def copy_with_progress(src, dst, out=print, chunk=64 * 1024, width=30):
    """Copy src to dst in chunks, drawing a progress bar; flush to the device at the end."""
    total = os.path.getsize(src)
    done = 0
    interactive = sys.stdout.isatty()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            data = fi.read(chunk)
            if not data:
                break
            fo.write(data)
            done += len(data)
            if interactive:
                filled = width * done // max(total, 1)
                sys.stdout.write("\r[%s%s] %3d%% %d/%d KB" % ("#" * filled, "." * (width - filled),
                                                              100 * done // max(total, 1), done // 1024, total // 1024))
                sys.stdout.flush()
        fo.flush()
        os.fsync(fo.fileno())
    if interactive:
        sys.stdout.write("\n")
    out("copied %d bytes to %s; the board reboots into the new firmware" % (done, dst))


def _install_hint(exe):
    name = os.path.basename(exe)
    if name.startswith("esptool"):
        return " (run `make venv`: it installs the pinned esptool)"
    if name == "picotool":
        return " (install picotool: https://github.com/raspberrypi/picotool, or copy the UF2 to the drive instead)"
    if name == "mpremote":
        return " (run `make venv`: it installs the pinned mpremote)"
    return ""


def option(name, value):
    """Spell a command-line option as the user gives it: through make (ARGS=...) or to the CLI itself."""
    # make exports MAKELEVEL to the commands it runs, so its presence says we were started by a make target.
    if os.environ.get("MAKELEVEL"):
        return "ARGS='%s %s'" % (name, value)
    return "%s %s" % (name, value)


def _failure_hint(board, argv):
    name = os.path.basename(argv[0])
    if name.startswith("esptool"):
        return (": check PORT, that no other program (a REPL, `make board`) holds it, and hold BOOT while "
                "pressing RESET if esptool cannot connect; try a lower baud rate: %s" % option("--flash-baud", "115200"))
    if name == "mpremote":
        return ": the board did not answer on that port; put it in BOOTSEL mode by hand (hold BOOTSEL, plug in)"
    if name == "picotool":
        return ": is the board in BOOTSEL mode and do you have USB permissions (udev rules) for it?"
    return ""


def flash(board_name, port=None, image=None, erase=False, dry_run=False, method="auto", drive=None, baud=None,
          out=print):
    """The `flash` command: plan, then print (--dry-run) or perform it."""
    board = boards.load(board_name)
    if board.get("emulator"):
        # Its flash is the emulator's own file: a real board on a USB port must not be flashed by mistake.
        raise FlashError("%s is an emulated board: it boots its image straight from FIRMWARE= (docs/emulator.md); "
                         "to flash a real one give BOARD=%s" % (board["name"], board.get("micropython_board", "?")))
    image = os.path.abspath(image or default_image(board))
    steps = plan(board, port, image, erase, method, drive, baud)
    if dry_run:
        # The same checks as a real flash, so a dry run that passes is one that would flash.
        out("# " + margin_text(*check_image(board, image)))
        for s in steps:
            out(s.text())
        return steps
    run(board, steps, image, out=out)
    return steps
