"""A local RFC 3161 time-stamping authority for tests, built from the ``openssl`` command line.

The certificates are generated once per test run (EC P-256 keys, so it takes a fraction of a
second): a test root CA, an intermediate CA under it, and two authority certificates under the
intermediate (so two authorities can run at once and one CA file trusts both). A second,
unrelated root signs a "rogue" authority certificate for the unknown-CA case.

``LocalTSA`` serves HTTP on 127.0.0.1 (a free port) in a background thread, so it works the
same from synchronous and asynchronous tests, and answers each timestamp query by running
``openssl ts -reply``. Its ``mode`` switches behaviour per test::

    tsa.mode = "good"          # a valid token for the query
    tsa.mode = "wrong_digest"  # a valid token for a different digest (same nonce)
    tsa.mode = "unknown_ca"    # a token signed by an authority under a root nobody trusts
    tsa.mode = "down"          # HTTP ``tsa.down_status`` (503), no token
    tsa.mode = "garbage"       # HTTP 200 with a body that is not a TimeStampResp

``tsa.certificate_order`` ("openssl", "ascending", "descending") reorders the certificates
embedded in tokens. ``unused_url()`` gives a URL where nothing listens (connection
refused). The ``tsa`` fixture (tests/conftest.py) yields a running authority;
``tsa.another()`` starts a second one, stopped with the first. ``tsa.ca_file`` is the PEM
file a client should trust (TSA_CA_FILE).
"""

from __future__ import annotations

import atexit
import functools
import http.server
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

Mode = Literal["good", "wrong_digest", "unknown_ca", "down", "garbage"]

# The policy our local authority claims; an arbitrary OID under the "example" arc.
POLICY_OID = "1.3.6.1.4.1.55555.1.1"

_OPENSSL_CONFIG = """\
[ req ]
distinguished_name = dn
prompt = no

[ dn ]
CN = unused

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str | Path) -> None:
    """Runs one openssl command; its error output becomes the test failure if it fails."""
    result = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        ["openssl", *map(str, args)],  # noqa: S607 - openssl from PATH, as users run it
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace')}")


@dataclass(frozen=True)
class Signer:
    """One authority's signing material: key, certificate, and the CA certificates above it."""

    key: Path
    cert: Path
    chain: Path | None  # intermediates to embed in tokens (openssl ts -reply -chain)


@dataclass(frozen=True)
class AuthorityPKI:
    """The certificates of a test run. ``ca_file`` holds the trusted root only."""

    directory: Path
    ca_file: Path  # the root an honest client trusts (TSA_CA_FILE)
    intermediate: Path
    signers: tuple[Signer, ...]  # honest authorities: root -> intermediate -> signer
    rogue: Signer  # an authority under an unrelated root
    rogue_ca_file: Path

    def signer(self, index: int) -> Signer:
        return self.signers[index % len(self.signers)]


def _key(path: Path) -> Path:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def _root(directory: Path, name: str, config: Path) -> tuple[Path, Path]:
    slug = name.lower().replace(" ", "-")
    key = _key(directory / f"{slug}.key")
    cert = directory / f"{slug}.pem"
    _openssl(
        "req", "-new", "-x509", "-config", config, "-extensions", "v3_root", "-key", key,
        "-subj", f"/O=tipbot tests/CN={name}", "-days", "3650", "-sha256", "-out", cert,
    )  # fmt: skip
    return key, cert


def _issue(
    directory: Path, name: str, config: Path, extensions: str, ca_key: Path, ca_cert: Path
) -> tuple[Path, Path]:
    slug = name.lower().replace(" ", "-")
    key = _key(directory / f"{slug}.key")
    request = directory / f"{slug}.csr"
    cert = directory / f"{slug}.pem"
    _openssl(
        "req", "-new", "-config", config, "-key", key, "-subj", f"/O=tipbot tests/CN={name}",
        "-out", request,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-extfile", config, "-extensions", extensions, "-days", "3650", "-sha256", "-out", cert,
    )  # fmt: skip
    return key, cert


