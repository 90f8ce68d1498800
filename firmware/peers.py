# firmware/peers: host-side servers the board talks to (TCP and UDP echo, peer view).
# MIT licence; part of ws2 for MicroPython.
import socket
import socketserver
import threading


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
