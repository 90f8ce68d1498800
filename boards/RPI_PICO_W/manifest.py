# Freeze manifest for RPI_PICO_W: the board's own manifest (rp2 port modules, networking
# bundle, aioble), then ws2 and its providers.
# MIT licence; part of ws2 for MicroPython. Used as FROZEN_MANIFEST by `make firmware BOARD=RPI_PICO_W`.
include("$(BOARD_DIR)/manifest.py")

# The router and every provider module, frozen as bytecode under their import
# paths (the catalog names providers by path, e.g. "providers.wspm"). The board
# ships wspm, nspm and ssllsp (board.json "providers"); helper modules they
# import live in the same package.
#
# The RP2040 is an armv6m core, where frozen @micropython.native functions crash
# MicroPython (the freezer aligns them to 2 bytes, the runtime loads their first
# word with a 32-bit read: a HardFault). So this build freezes copies without the
# decorator, made by firmware/native.py under build/frozen-armv6m/. The build runs
# each manifest from its own folder, so the repository is two levels up.
import os
import sys

_root = os.path.abspath(os.path.join(os.getcwd(), "..", ".."))
if _root not in sys.path:
    sys.path.insert(0, _root)
from firmware import native  # noqa: E402

_src = native.frozen_source("armv6m", _root)
package("ws2", base_path=_src)
package("providers", base_path=_src)
