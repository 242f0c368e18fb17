"""A throwaway CA and a server certificate for 127.0.0.1, ::1 and localhost, made with the
openssl CLI (the project takes no `cryptography` dependency). Tests verify TLS for real: git
gets the CA through http.sslCAInfo, requests through verify=ca_file."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# The extensions strict verifiers (Python 3.13's VERIFY_X509_STRICT, newer curl) insist on.
CA_EXT = """basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
SERVER_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Certificates:
    ca_file: str      # give this to clients
    cert_file: str    # server certificate
    key_file: str     # server private key


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr}")


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.ext").write_text(CA_EXT)
    (folder / "server.ext").write_text(SERVER_EXT)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]  # fast keys
    _openssl("req", *ec, "-keyout", "ca.key", "-out", "ca.csr",
             "-subj", "/CN=bbtoken test CA", cwd=folder)
    _openssl("x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-days", "30",
             "-extfile", "ca.ext", "-out", "ca.pem", cwd=folder)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=folder)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "30", "-extfile", "server.ext",
             "-out", "server.pem", cwd=folder)
    return Certificates(str(folder / "ca.pem"), str(folder / "server.pem"),
                        str(folder / "server.key"))
