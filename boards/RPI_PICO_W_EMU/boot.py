# boot.py for RPI_PICO_W_EMU: the emulator has no Wi-Fi chip to bring up; load the ws2 catalog.
# MIT licence; part of ws2 for MicroPython.
try:
    from ws2 import netup
except ImportError as e:
    print("boot: ws2 not importable (%s): make deploy, or flash a firmware with ws2 frozen" % e)
else:
    netup.catalog()
    del netup
