# boot.py for RPI_PICO_W: Wi-Fi up from /secrets.json, then the ws2 catalog loaded.
# MIT licence; part of ws2 for MicroPython.
#
# The work is in ws2.netup, frozen with ws2 (nothing to compile at each reset,
# one copy for every Wi-Fi board, its code in flash). Settings: /secrets.json,
# written on the board by `make wifi SSID=... PASSWORD=... PORT=...`, never in git.
try:
    from ws2 import netup
except ImportError as e:
    print("boot: ws2 not importable (%s): make deploy PORT=..., or flash a firmware with ws2 frozen" % e)
else:
    netup.wifi()
    netup.catalog()
    del netup
