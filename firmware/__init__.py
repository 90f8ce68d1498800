# firmware: host-side tooling for ws2 boards: bundles, virtual board, deploy, flash, demo.
# MIT licence; part of ws2 for MicroPython. Run `python -m firmware --help`.
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The scripts the host sends to the board to run there (bench, soak, demo): device code, not host tooling.
BOARD_SCRIPTS = os.path.join(ROOT, "board_scripts")


class FirmwareError(Exception):
    """A failure the CLI reports as `firmware: message` (exit code 1); the message says what to do."""


def venv_tool(name, env_var):
    """A tool's path: $env_var when set, else the venv's (beside this Python), else the one on PATH, else None."""
    env = os.environ.get(env_var)
    if env:
        return env
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(here):
        return here
    return shutil.which(name)
