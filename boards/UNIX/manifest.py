# Freeze manifest for the UNIX board: the unix port's standard variant, then ws2
# and its providers. The resulting `micropython` can replace the PyPI interpreter
# of the virtual board: `make test MICROPYTHON=build/UNIX/micropython`.
# MIT licence; part of ws2 for MicroPython. Used as FROZEN_MANIFEST by `make firmware BOARD=UNIX`.
include("$(PORT_DIR)/variants/standard/manifest.py")

# The router and every provider module, frozen as bytecode under their import
# paths (the catalog names providers by path, e.g. "providers.wspm").
package("ws2", base_path="../..")
package("providers", base_path="../..")
