# firmware/peers: the host-side servers a board talks to, for the demo, the tests' fixtures, `make soak` and
# `make bench`: TCP and UDP echo (in threads, or in a process of their own for the bench), peer view,
# bulk sink and source, connect-and-close listener, TLS echo.
# MIT licence; part of ws2 for MicroPython.
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

from firmware import ROOT
from firmware.ptyboard import die_with_parent

TLS_NAME = "tls.ws2.test"
DNS_NAME = "a.ws2.test"


class _TcpEchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.connections += 1
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.server.received += len(data)
            self.request.sendall(data)


class _UdpEchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        self.server.received += len(data)
        sock.sendto(data, self.client_address)


class _TcpViewHandler(socketserver.BaseRequestHandler):
    # Tells the client the address it connects from, as this end sees it: "ip port\n".
    def handle(self):
        self.server.connections += 1
        self.request.sendall(("%s %d\n" % self.client_address[:2]).encode())
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass


class _UdpViewHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request[1]
        sock.sendto(("%s %d\n" % self.client_address[:2]).encode(), self.client_address)


class _ThreadingTCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class EchoServer:
    """A TCP or UDP echo server on host_ip, on a free port, in background threads.

    view=True: instead of echoing, answer each connection (datagram) with the client's address as
    this end sees it, "ip port\n" (what the board's getsockname must say)."""

    def __init__(self, host_ip="127.0.0.1", udp=False, view=False):
        if udp:
            self.server = socketserver.ThreadingUDPServer((host_ip, 0), _UdpViewHandler if view else _UdpEchoHandler)
        else:
            self.server = _ThreadingTCP((host_ip, 0), _TcpViewHandler if view else _TcpEchoHandler)
        self.server.connections = 0
        self.server.received = 0
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def received(self):
        """Bytes received so far."""
        return self.server.received

    def start(self):
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


# -- the bench's peers: each in a process of its own, pinned apart from the board -------------------

class Listener:
    """A TCP listener on host_ip: handler(conn) in a thread per connection, or accept-and-close when None.

    timeout: each connection's socket timeout (None: blocking); nodelay: TCP_NODELAY on each connection.
    A handler's OSError, ssl.SSLError or ValueError ends its connection quietly (peers that fail on purpose)."""

    def __init__(self, host_ip, handler=None, timeout=None, nodelay=True):
        self.timeout = timeout
        self.nodelay = nodelay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host_ip, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.handler is None:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(self.timeout)
            if self.nodelay:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.handler(conn)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


_ZEROS = memoryview(bytes(1 << 16))


def sink_source(conn):
    """The bulk peer: header (op, 32-bit length); S: swallow length bytes, answer K; R: send length bytes;
    D: swallow until the board closes."""
    buf = bytearray(1 << 18)
    while True:
        hdr = _recv_exact(conn, 5)
        if hdr is None:
            return
        op, n = hdr[0], int.from_bytes(hdr[1:], "big")
        if op == ord("S"):
            while n > 0:
                k = conn.recv_into(buf, min(n, len(buf)))
                if not k:
                    return
                n -= k
            conn.sendall(b"K")
        elif op == ord("R"):
            while n > 0:
                k = min(n, len(_ZEROS))
                conn.sendall(_ZEROS[:k])
                n -= k
        elif op == ord("D"):
            while conn.recv_into(buf):
                pass
            return
        else:
            return


class _TlsEcho:
    """A TLS echo server under a fresh test CA (trustme): port, name, ca_pem, ca_der."""

    def __init__(self, host_ip):
        import trustme

        ca = trustme.CA()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(TLS_NAME).configure_cert(ctx)
        self.ctx = ctx
        self.ca_pem = ca.cert_pem.bytes().decode()
        self.ca_der = ssl.PEM_cert_to_DER_cert(self.ca_pem)
        self.listener = Listener(host_ip, self._serve)
        self.port = self.listener.port

    def _serve(self, conn):
        conn.settimeout(60)
        s = self.ctx.wrap_socket(conn, server_side=True)
        while True:
            data = s.recv(65536)
            if not data:
                return
            s.sendall(data)

    def close(self):
        self.listener.close()


