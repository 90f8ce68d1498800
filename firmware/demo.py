# firmware/demo: what `make run` does: board up, bundle deployed, the device demo against a host echo server.
# MIT licence; part of ws2 for MicroPython.
import os

from firmware import BOARD_SCRIPTS
from firmware.deploy import deploy
from firmware.device import Board
from firmware.peers import EchoServer
from firmware.vboard import open_board


def run(board="UNIX", port=None, host_ip=None, out=print):
    """Run the demo; return 0 when the echo came back intact."""
    host_ip = host_ip or "127.0.0.1"
    vb = None
    if port is None:
        vb = open_board(board)
        port = vb.start()
        out("virtual %s board started on %s" % (board, port))
    try:
        with EchoServer(host_ip) as echo:
            out("host TCP echo server on %s:%d" % (echo.host, echo.port))
            b = Board(port)
            try:
                deploy(b, board, log=out)
                with open(os.path.join(BOARD_SCRIPTS, "catalog_echo.py")) as f:
                    code = "HOST = %r\nPORT = %d\n" % (host_ip, echo.port) + f.read()
                text = b.exec(code, timeout=30)
            finally:
                b.close()
        out("")
        out(text.rstrip())
        return 0 if "echo round trip OK" in text else 1
    finally:
        if vb is not None:
            vb.stop()
            out("virtual board shut down")
