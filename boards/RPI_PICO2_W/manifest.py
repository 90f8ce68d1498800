# Freeze manifest for RPI_PICO2_W: the board's own manifest (rp2 port modules, networking
# bundle, aioble), then ws2 and its providers.
# MIT licence; part of ws2 for MicroPython. Used as FROZEN_MANIFEST by `make firmware BOARD=RPI_PICO2_W`.
include("$(BOARD_DIR)/manifest.py")

# The router and every provider module, frozen as bytecode under their import
# paths (the catalog names providers by path, e.g. "providers.wspm"). The board
# ships wspm, nspm and ssllsp (board.json "providers"); helper modules they
# import live in the same package. Paths are relative to this file.
package("ws2", base_path="../..")
package("providers", base_path="../..")
