# firmware/wifi: write the board's Wi-Fi secrets (/secrets.json) and check that boot.py joins.
# MIT licence; part of ws2 for MicroPython.
#
# The secrets go straight from this process to the board's flash over the
# serial link: no copy is written on the host, so none can end up in git.
# The password comes from --password, $WIFI_PASSWORD (what `make wifi
# PASSWORD=...` uses, so it is not echoed), or a prompt.
import json
import os

from firmware import FirmwareError, boards
from firmware.device import Board

SECRETS = "/secrets.json"


class WifiError(FirmwareError):
    """Bad Wi-Fi settings, or a board that did not join."""


def secrets_payload(ssid, password, country=None, hostname=None, timeout_s=None):
    """Return the bytes of /secrets.json for these settings (validated)."""
    if not ssid or len(ssid.encode()) > 32:
        raise WifiError("SSID must be 1 to 32 bytes, not %r" % (ssid,))
    if password and not 8 <= len(password) <= 64:
        raise WifiError("a WPA2 password has 8 to 63 characters (64 hex digits); this one has %d" % len(password))
    cfg = {"ssid": ssid, "password": password or ""}
    if country:
        if len(country) != 2 or not country.isalpha():
            raise WifiError("country must be a two-letter code such as GB or DE, not %r" % (country,))
        cfg["country"] = country.upper()
    if hostname:
        cfg["hostname"] = hostname
    if timeout_s is not None:
        if not 1 <= timeout_s <= 9:
            raise WifiError("timeout must be 1 to 9 s: mpremote waits at most 10 s for boot.py after a reset")
        cfg["timeout_s"] = timeout_s
    return json.dumps(cfg).encode()


def write(target, board_name, payload, check=True, log=print):
    """Write payload as /secrets.json (power-safe), install the board's boot.py, optionally run it; return its report."""
    board = boards.load(board_name)
    dev = target if isinstance(target, Board) else Board(target)
    try:
        if not board.get("wifi"):
            board = _identify(dev, board_name)
        dev.write_file(SECRETS + ".part", payload)
        dev.exec("import os\nos.chdir('/')\nos.rename(%r, %r)" % (SECRETS[1:] + ".part", SECRETS[1:]))
        log("wrote %s (%d B) on the %s" % (SECRETS, len(payload), board["name"]))
        boot_path = os.path.join(board["dir"], "boot.py")
        with open(boot_path, "rb") as f:
            boot = f.read()
        try:
            have = dev.read_file("/boot.py")
        except Exception:
            have = None
        if have != boot:
            dev.write_file("/boot.py", boot)
            log("installed the %s boot.py" % board["name"])
        if not check:
            return None
        log("running boot.py to join the network ...")
        dev.soft_reset()
        out = dev.exec("exec(open('/boot.py').read(), {})", timeout=30)
        lines = [l for l in out.splitlines() if l.startswith("boot: Wi-Fi") or "Wi-Fi" in l]
        report = lines[-1] if lines else out.strip()
        log(report)
        if " up, address " not in report:
            raise WifiError("the board did not join the network (%s); the secrets are stored, boot.py retries at "
                            "every reset" % report)
        return report
    finally:
        if dev is not target:
            dev.close()


def _identify(dev, board_name):
    # BOARD left at its default (UNIX) or naming a board without Wi-Fi: ask the board what it is.
    from firmware.detect import board_from_machine

    try:
        machine, build = dev.eval("(getattr(__import__('sys').implementation, '_machine', ''), "
                                  "getattr(__import__('sys').implementation, '_build', ''))")
    except Exception:
        machine = build = ""
    name = board_from_machine(machine, build)
    wifi_boards = [n for n in boards.names() if boards.load(n).get("wifi")]
    if not name or not boards.load(name).get("wifi"):
        raise WifiError("%s has no Wi-Fi and the board on this port says it is %r: give BOARD= one of %s"
                        % (board_name, machine or "?", ", ".join(wifi_boards)))
    return boards.load(name)
