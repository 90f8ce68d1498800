# host_tests/tls_fixtures: real TLS peers on the host for the ssllsp tests, under a test CA made by trustme.
# MIT licence; part of ws2 for MicroPython.
#
# One session fixture, `tls_server`, starts every peer on free ports of the
# address the board reaches and returns what a device test needs as env:
#   tls_ca_pem          the test CA (PEM str); the device writes it to flash
#                       and points ws2.config(tls_ca_file=...) at it
#   tls_name            the name in the servers' certificates ("tls.ws2.test")
#   tls_https_port      HTTPS-style: reads a request up to a blank line and
#                       answers "HTTP/1.0 200 OK" with a body naming the path
#   tls_echo_port       echoes what it decrypts until the client closes
#   tls_untrusted_port  an echo server whose certificate comes from another CA
#   tls_starttls_port   plain text first ("220 ready"), switches to TLS after
#                       "STARTTLS\r\n" is answered with "220 go", then echoes
#   tls_client_port     the host as TLS *client* of the board: the board sends
#                       "CONNECT <port> <name>\n" on a plain TCP connection;
#                       the host connects with TLS to the board's address at
#                       <port>, verifies <name> against the CA, sends
#                       "ping from host\n", reads one line back and reports
#                       "OK <line>\n" or "ERR <reason>\n" on the plain link
#   tls_board_cert_pem, tls_board_key_pem, tls_board_name
#                       a certificate and key (PEM str) the CA issued for the
#                       board acting as server
# Every peer runs a thread per connection and swallows its own TLS errors:
# tests that make handshakes fail on purpose must not break the next test.
import socket
import ssl
import threading

import pytest
import trustme


NAME = "tls.ws2.test"
BOARD_NAME = "board.ws2.test"
IO_TIMEOUT = 30
_PEER_BUF = 64 * 1024  # bytes of socket buffer per direction of a peer's connection


class _Listener:
    """A TCP listener on host_ip whose connections are served by handler(conn) in threads."""

    def __init__(self, host_ip, handler):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Fixed buffers (accepted sockets inherit them): Linux grows a reading
        # socket's receive buffer up to tcp_rmem's maximum (tens of MB), so a
        # board that sends without reading would fill the path only after as
        # many bytes as the host's tuning allows; with these it fills within a
        # few MB whatever the host.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _PEER_BUF)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _PEER_BUF)
        self.sock.bind((host_ip, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # a peer that failed on purpose
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


def _read_until(s, marker, limit=65536):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _echo(s):
    while True:
        data = s.recv(16384)
        if not data:
            return
        s.sendall(data)


def _close_tls(s):
    try:
        s.unwrap()  # send close_notify so the board sees a clean end of stream
    except (OSError, ssl.SSLError, ValueError):
        pass


def https_body(path):
    """The body the HTTPS peer answers for path (the device test checks it)."""
    return ("hello from %s, you asked for %s\n" % (NAME, path)) * 40


class TlsPeers:
    """The test CA, the certificates and every TLS peer."""

    def __init__(self, host_ip):
        self.host_ip = host_ip
        self.ca = trustme.CA()
        self.other_ca = trustme.CA()
        self.server_cert = self.ca.issue_cert(NAME)
        self.untrusted_cert = self.other_ca.issue_cert(NAME)
        self.board_cert = self.ca.issue_cert(BOARD_NAME)
        self.good = self._server_ctx(self.server_cert)
        self.bad = self._server_ctx(self.untrusted_cert)
        self.listeners = {
            "https": _Listener(host_ip, self._https),
            "echo": _Listener(host_ip, self._tls_echo),
            "untrusted": _Listener(host_ip, self._untrusted),
            "starttls": _Listener(host_ip, self._starttls),
            "client": _Listener(host_ip, self._client),
        }

    @staticmethod
    def _server_ctx(cert):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        return ctx

    def _https(self, conn):
        s = self.good.wrap_socket(conn, server_side=True)
        req = _read_until(s, b"\r\n\r\n")
        line = req.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) < 2 or parts[0] != "GET":
            s.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        else:
            body = https_body(parts[1]).encode()
            s.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body))
            s.sendall(body)
        _close_tls(s)

    def _tls_echo(self, conn):
        s = self.good.wrap_socket(conn, server_side=True)
        _echo(s)
        _close_tls(s)

    def _untrusted(self, conn):
        s = self.bad.wrap_socket(conn, server_side=True)
        _echo(s)

    def _starttls(self, conn):
        conn.sendall(b"220 ready\r\n")
        cmd = _read_until(conn, b"\r\n")
        if cmd.strip() != b"STARTTLS":
            conn.sendall(b"500 say STARTTLS\r\n")
            return
        conn.sendall(b"220 go\r\n")
        s = self.good.wrap_socket(conn, server_side=True)
        _echo(s)
        _close_tls(s)

    def _client(self, conn):
        req = _read_until(conn, b"\n").decode().split()
        if len(req) != 3 or req[0] != "CONNECT":
            conn.sendall(b"ERR bad request\n")
            return
        port, name = int(req[1]), req[2]
        board_ip = conn.getpeername()[0]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(ctx)
        try:
            with socket.create_connection((board_ip, port), timeout=IO_TIMEOUT) as raw:
                with ctx.wrap_socket(raw, server_hostname=name) as s:
                    s.sendall(b"ping from host\n")
                    line = _read_until(s, b"\n").split(b"\n", 1)[0]
                    version = s.version()
            conn.sendall(b"OK " + line + b" " + version.encode() + b"\n")
        except (OSError, ssl.SSLError, ValueError) as e:
            conn.sendall(("ERR %s\n" % (e,)).replace("\n", " ").encode() + b"\n")

    def env(self):
        """The values merged into a device test's env."""
        return {
            "tls_ca_pem": self.ca.cert_pem.bytes().decode(),
            "tls_name": NAME,
            "tls_https_port": self.listeners["https"].port,
            "tls_echo_port": self.listeners["echo"].port,
            "tls_untrusted_port": self.listeners["untrusted"].port,
            "tls_starttls_port": self.listeners["starttls"].port,
            "tls_client_port": self.listeners["client"].port,
            "tls_board_name": BOARD_NAME,
            "tls_board_cert_pem": b"".join(p.bytes() for p in self.board_cert.cert_chain_pems).decode(),
            "tls_board_key_pem": self.board_cert.private_key_pem.bytes().decode(),
        }

    def close(self):
        for lst in self.listeners.values():
            lst.close()


@pytest.fixture(scope="session")
def tls_server(host_ip):
    """Every TLS peer of the ssllsp tests (see the module header); yields their env values."""
    peers = TlsPeers(host_ip)
    try:
        yield peers.env()
    finally:
        peers.close()