def echo_main(host_ip):
    """The TCP echo peer (TCP_NODELAY), the connect+close listener, the UDP echo and the UDP sink, run in a
    process of their own: prints their four ports, then serves until the bench is gone.

    Its own process, so no thread of the bench (GIL) delays an answer or an
    accept, and pinned with the other peers: unpinned, where the scheduler
    puts the peer and the board decides the round trip more than the router
    does. It always sleeps until data comes: if it answered faster than the
    board can get into its blocking recv, the side that does more work
    between send and recv (ws2) would skip the recv's wake-up and look faster
    than raw.
    """
    import select

    parent = os.getppid()
    lsocks = []
    for _ in range(2):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host_ip, 0))
        ls.listen(128)
        lsocks.append(ls)
    echo_l, closer = lsocks
    udp = []
    for _ in range(2):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        u.bind((host_ip, 0))
        udp.append(u)
    udp_echo, udp_sink = udp
    print(echo_l.getsockname()[1], closer.getsockname()[1], udp_echo.getsockname()[1], udp_sink.getsockname()[1],
          flush=True)
    conns = []
    buf = bytearray(1 << 16)
    mv = memoryview(buf)
    while os.getppid() == parent:
        ready, _, _ = select.select(lsocks + udp + conns, [], [], 0.5)
        for s in ready:
            if s is udp_echo or s is udp_sink:
                try:
                    n, addr = s.recvfrom_into(buf)
                    if s is udp_echo:
                        s.sendto(mv[:n], addr)
                except OSError:
                    pass
                continue
            if s is closer:
                s.accept()[0].close()
                continue
            if s is echo_l:
                c, _ = s.accept()
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns.append(c)
                continue
            try:
                n = s.recv_into(buf)
                if n:
                    s.sendall(mv[:n])
            except OSError:
                n = 0
            if not n:
                conns.remove(s)
                s.close()


def sink_main(host_ip):
    """The bulk peer (sink_source), in a process of its own: prints its port, serves until the bench is gone."""
    lst = Listener(host_ip, sink_source)
    print(lst.port, flush=True)
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)


class _PeerProcess:
    """firmware.peers.<main>(host_ip) in a child process that dies with this one: .ports, .stop()."""

    def __init__(self, main, host_ip, cpus=None):
        import subprocess

        code = "import sys; from firmware.peers import %s; %s(sys.argv[1])" % (main, main)
        self.proc = subprocess.Popen([sys.executable, "-c", code, host_ip], cwd=ROOT, stdout=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        words = self.proc.stdout.readline().split()
        if not words or not all(w.isdigit() for w in words):
            self.stop()
            raise OSError("the %s peer did not start" % main)
        self.ports = [int(w) for w in words]
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, cpus)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class BenchPeers:
    """Every host peer of `make bench`; optional ones (DNS, TLS) record why they are missing."""

    def __init__(self, host_ip, cpus=None):
        self.host_ip = host_ip
        self.closing = []
        echo = _PeerProcess("echo_main", host_ip, cpus)  # TCP echo with TCP_NODELAY, and the listener
        self.closing.append(echo.stop)
        self.echo_port, self.listener_port, self.udp_echo_port, self.udp_sink_port = echo.ports
        sink = _PeerProcess("sink_main", host_ip, cpus)  # bulk sink and source
        self.closing.append(sink.stop)
        self.sink_port = sink.ports[0]
        self.dns = self.dns_missing = None
        try:
            if ROOT not in sys.path:
                sys.path.insert(0, ROOT)
            from host_tests.dns_fixtures import Server

            bind = host_ip if host_ip in ("127.0.0.1", "localhost") else "0.0.0.0"
            self.dns = Server("ok", bind)
            self.closing.append(self.dns.stop)
        except Exception as e:
            self.dns_missing = "no DNS test server (host_tests/dns_fixtures.py: %s: %s)" % (type(e).__name__, e)
        self.tls = self.tls_missing = None
        try:
            self.tls = _TlsEcho(host_ip)
            self.closing.append(self.tls.close)
        except Exception as e:
            self.tls_missing = "no TLS test server (%s: %s)" % (type(e).__name__, e)

    def params(self):
        """What the device scripts need to reach the peers."""
        p = {"host": self.host_ip, "echo": self.echo_port, "sink": self.sink_port, "listener": self.listener_port,
             "udp_echo": self.udp_echo_port, "udp_sink": self.udp_sink_port,
             "dns": [self.host_ip, self.dns.port] if self.dns else None, "dns_missing": self.dns_missing,
             "dns_name": DNS_NAME, "tls": None, "tls_missing": self.tls_missing}
        if self.tls:
            p["tls"] = {"port": self.tls.port, "name": TLS_NAME, "ca_pem": self.tls.ca_pem, "ca_der": self.tls.ca_der}
        return p

    def close(self):
        for c in reversed(self.closing):
            try:
                c()
            except Exception:
                pass
