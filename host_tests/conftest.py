# host_tests/conftest: registers the harness (host_tests/plugin.py) and the fixture modules.
# MIT licence; part of ws2 for MicroPython.
#
# plugin: options, board selection, markers, hooks, device test collection.
# host_fixtures: host peers, env, ws2_clean.  board_fixtures: device, board_info, lg_place.
# The others: the fixtures of one area each (DNS servers, TLS peers, HTTP server, emulated board).
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# A module another one imports comes first, so pytest registers it before that import.
pytest_plugins = [
    "host_tests.host_fixtures",
    "host_tests.emu_fixtures",
    "host_tests.plugin",
    "host_tests.board_fixtures",
    "host_tests.dns_fixtures",
    "host_tests.tls_fixtures",
    "host_tests.compat_fixtures",
]
