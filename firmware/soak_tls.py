# firmware/soak_tls: `make soak` section 5: ssllsp against hostile TLS peers on the host.
# MIT licence; part of ws2 for MicroPython.
#
# The peers reuse host_tests/tls_fixtures.py (its listener and its test CA, the
# one the board trusts for the round); the certificates that must be refused
# come from the same CA through trustme (expired, not yet valid, wrong name),
# from another CA (rogue), from nobody (self-signed), or are signed by the CA
# with the wrong key usage (the `cryptography` package trustme is built on).
import datetime
import os
import socket
import ssl
import sys
import tempfile

from firmware import ROOT

# peer -> what it does; every one must be refused with a WSA error
PEERS = {
    "expired": "certificate expired a day ago",
    "not_yet_valid": "certificate valid from tomorrow",
    "wrong_name": "certificate for another name",
    "self_signed": "self-signed certificate",
    "rogue_ca": "certificate from a CA the board does not trust",
    "wrong_usage": "certificate for client authentication only (extended key usage), key usage: key agreement only",
    "garbage": "answers the ClientHello with 4 KB of random bytes",
    "close_mid": "closes the connection after reading the ClientHello",
    "renegotiate": "after the handshake, a plaintext HelloRequest record (renegotiation) instead of data",
}


def _ctx(cert_pem, key_pem):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    d = tempfile.mkdtemp(prefix="ws2-soak-tls-")
    cp, kp = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    with open(cp, "wb") as f:
        f.write(cert_pem)
    with open(kp, "wb") as f:
        f.write(key_pem)
    ctx.load_cert_chain(cp, kp)
    return ctx


def _custom(ca, name, self_signed=False, wrong_usage=False):
    """A leaf for name signed by ca (or by itself) with the key usage asked for: (cert PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(subject if self_signed else ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if wrong_usage:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    cert = b.sign(key if self_signed else ca_key, hashes.SHA256())
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class HostilePeers:
    """The good TLS echo (tls_fixtures.TlsPeers) plus one listener per hostile peer."""

    def __init__(self, host_ip, rng):
        from host_tests import tls_fixtures as fx

        self.fx = fx
        self.rng = rng
        self.good = fx.TlsPeers(host_ip)
        ca = self.good.ca
        day = datetime.timedelta(days=1)
        now = datetime.datetime.now(datetime.timezone.utc)
        certs = {
            "expired": ca.issue_cert(fx.NAME, not_before=now - 10 * day, not_after=now - day),
            "not_yet_valid": ca.issue_cert(fx.NAME, not_before=now + day, not_after=now + 10 * day),
            "wrong_name": ca.issue_cert("other.ws2.test"),
            "rogue_ca": self.good.untrusted_cert,
        }
        self.ctx = {k: fx.TlsPeers._server_ctx(c) for k, c in certs.items()}
        self.ctx["self_signed"] = _ctx(*_custom(ca, fx.NAME, self_signed=True))
        self.ctx["wrong_usage"] = _ctx(*_custom(ca, fx.NAME, wrong_usage=True))
        self.listeners = {}
        for k in PEERS:
            self.listeners[k] = fx._Listener(host_ip, (lambda conn, k=k: self._serve(k, conn)))

    def _serve(self, kind, conn):
        conn.settimeout(20)
        if kind in self.ctx:
            s = self.ctx[kind].wrap_socket(conn, server_side=True)
            self.fx._echo(s)
        elif kind == "garbage":
            conn.recv(4096)
            conn.sendall(bytes(self.rng.getrandbits(8) for _ in range(4096)))
            while conn.recv(4096):
                pass
        elif kind == "close_mid":
            conn.recv(4096)
            conn.close()
        elif kind == "renegotiate":
            raw = socket.socket(fileno=os.dup(conn.fileno()))  # wrap_socket takes conn over
            try:
                s = self.good.good.wrap_socket(conn, server_side=True)
                s.recv(64)  # the board's request
                # a handshake record (type 22), TLS 1.2, holding a HelloRequest (type 0, length 0), not encrypted
                raw.sendall(b"\x16\x03\x03\x00\x04\x00\x00\x00\x00")
                while raw.recv(4096):
                    pass
            finally:
                raw.close()

    def params(self):
        return {"tls_ca_pem": self.good.ca.cert_pem.bytes().decode(), "tls_name": self.fx.NAME,
                "tls_echo_port": self.good.listeners["echo"].port,
                "tls_peers": [(k, self.listeners[k].port) for k in PEERS]}

    def close(self):
        for lst in self.listeners.values():
            lst.close()
        self.good.close()


def run(r):
    """Section 5's rows."""
    from firmware.soak import new_row

    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    try:
        peers = HostilePeers(r.host_ip, r.rng)
    except Exception as e:
        return [new_row("tls.peers", "hostile TLS peers on the host", 0, 1, ["%s: %s" % (type(e).__name__, e)])]
    try:
        rows = r.script("tls", limit=30, **peers.params())
    finally:
        peers.close()
    for row in rows:
        if row["id"] == "tls.refused":
            row["notes"].insert(0, "peers: " + "; ".join("%s (%s)" % kv for kv in PEERS.items()))
    return rows
