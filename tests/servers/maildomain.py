"""A whole mail domain on loopback, as a new user's address would find it, built on MailWorld:
its dnslib DNS server, autoconfig.<domain> on HTTPS port 443 (a random 127.x.y.z, trustme certificate) serving a
Thunderbird clientConfig document shaped like the ISPDB's, and a real SMTP server (aiosmtpd,
STARTTLS with a certificate for smtp.<domain>). The IMAP server it names (imap=True) listens
nowhere unless the test gives a port, so a check can show one green and one red server.

    with MailDomain(certs, "corp.test") as world:
        config = make_config(world.config_text())     # or env=world.env() for a tray process
"""

from __future__ import annotations

import ssl

from tests.servers.certs import CertSet
from tests.servers.mailworld import MailWorld
from tests.servers.smtp import SMTPServer, free_port

CLIENT_CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>{domain} mail</displayName>
    <displayShortName>{domain}</displayShortName>
{incoming}    <outgoingServer type="smtp">
      <hostname>smtp.%EMAILDOMAIN%</hostname>
      <port>{smtp_port}</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    <documentation url="https://{domain}/help/mail">
      <descr lang="en">Mail settings</descr>
    </documentation>
  </emailProvider>
  <webMail>
    <loginPage url="https://webmail.{domain}/" />
  </webMail>
</clientConfig>
"""


INCOMING = """    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>{imap_port}</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
"""


class MailDomain:
    """DNS + autoconfig + SMTP for `domain`; any other name answers NXDOMAIN."""

    def __init__(self, certs: CertSet, domain: str = "corp.test", *, imap: bool = True,
                 imap_port: int | None = None) -> None:
        self.certs = certs
        self.imap = imap
        self.domain = domain
        self.imap_port = imap_port or free_port()  # nobody listens there: the IMAP row is red
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certs.ca.issue_cert(f"smtp.{domain}").configure_cert(context)
        self.smtp = SMTPServer("starttls", context)
        self.world: MailWorld | None = None

    def start(self) -> MailDomain:
        self.smtp.__enter__()
        self.world = MailWorld(self.certs)
        self.dns = self.world.dns
        web = self.world.host(f"autoconfig.{self.domain}", http=False)
        self.dns.add(f"smtp.{self.domain}", "127.0.0.1")
        self.dns.add(f"imap.{self.domain}", "127.0.0.1")
        web.https.route(
            "/mail/config-v1.1.xml",
            status=200,
            body=CLIENT_CONFIG.format(
                domain=self.domain,
                smtp_port=self.smtp.port,
                incoming=INCOMING.format(imap_port=self.imap_port) if self.imap else "",
            ),
            headers={"Content-Type": "text/xml"},
        )
        return self

    def stop(self) -> None:
        if self.world is not None:
            self.world.stop()
        self.smtp.__exit__()

    def __enter__(self) -> MailDomain:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"jane@{self.domain}"

    def config_text(self, timeout_s: float = 3) -> str:
        """TOML with this world's resolver and CA, no internet probe, and no endpoints."""
        assert self.world is not None, "not started"
        return self.world.config_text('[network]\ninternet_url = ""\n', timeout_s)

    def env(self, timeout_s: float = 3) -> dict[str, str]:
        """The same settings as MAILBEACON_* variables, for a tray process with an empty home."""
        return {
            "MAILBEACON_DNS_NAMESERVERS": self.dns.nameserver,
            "MAILBEACON_TLS_CA_FILE": str(self.certs.ca_pem),
            "MAILBEACON_NETWORK_INTERNET_URL": "",
            "MAILBEACON_CHECK_TIMEOUT_S": str(timeout_s),
        }


def named_cert(certs: CertSet, name: str) -> str:
    """A leaf kind of `certs` for one more host name (e.g. Dovecot as imap.<domain>), written
    next to the others so `certs.files(kind)` and `run_dovecot(..., cert_kind)` find it."""
    kind = f"host-{name}"
    cert, key = certs.files(kind)
    if not cert.exists():
        leaf = certs.ca.issue_cert(name)
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
    return kind
