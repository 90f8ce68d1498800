# firmware: host-side tooling for ws2 boards: bundles, virtual board, deploy, flash, demo.
# MIT licence; part of ws2 for MicroPython. Run `python -m firmware --help`.
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The scripts the host sends to the board to run there (bench, soak, demo): device code, not host tooling.
BOARD_SCRIPTS = os.path.join(ROOT, "board_scripts")


class FirmwareError(Exception):
    """A failure the CLI reports as `firmware: message` (exit code 1); the message says what to do."""
