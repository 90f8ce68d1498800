# host_tests/compat_fixtures: HTTP and HTTPS servers on the host for the ws2.compat client tests.
# MIT licence; part of ws2 for MicroPython.
#
# One session fixture, `http_server`, serves on the address the board reaches:
#   http_port     plain HTTP/1.0 and 1.1:
#                   GET /hello            "hello from ws2 http\n" * 20
#                   POST /echo            the request body back
#                   GET /chunked          a chunked response (three chunks)
#                   GET /redirect         302 to /hello
#                   GET /peer             the client's (ip, port) as the server saw it
#                   /package/py/ws2demo/latest.json and /file/..  a mip index with one package
#   https_port    the same over TLS, with the certificate the test CA (tls_fixtures) issued for
#                 tls_board_name (the board resolves that name through ws2.config(hosts=...))
#   mip_value     what the mip package's module holds
#   clients_port  the host as two clients of a board server at once: the board sends
#                 "CLIENTS <port> <tls 0|1>\n"; the host connects twice to the board's address at
#                 <port> (TLS: verifying tls_board_name against the test CA), sends "ping 1\n" and
#                 "ping 2\n" with both connections open, reads a line from each and reports
#                 "OK <line 1>|<line 2>\n" or "ERR <reason>\n"
import hashlib
import http.server
import json
import socket
import ssl
import tempfile
import threading

import pytest

from host_tests.tls_fixtures import _Listener, _read_until


HELLO = b"hello from ws2 http\n" * 20
MIP_SOURCE = b"VALUE = 4242\n"
MIP_HASH = hashlib.sha256(MIP_SOURCE).hexdigest()[:8]
CHUNKS = (b"first chunk, ", b"second chunk, " * 30, b"last\n")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p == "/hello":
            self._send(200, HELLO)
        elif p == "/redirect":
            scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
            host = self.headers["Host"].split(":")[0]  # requests names no port there
            where = "%s://%s:%d/hello" % (scheme, host, self.server.server_address[1])
            self._send(302, b"", extra=(("Location", where),))
        elif p == "/peer":
            self._send(200, ("%s %d" % self.client_address[:2]).encode())
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for c in CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/package/py/ws2demo/latest.json":
            doc = {"hashes": [["ws2demo.py", MIP_HASH]], "version": "1.0"}
            self._send(200, json.dumps(doc).encode(), "application/json")
        elif p == "/file/%s/%s" % (MIP_HASH[:2], MIP_HASH):
            self._send(200, MIP_SOURCE)
        else:
            self._send(404, b"not found\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self._send(200 if self.path == "/echo" else 404, body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _start(host_ip, ctx=None):
    srv = _Server((host_ip, 0), _Handler)
    if ctx is not None:
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _clients(ca_pem, name):
    # The "CLIENTS" peer (see the module header).
    def serve(conn):
        req = _read_until(conn, b"\n").decode().split()
        if len(req) != 3 or req[0] != "CLIENTS":
            conn.sendall(b"ERR bad request\n")
            return
        port, tls = int(req[1]), req[2] == "1"
        board_ip = conn.getpeername()[0]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=ca_pem)
        socks = []
        try:
            for i in (1, 2):
                s = socket.create_connection((board_ip, port), timeout=30)
                socks.append(ctx.wrap_socket(s, server_hostname=name) if tls else s)
            for i, s in enumerate(socks):
                s.sendall(b"ping %d\n" % (i + 1))
            lines = [_read_until(s, b"\n").split(b"\n", 1)[0] for s in socks]
            conn.sendall(b"OK " + b"|".join(lines) + b"\n")
        except (OSError, ssl.SSLError, ValueError) as e:
            conn.sendall(("ERR %s" % (e,)).replace("\n", " ").encode() + b"\n")
        finally:
            for s in socks:
                s.close()

    return serve


@pytest.fixture(scope="session")
def http_server(host_ip, tls_server):
    """Plain and TLS HTTP servers for the ws2.compat client tests; yields their env values."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as c, tempfile.NamedTemporaryFile("w", suffix=".pem") as k:
        c.write(tls_server["tls_board_cert_pem"])
        k.write(tls_server["tls_board_key_pem"])
        c.flush()
        k.flush()
        ctx.load_cert_chain(c.name, k.name)
    plain = _start(host_ip)
    secure = _start(host_ip, ctx)
    clients = _Listener(host_ip, _clients(tls_server["tls_ca_pem"], tls_server["tls_board_name"]))
    try:
        yield {"http_port": plain.server_address[1], "https_port": secure.server_address[1],
               "clients_port": clients.port,
               "mip_value": 4242, "http_hello": HELLO.decode(), "http_chunked": b"".join(CHUNKS).decode()}
    finally:
        clients.close()
        for s in (plain, secure):
            s.shutdown()
            s.server_close()
