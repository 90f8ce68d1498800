# Freeze manifest for ESP32_GENERIC: the esp32 port's own modules, then ws2 and its providers.
# MIT licence; part of ws2 for MicroPython. Used as FROZEN_MANIFEST by `make firmware BOARD=ESP32_GENERIC`.
#
# ESP32_GENERIC has no board manifest of its own; the port's is the default one.
include("$(PORT_DIR)/boards/manifest.py")

# The router and every provider module, frozen as bytecode under their import
# paths (the catalog names providers by path, e.g. "providers.wspm"). The board
# ships wspm, nspm and ssllsp (board.json "providers"); helper modules they
# import live in the same package. Paths are relative to this file.
package("ws2", base_path="../..")
package("providers", base_path="../..")
