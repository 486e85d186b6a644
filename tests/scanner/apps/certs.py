"""Test certificates made with the openssl command line: a CA, a valid leaf, an expired leaf, a self-signed leaf."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

_CA_CONFIG = """[ca]
default_ca = test_ca
[test_ca]
dir = .
database = ./index.txt
new_certs_dir = .
serial = ./serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""
_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
_SAN = "subjectAltName=IP:127.0.0.1,DNS:localhost"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    valid: tuple[Path, Path]  # (certificate, key) signed by the CA, valid for a year
    expiring: tuple[Path, Path]  # signed by the CA, expires in two days
    expired: tuple[Path, Path]  # signed by the CA, expired in 2020
    self_signed: tuple[Path, Path]

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only the test CA."""
        return ssl.create_default_context(cafile=str(self.ca))


def server_context(pair: tuple[Path, Path]) -> ssl.SSLContext:
    """A server-side TLS context for ``(certificate, key)``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pair[0]), str(pair[1]))
    return context


def make_certificates(folder: Path) -> Certificates:
    """Generate the CA and leaves in ``folder`` (about a second of openssl work)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    (folder / "ca.cnf").write_text(_CA_CONFIG)
    (folder / "index.txt").write_text("")
    (folder / "serial").write_text("01\n")
    openssl("req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=Spyglass Test CA")

    def leaf(name: str, *dates: str) -> tuple[Path, Path]:
        openssl("req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost", "-addext", _SAN)
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", f"{name}.csr",
                "-out", f"{name}.pem", *dates)  # fmt: skip
        return folder / f"{name}.pem", folder / f"{name}.key"

    valid = leaf("valid", "-days", "365")
    expiring = leaf("expiring", "-days", "2")
    expired = leaf("expired", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")
    openssl("req", "-x509", *_EC, "-keyout", "self.key", "-out", "self.pem", "-days", "30", "-subj", "/CN=localhost",
            "-addext", _SAN)  # fmt: skip
    return Certificates(folder / "ca.pem", valid, expiring, expired, (folder / "self.pem", folder / "self.key"))
