# Freeze manifest for RPI_PICO_W_EMU: the emulated board runs RPI_PICO_W's firmware, so it freezes the same.
# MIT licence; part of ws2 for MicroPython.
include("../RPI_PICO_W/manifest.py")
