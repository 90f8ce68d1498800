# boot.py for the virtual UNIX board: no Wi-Fi to bring up; report the catalog state.
# MIT licence; part of ws2 for MicroPython.
try:
    from ws2 import catalog

    catalog.ensure()
except ImportError:
    pass  # ws2 not deployed yet