def make_pki(directory: Path) -> AuthorityPKI:
    """Generates a root, an intermediate, two authority certificates and a rogue authority."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "openssl.cnf"
    config.write_text(_OPENSSL_CONFIG)
    root_key, root_cert = _root(directory, "Test Root CA", config)
    mid_key, mid_cert = _issue(
        directory, "Test TSA Intermediate", config, "v3_intermediate", root_key, root_cert
    )
    signers = []
    for number in (1, 2):
        key, cert = _issue(directory, f"Test TSA {number}", config, "v3_tsa", mid_key, mid_cert)
        signers.append(Signer(key=key, cert=cert, chain=mid_cert))
    rogue_root_key, rogue_root = _root(directory, "Unknown Root CA", config)
    rogue_key, rogue_cert = _issue(
        directory, "Rogue TSA", config, "v3_tsa", rogue_root_key, rogue_root
    )
    return AuthorityPKI(
        directory=directory,
        ca_file=root_cert,
        intermediate=mid_cert,
        signers=tuple(signers),
        rogue=Signer(key=rogue_key, cert=rogue_cert, chain=None),
        rogue_ca_file=rogue_root,
    )


@functools.cache
def shared_pki() -> AuthorityPKI:
    """The PKI of this test run, generated on first use and removed when the process exits."""
    directory = Path(tempfile.mkdtemp(prefix="tipbot-tsa-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_pki(directory)


def unused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"


def _element(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at ``at`` (definite lengths only)."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    width = first & 0x7F
    start = at + 2 + width
    return tag, start, start + int.from_bytes(der[at + 2 : start], "big")


def _imprint_span(query: bytes) -> tuple[int, int]:
    """Where the hashed message sits in a DER TimeStampReq: (start, end)."""
    _, at, _ = _element(query, 0)  # TimeStampReq
    _, _, at = _element(query, at)  # version
    _, at, _ = _element(query, at)  # MessageImprint
    _, _, at = _element(query, at)  # hashAlgorithm
    _, start, end = _element(query, at)  # hashedMessage
    return start, end


def reorder_certificates(response: bytes, *, descending: bool) -> bytes:
    """The response with its embedded certificates sorted ascending (DER) or descending.

    OpenSSL writes the signer's certificate first and the chain after, in whatever byte
    order that gives; tests use this to present a client with both orders on purpose.
    """
    _, at, _ = _element(response, 0)  # TimeStampResp
    _, _, at = _element(response, at)  # PKIStatusInfo
    _, at, _ = _element(response, at)  # ContentInfo
    _, _, at = _element(response, at)  # contentType
    _, at, _ = _element(response, at)  # [0] EXPLICIT
    _, at, _ = _element(response, at)  # SignedData
    for _field in range(3):  # version, digestAlgorithms, encapContentInfo
        _, _, at = _element(response, at)
    tag, start, end = _element(response, at)
    assert tag == 0xA0, "the response carries no certificates"
    certificates = []
    at = start
    while at < end:
        _, _, next_at = _element(response, at)
        certificates.append(response[at:next_at])
        at = next_at
    ordered = sorted(certificates, reverse=descending)
    return response[:start] + b"".join(ordered) + response[end:]


class LocalTSA:
    """An RFC 3161 authority on 127.0.0.1, answering with ``openssl ts -reply``."""

    def __init__(self, pki: AuthorityPKI | None = None, *, index: int = 0) -> None:
        self.pki = pki or shared_pki()
        self.signer = self.pki.signer(index)
        self.mode: Mode = "good"
        self.down_status = 503
        # The order of the embedded certificates: as openssl writes them, or sorted.
        self.certificate_order: Literal["openssl", "ascending", "descending"] = "openssl"
        self.requests = 0  # queries received, whatever the mode
        self.tokens = 0  # tokens issued
        self._work = Path(tempfile.mkdtemp(prefix="tsa-", dir=self.pki.directory))
        self._lock = threading.Lock()  # openssl ts -reply increments one serial file
        self._others: list[LocalTSA] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        serial = self._work / "serial"
        serial.write_text("01\n")
        self._config = self._work / "tsa.cnf"
        self._config.write_text(_TSA_CONFIG.format(serial=serial, policy=POLICY_OID))

    @property
    def ca_file(self) -> Path:
        """The root certificate (PEM) a client must trust: use as TSA_CA_FILE."""
        return self.pki.ca_file

    @property
    def url(self) -> str:
        assert self._server is not None, "the authority is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsr"

    def start(self) -> LocalTSA:
        authority = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, content_type, body = authority.answer(
                    query, self.headers.get("Content-Type", "")
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: stopping waits for the serving loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def another(self) -> LocalTSA:
        """Starts a second authority (its own certificate, same root); stopped with this one."""
        other = LocalTSA(self.pki, index=len(self._others) + 1).start()
        self._others.append(other)
        return other

    def stop(self) -> None:
        for other in self._others:
            other.stop()
        self._others.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        shutil.rmtree(self._work, ignore_errors=True)

    def __enter__(self) -> LocalTSA:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def answer(self, query: bytes, content_type: str) -> tuple[int, str, bytes]:
        """The HTTP status, content type and body for one query, as the mode says."""
        with self._lock:
            self.requests += 1
            if self.mode == "down":
                return self.down_status, "text/plain", b"service unavailable"
            if self.mode == "garbage":
                return 200, "application/timestamp-reply", b"\x30\x03not a response"
            if content_type.split(";")[0].strip() != "application/timestamp-query":
                return 415, "text/plain", b"expected application/timestamp-query"
            signer = self.signer
            if self.mode == "unknown_ca":
                signer = self.pki.rogue
            elif self.mode == "wrong_digest":
                start, end = _imprint_span(query)
                other = bytes(byte ^ 0xFF for byte in query[start:end])
                query = query[:start] + other + query[end:]
            query_file = self._work / "query.tsq"
            reply_file = self._work / "reply.tsr"
            query_file.write_bytes(query)
            args: list[str | Path] = [
                "ts", "-reply", "-config", self._config, "-queryfile", query_file,
                "-inkey", signer.key, "-signer", signer.cert, "-out", reply_file,
            ]  # fmt: skip
            if signer.chain is not None:
                args += ["-chain", signer.chain]
            try:
                _openssl(*args)
            except RuntimeError as error:
                return 400, "text/plain", str(error).encode()
            self.tokens += 1
            reply = reply_file.read_bytes()
            if self.certificate_order != "openssl":
                descending = self.certificate_order == "descending"
                reply = reorder_certificates(reply, descending=descending)
            return 200, "application/timestamp-reply", reply
