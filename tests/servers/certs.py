"""Test certificates from trustme: a trusted CA with good, expired, soon-expiring and wrong-host
leaves, and a second CA nobody trusts. Use the `certs` fixture (session-wide, written to a temp dir).

    from tests.servers.certs import certs  # noqa: F401  (makes the fixture available)

    def test_x(certs, make_config):
        cfg = make_config(f'[tls]\\nca_file = "{certs.ca_pem}"')
        ctx = certs.server_context("good")        # ssl server context for a loopback server
        cert, key = certs.files("expired")        # PEM paths, e.g. for Dovecot
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

# every leaf names all the ways a test reaches a loopback server
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

KINDS = ("good", "expired", "expiring", "wrong_host", "untrusted", "not_yet_valid")


@dataclass
class CertSet:
    """Certificates written under `directory`; `ca_pem` is the trusted CA to put in tls.ca_file."""

    directory: Path
    ca: trustme.CA
    other_ca: trustme.CA
    leaves: dict[str, trustme.LeafCert] = field(default_factory=dict)

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def other_ca_pem(self) -> Path:
        return self.directory / "other-ca.pem"

    def files(self, kind: str = "good") -> tuple[Path, Path]:
        """(certificate chain PEM, private key PEM) of a leaf kind."""
        return self.directory / f"{kind}.crt", self.directory / f"{kind}.key"

    def server_context(self, kind: str = "good") -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert, key = self.files(kind)
        ctx.load_cert_chain(cert, key)
        return ctx


def make_certs(directory: Path) -> CertSet:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca = trustme.CA(organization_name="MailBeacon Test CA")
    other = trustme.CA(organization_name="Unknown Test CA")
    leaves = {
        "good": ca.issue_cert(*LOOPBACK_NAMES, common_name="localhost"),
        "expired": ca.issue_cert(
            *LOOPBACK_NAMES,
            common_name="localhost",
            not_before=now - dt.timedelta(days=400),
            not_after=now - dt.timedelta(days=3),
        ),
        "expiring": ca.issue_cert(
            *LOOPBACK_NAMES,
            common_name="localhost",
            not_before=now - dt.timedelta(days=80),
            not_after=now + dt.timedelta(days=5, hours=12),
        ),
        "not_yet_valid": ca.issue_cert(
            *LOOPBACK_NAMES,
            common_name="localhost",
            not_before=now + dt.timedelta(days=2),
            not_after=now + dt.timedelta(days=300),
        ),
        "wrong_host": ca.issue_cert("mail.other.example", common_name="mail.other.example"),
        "untrusted": other.issue_cert(*LOOPBACK_NAMES, common_name="localhost"),
    }
    certs = CertSet(directory, ca, other, leaves)
    ca.cert_pem.write_to_path(str(certs.ca_pem))
    other.cert_pem.write_to_path(str(certs.other_ca_pem))
    for kind, leaf in leaves.items():
        cert, key = certs.files(kind)
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
    return certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> CertSet:
    return make_certs(tmp_path_factory.mktemp("certs"))
