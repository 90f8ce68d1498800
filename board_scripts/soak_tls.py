# Soak, section 5: ssllsp against hostile TLS peers. MIT licence; part of ws2 for MicroPython.
# Runs after soak_lib.py.
#
# Each round connects to every hostile peer (P["tls_peers"]) with TLS over the
# default catalog's ssllsp chain, verifying against the test CA: the connect
# (or, after the handshake, the first receive) must end in a WSAError; then the
# handle table must be empty and a good TLS echo must work.
import os

try:
    os.mkdir("/certs")
    CA = "/certs/soak_ca.pem"
except OSError:
    CA = "/certs/soak_ca.pem"
if sys.implementation.name != "micropython":
    from ws2 import board

    os.makedirs(board.root(), exist_ok=True)
    CA = board.root() + "/soak_ca.pem"
with open(CA, "w") as f:
    f.write(P["tls_ca_pem"])
OLD = ws2.config()["tls_ca_file"]
ws2.config(tls_ca_file=CA)
ws2.WSAStartup(0x0202)


def chain_info():
    for p in ws2.WSCEnumProtocols():
        if p.security_scheme == ws2.SECURITY_PROTOCOL_SSL and len(p.protocol_chain) > 1 and p.address_family == 2:
            return p
    raise ws2.WSAError(ws2.WSAEPROTONOSUPPORT, "no ssllsp chain in the catalog")


INFO = chain_info()


def tls(port):
    s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, INFO)
    try:
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_SECURE, ws2.SO_SEC_SSL)
        ws2.WSAIoctl(s, ws2.SO_SSL_SET_PEERNAME, P["tls_name"])
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 10000)
        ws2.connect(s, (HOST, port))
    except BaseException:
        ws2.closesocket(s)
        raise
    return s


def good_echo():
    s = tls(P["tls_echo_port"])
    try:
        ws2.send(s, b"good after bad")
        return recv_exact(s, 14) == b"good after bad"
    finally:
        ws2.closesocket(s)


refused = Tally("tls.refused", "connections to hostile TLS peers refused with a WSA error")
leaks = Tally("tls.leaks", "handle table empty after each refused connection")
after = Tally("tls.after", "a good TLS echo right after each hostile peer")
codes = {}
for rnd in range(P["tls_rounds"]):
    for kind, port in P["tls_peers"]:
        s = None
        try:
            s = tls(port)
            ws2.send(s, b"hello")
            got = ws2.recv(s, 64)
            refused.fail("accepted", "%s: the connection worked (%r)" % (kind, got[:20]))
        except KeyboardInterrupt:
            refused.fail("timeout", kind)
        except ws2.WSAError as e:
            from ws2.errors import errname

            name = errname(e.args[0]) or str(e.args[0])
            codes[kind] = name
            refused.ok()
        except Exception as e:
            refused.fail("not a WSAError", "%s: %s" % (kind, why(e)))
        if s is not None:
            try:
                ws2.closesocket(s)
            except Exception as e:
                leaks.fail("closesocket failed", "%s: %s" % (kind, why(e)))
        left = open_handles()
        if left:
            leaks.fail("handle left", "%s: %r" % (kind, left))
            for h in left:
                ws2.closesocket(h)
        else:
            leaks.ok()
        try:
            if good_echo():
                after.ok()
            else:
                after.fail("echo differs", kind)
        except Exception as e:
            after.fail("good connection failed", "%s: %s" % (kind, why(e)))
        beat()
refused.emit(["codes: " + ", ".join("%s %s" % (k, codes[k]) for k in sorted(codes))])
leaks.emit()
after.emit()
stop_all()
ws2.config(tls_ca_file=OLD)
