"""The OS trust store where it is OpenSSL's hashed folder: read one CA at a time as a handshake
needs it (nothing parsed up front), verifying exactly as the whole bundle would; a bundle
outside that folder is still loaded (SPEC 4: the OS store plus tls.ca_file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.http import HttpServer

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


@pytest.fixture
def servers(certs):  # noqa: F811
    """Two loopback TLS servers: one with the test CA's certificate, one with a stranger's."""
    with HttpServer(tls=certs.server_context("good")) as ours, \
            HttpServer(tls=certs.server_context("untrusted")) as stranger:
        yield ours, stranger


def hashed_folder(tmp_path: Path, ca_pem: Path) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    pem = folder / "Our_Root.pem"
    pem.write_bytes(ca_pem.read_bytes())
    (folder / f"{subject_hash(pem)}.0").symlink_to(pem.name)
    return folder


def probe(servers, **env_vars) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(env_vars, PYTHONPATH=str(ROOT))
    ports = [str(s.port) for s in servers]
    out = subprocess.run([sys.executable, "-c", PROBE, *ports], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_hashed_folder_is_read_lazily_and_verifies_as_the_bundle_would(servers, certs, tmp_path):  # noqa: F811
    folder = hashed_folder(tmp_path, certs.ca_pem)
    bundle = folder / "ca-certificates.crt"  # as update-ca-certificates writes it, inside
    bundle.write_bytes(certs.ca_pem.read_bytes())
    result = probe(servers, SSL_CERT_DIR=str(folder), SSL_CERT_FILE=str(bundle))
    assert result["plain"] and result["loaded_before"] == 0
    assert result["ours"] == "verified"
    assert result["stranger"] == "refused 20"  # unable to get local issuer certificate
    assert result["loaded_after"] == 1  # only the CA the handshake needed


def test_a_bundle_outside_the_folder_is_loaded_too(servers, certs, tmp_path):  # noqa: F811
    folder = hashed_folder(tmp_path, certs.ca_pem)
    elsewhere = tmp_path / "corp-bundle.pem"
    elsewhere.write_bytes(certs.other_ca_pem.read_bytes())  # only in the bundle, not the folder
    result = probe(servers, SSL_CERT_DIR=str(folder), SSL_CERT_FILE=str(elsewhere))
    assert not result["plain"]  # truststore: the whole OS configuration, bundle and folder
    assert result["stranger"] == "verified"


def test_a_folder_without_hashed_names_is_not_relied_on(servers, certs, tmp_path):  # noqa: F811
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "Our_Root.pem").write_bytes(certs.ca_pem.read_bytes())  # no <hash>.0 name
    bundle = folder / "bundle.pem"
    bundle.write_bytes(certs.ca_pem.read_bytes())
    result = probe(servers, SSL_CERT_DIR=str(folder), SSL_CERT_FILE=str(bundle))
    assert not result["plain"]
    assert result["ours"] == "verified"
