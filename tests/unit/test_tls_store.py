"""The OS trust store where it is OpenSSL's hashed folder: read one CA at a time as a handshake
needs it (nothing parsed up front), verifying exactly as the whole bundle would; a bundle
outside that folder is still loaded (SPEC 4: the OS store plus tls.ca_file)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="truststore verifies there")

PROBE = """
import json, socket, ssl, sys
from app.diagnosis import tls
ctx = tls._os_store_context()
plain = type(ctx) is ssl.SSLContext  # truststore's context does not count its store
out = {"plain": plain, "loaded_before": ctx.cert_store_stats()["x509"] if plain else None}
for name, port in (("ours", int(sys.argv[1])), ("stranger", int(sys.argv[2]))):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        ctx.wrap_socket(s, server_hostname="localhost").close()
        out[name] = "verified"
    except ssl.SSLCertVerificationError as exc:
        out[name] = f"refused {exc.verify_code}"
out["loaded_after"] = ctx.cert_store_stats()["x509"] if out["plain"] else None
print(json.dumps(out))
"""


def subject_hash(pem: Path) -> str:
    return subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(pem)], capture_output=True,
                          text=True, check=True).stdout.strip()


class Server:
    """A loopback TLS server that completes handshakes with `cert` until closed."""

    def __init__(self, cert: trustme.LeafCert) -> None:
        import socket

        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self.ctx)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                self.ctx.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def servers():
    ours, stranger = trustme.CA(), trustme.CA()
    made = [Server(ours.issue_cert("localhost")), Server(stranger.issue_cert("localhost"))]
    yield ours, stranger, made
    for server in made:
        server.close()


def hashed_folder(tmp_path: Path, ca: trustme.CA) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    pem = folder / "Our_Root.pem"
    ca.cert_pem.write_to_path(str(pem))
    (folder / f"{subject_hash(pem)}.0").symlink_to(pem.name)
    return folder


def probe(servers, **env_vars) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(env_vars, PYTHONPATH=str(ROOT))
    ports = [str(s.port) for s in servers[2]]
    out = subprocess.run([sys.executable, "-c", PROBE, *ports], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_hashed_folder_is_read_lazily_and_verifies_as_the_bundle_would(servers, tmp_path):
    folder = hashed_folder(tmp_path, servers[0])
    bundle = folder / "ca-certificates.crt"  # as update-ca-certificates writes it, inside
    bundle.write_bytes(servers[0].cert_pem.bytes())
    result = probe(servers, SSL_CERT_DIR=str(folder), SSL_CERT_FILE=str(bundle))
    assert result["plain"] and result["loaded_before"] == 0
    assert result["ours"] == "verified"
    assert result["stranger"] == "refused 20"  # unable to get local issuer certificate
    assert result["loaded_after"] == 1  # only the CA the handshake needed


def test_a_bundle_outside_the_folder_is_loaded_too(servers, tmp_path):
    folder = hashed_folder(tmp_path, servers[0])
    elsewhere = tmp_path / "corp-bundle.pem"
    elsewhere.write_bytes(servers[1].cert_pem.bytes())  # only in the bundle, not the folder
    result = probe(servers, SSL_CERT_DIR=str(folder), SSL_CERT_FILE=str(elsewhere))
    assert not result["plain"]  # truststore: the whole OS configuration, bundle and folder
    assert result["stranger"] == "verified"


def test_a_folder_without_hashed_names_is_not_relied_on(servers, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    servers[0].cert_pem.write_to_path(str(folder / "Our_Root.pem"))  # no <hash>.0 name
    bundle = folder / "bundle.pem"
    bundle.write_bytes(servers[0].cert_pem.bytes())
    result = probe(servers, SSL_CERT_DIR=str(folder), SSL_CERT_FILE=str(bundle))
    assert not result["plain"]
    assert result["ours"] == "verified"
