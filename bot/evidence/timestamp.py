"""Trusted timestamps (RFC 3161): ask an authority to sign a SHA-256 digest, and check tokens.

A timestamp token proves that the custody chain's head hash existed at the authority's time:
whoever trusts the authority's root certificate can check it with ``openssl ts -verify``,
without trusting tipbot. This module only talks HTTP and checks signatures; storing tokens,
retrying and custody entries are the caller's (anchoring) job.

Every token is verified on receipt: status granted, our nonce, the message imprint equal to
the digest we sent, the authority's certificate marked for time stamping (critical extended
key usage), a chain from it to a trusted root valid at the token's time, and the CMS
signature (the last two through ``rfc3161-client``). The token is kept as the authority's
whole DER response, with its chain in PEM, so it can be checked again later — by
:func:`check_token` here, or by anyone with :func:`openssl_verify_command`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
import ssl
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    PKIStatus,
    SignedData,
    SignerInfo,
    TimeStampResponse,
    TimeStampTokenInfo,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

SHA256_OID = "2.16.840.1.101.3.4.2.1"
QUERY_TYPE = "application/timestamp-query"
# RFC 3161 names the reply type application/timestamp-reply; some older servers say -response.
REPLY_TYPES = frozenset({"application/timestamp-reply", "application/timestamp-response"})
# A token with its chain is a few kilobytes; anything far larger is not a timestamp reply.
MAX_RESPONSE_BYTES = 1 << 20
MAX_CHAIN_LENGTH = 8
# Where Linux distributions and macOS keep the system's bundle of trusted roots.
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, Alpine
)
_SHA256_HEX = re.compile("[0-9a-fA-F]{64}")
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


class TimestampError(Exception):
    """A token could not be obtained or does not verify.

    ``reason`` is a short code, safe to log and store: ``unreachable``, ``timeout``,
    ``http_<status>``, ``bad_content_type``, ``too_large``, ``bad_response``, ``rejected``,
    ``waiting``, ``wrong_digest``, ``wrong_nonce``, ``no_certificate``, ``bad_certificate``,
    ``untrusted``, ``bad_signature``. ``retryable`` is true when asking again later may
    succeed (network errors, timeouts, HTTP 408/429/5xx, an authority that says "waiting").
    """

    def __init__(self, reason: str, detail: str = "", *, retryable: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class StampedToken:
    """A verified token: the authority's whole response and the chain that validated it."""

    tsa_url: str
    response: bytes  # the DER TimeStampResp as received (what `openssl ts -verify -in` reads)
    certificates_pem: str  # signing certificate, intermediates, then the trusted root
    gen_time: datetime  # aware, UTC
    serial: int
    digest: bytes  # the 32-byte SHA-256 that was timestamped


@dataclass(frozen=True, slots=True)
class TrustRoots:
    """The root certificates trusted to certify time-stamping authorities."""

    certificates: tuple[x509.Certificate, ...]
    source: str  # where they were read from, for messages


def parse_pem_certificates(text: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text; ``ValueError`` if a block is not a certificate."""
    certificates = []
    for block in text.split(_PEM_BEGIN)[1:]:
        body, end, _ = block.partition(_PEM_END)
        if not end:
            raise ValueError("a certificate block has no END line")
        pem = f"{_PEM_BEGIN}{body}{_PEM_END}\n".encode("ascii", errors="replace")
        certificates.append(x509.load_pem_x509_certificate(pem))
    return certificates


def certificates_to_pem(certificates: Iterable[x509.Certificate]) -> str:
    return "".join(cert.public_bytes(Encoding.PEM).decode("ascii") for cert in certificates)


def _load_ca_file(path: Path) -> TrustRoots:
    try:
        text = path.read_text(encoding="ascii", errors="replace")
        certificates = parse_pem_certificates(text)
    except (OSError, ValueError) as error:
        raise ValueError(f"TSA_CA_FILE {path}: cannot read certificates ({error})") from error
    return _roots(path, certificates, f"TSA_CA_FILE {path}: no PEM certificates in the file")


def _roots(path: Path, certificates: list[x509.Certificate], none_found: str) -> TrustRoots:
    """The roots read from ``path``; ``ValueError(none_found)`` when there are none."""
    if not certificates:
        raise ValueError(none_found)
    return TrustRoots(tuple(certificates), str(path))


def _system_ca_file() -> Path | None:
    defaults = ssl.get_default_verify_paths()
    candidates = [defaults.cafile, defaults.openssl_cafile, *SYSTEM_CA_FILES]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return _certifi_file()


def _certifi_file() -> Path | None:
    """Mozilla's bundle from certifi: httpx depends on it, so it is there when the system has
    no trust store."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx brings certifi
        return None
    return Path(certifi.where())


def load_roots(ca_file: Path | None) -> TrustRoots:
    """The roots in ``ca_file`` (TSA_CA_FILE, a PEM bundle), else the system's trust store.

    Raises ``ValueError`` naming TSA_CA_FILE when the file is unreadable or holds no
    certificate. In the system store, a certificate ``cryptography`` cannot parse is skipped
    (such bundles carry a few legacy roots); it could not have validated a token anyway.
    """
    if ca_file is not None:
        return _load_ca_file(ca_file)
    path = _system_ca_file()
    if path is None:
        raise ValueError(
            "no system trust store found: set TSA_CA_FILE to a PEM file with the "
            "time-stamping authorities' root certificates"
        )
    return _load_system_store(path)


def _load_system_store(path: Path) -> TrustRoots:
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as error:
        raise ValueError(
            f"cannot read the system trust store {path} ({error}): set TSA_CA_FILE"
        ) from error
    return _roots(
        path,
        _readable_certificates(text),
        f"the system trust store {path} holds no certificates: set TSA_CA_FILE",
    )


def _readable_certificates(text: str) -> list[x509.Certificate]:
    """The certificates of a PEM text that ``cryptography`` can parse; the others skipped."""
    certificates: list[x509.Certificate] = []
    with warnings.catch_warnings():
        # Some legacy roots have non-positive serial numbers; cryptography warns about each.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        for block in text.split(_PEM_BEGIN)[1:]:
            try:
                certificates.extend(parse_pem_certificates(_PEM_BEGIN + block))
            except ValueError:
                continue
    return certificates


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _der_unsigned(value: int) -> bytes:
    # One spare bit keeps the value positive in two's complement (a leading 0x00 when needed).
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def build_query(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq (RFC 3161 §2.4.1) for a SHA-256 ``digest``, asking for certificates.

    ``rfc3161-client``'s request builder hashes the data it is given; our input is already
    the digest (the chain's head hash), which must itself be the message imprint so that
    ``openssl ts -verify -digest HEAD_HASH`` checks it. The structure is four fields, so it is
    written here directly.
    """
    if len(digest) != 32:
        raise ValueError("the digest must be the 32 bytes of a SHA-256 hash")
    algorithm = bytes.fromhex("300d06096086480165030402010500")  # sha256, NULL parameters
    imprint = _der(0x30, algorithm + _der(0x04, digest))
    cert_req = b"\x01\x01\xff"  # BOOLEAN TRUE: include the authority's certificate
    return _der(0x30, _der_unsigned(1) + imprint + _der_unsigned(nonce) + cert_req)


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at ``at``; ``ValueError`` if malformed."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[at], data[at + 1]
    start, size = (at + 2, first) if first < 0x80 else _long_length(data, at + 2, first & 0x7F)
    if start + size > len(data):
        raise ValueError("truncated")
    return tag, start, start + size


def _long_length(data: bytes, at: int, width: int) -> tuple[int, int]:
    """(content start, size) of a length in the long form: ``width`` bytes at ``at``."""
    if not 1 <= width <= 4:
        raise ValueError("unsupported length")
    return at + width, int.from_bytes(data[at : at + width], "big")


def _with_sorted_certificates(response: bytes) -> bytes:
    """The response with its certificate set in DER order, for ``rfc3161-client``'s parser.

    DER requires a SET OF in ascending order of encodings, and the library's parser refuses
    anything else; but OpenSSL, and authorities built on it, write the signer's certificate
    first and its chain after, whatever the bytes. The certificate set is outside what the
    authority signs, so ordering it changes no signature. Anything unexpected is returned
    unchanged for the parser to reject.
    """
    try:
        start, end = _certificate_set(response)
        certificates = _elements(response, start, end)
    except ValueError:
        return response
    ordered = sorted(certificates)
    if ordered == certificates:
        return response
    return response[:start] + b"".join(ordered) + response[end:]


def _certificate_set(response: bytes) -> tuple[int, int]:
    """Where the certificate set of a TimeStampResp's token is (its content's start and
    end); ``ValueError`` when the response has no token, the token no set, or is malformed."""
    at = _signed_data(response)
    for _field in ("version", "digestAlgorithms", "encapContentInfo"):
        _, _, at = _element(response, at)
    tag, start, end = _element(response, at)
    if tag != 0xA0:  # [0] IMPLICIT CertificateSet
        raise ValueError("no certificate set")
    return start, end


def _signed_data(response: bytes) -> int:
    """Where the fields of the token's SignedData start in a TimeStampResp."""
    _, start, end = _element(response, 0)  # TimeStampResp
    _, _, at = _element(response, start)  # PKIStatusInfo
    if at >= end:
        raise ValueError("no token")
    _, start, _ = _element(response, at)  # ContentInfo
    _, _, at = _element(response, start)  # contentType
    _, start, _ = _element(response, at)  # [0] EXPLICIT content
    _, at, _ = _element(response, start)  # SignedData
    return at


def _elements(data: bytes, start: int, end: int) -> list[bytes]:
    """The DER elements (whole) from ``start`` to ``end``."""
    elements = []
    at = start
    while at < end:
        _, _, next_at = _element(data, at)
        elements.append(data[at:next_at])
        at = next_at
    return elements


def _decode(response: bytes) -> TimeStampResponse:
    try:
        decoded = decode_timestamp_response(_with_sorted_certificates(response))
    except ValueError as error:
        raise TimestampError("bad_response", "not a DER TimeStampResp") from error
    _check_granted(decoded)
    _parse_token(decoded)
    return decoded


def _check_granted(decoded: TimeStampResponse) -> None:
    status = decoded.status
    if status == PKIStatus.WAITING:
        raise TimestampError("waiting", "the authority asks to try later", retryable=True)
    if status != PKIStatus.GRANTED:
        text = "; ".join(decoded.status_string)[:200]
        raise TimestampError("rejected", f"status {status} {text}".strip())


def _parse_token(decoded: TimeStampResponse) -> None:
    """The library's accessors assume a token is present (they abort the process otherwise),
    and parse the token's content only when first asked: do both here, once."""
    if not decoded.time_stamp_token():
        raise TimestampError("bad_response", "granted without a token")
    try:
        decoded.tst_info.message_imprint  # noqa: B018 - parses the signed content
        decoded.signed_data.signer_infos  # noqa: B018
    except ValueError as error:
        raise TimestampError("bad_response", "malformed token") from error


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _chain(
    leaf: x509.Certificate, pool: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The path from ``leaf`` through certificates of ``pool`` to one of ``roots``."""
    chain = [leaf]
    while len(chain) <= MAX_CHAIN_LENGTH:
        current = chain[-1]
        if current in roots:
            return chain
        root = _issuer_among(current, roots)
        if root is not None:
            return [*chain, root]
        chain.append(_intermediate(current, pool, chain))
    raise TimestampError("untrusted", "certificate chain too long")


def _issuer_among(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    return next((issuer for issuer in candidates if _issued_by(certificate, issuer)), None)


def _intermediate(
    current: x509.Certificate, pool: Sequence[x509.Certificate], chain: list[x509.Certificate]
) -> x509.Certificate:
    """The certificate of ``pool``, not yet in ``chain``, that issued ``current``."""
    issuer = _issuer_among(current, (c for c in pool if c not in chain))
    if issuer is None:
        name = current.issuer.rfc4514_string()[:200]
        raise TimestampError("untrusted", f"no trusted root for the issuer {name}")
    return issuer


def _verify(
    decoded: TimeStampResponse,
    digest: bytes,
    extra_certificates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    nonce: int | None,
) -> tuple[datetime, list[x509.Certificate]]:
    """Checks a decoded, granted response; returns its time and its chain, leaf first."""
    try:
        return _verify_decoded(decoded, digest, extra_certificates, roots, nonce)
    except TimestampError:
        raise
    except Exception as error:
        # Certificates and names are parsed lazily, on first access, by ``cryptography`` and
        # ``rfc3161-client``; a damaged one surfaces as ValueError, KeyError, InvalidVersion,
        # DuplicateExtension... wherever it is first read. All mean the same: malformed.
        raise TimestampError("bad_response", f"malformed ({type(error).__name__})") from error


def _verify_decoded(
    decoded: TimeStampResponse,
    digest: bytes,
    extra_certificates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    nonce: int | None,
) -> tuple[datetime, list[x509.Certificate]]:
    info = decoded.tst_info
    _check_imprint(info, digest)
    _check_nonce(info, nonce)
    gen_time = _utc(info.gen_time)
    leaf, pool = _signer(decoded.signed_data, extra_certificates)
    _check_usage(leaf)
    chain = _chain(leaf, pool, roots)
    _check_validity(chain, gen_time)
    _check_signature(decoded, digest, chain, nonce)
    return gen_time, chain


def _check_imprint(info: TimeStampTokenInfo, digest: bytes) -> None:
    imprint = info.message_imprint
    if imprint.hash_algorithm.dotted_string != SHA256_OID or imprint.message != digest:
        raise TimestampError("wrong_digest", "the token covers another digest")


def _check_nonce(info: TimeStampTokenInfo, nonce: int | None) -> None:
    """The token answers our request (when we made one)."""
    if nonce is not None and info.nonce != nonce:
        raise TimestampError("wrong_nonce", "the token answers another request")


def _utc(moment: datetime) -> datetime:
    """An aware time in UTC (a naive one taken as UTC)."""
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)


def _signer(
    signed_data: SignedData, extra_certificates: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The authority's certificate, and every certificate at hand: those in the token, then
    the ``extra`` ones it lacks."""
    signer = _only_signer(signed_data)
    pool = _pool(signed_data, extra_certificates)
    leaf = next((c for c in pool if _identifies(c, signer)), None)
    if leaf is None:
        raise TimestampError("no_certificate", "the authority's certificate is missing")
    return leaf, pool


def _only_signer(signed_data: SignedData) -> SignerInfo:
    signers = list(signed_data.signer_infos)
    if len(signers) != 1:
        raise TimestampError("bad_response", f"{len(signers)} signers instead of one")
    return signers[0]


def _pool(
    signed_data: SignedData, extra_certificates: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    embedded = [x509.load_der_x509_certificate(der) for der in signed_data.certificates]
    return [*embedded, *(c for c in extra_certificates if c not in embedded)]


def _identifies(certificate: x509.Certificate, signer: SignerInfo) -> bool:
    """Whether ``certificate`` is the one the signer info names (issuer and serial)."""
    return certificate.issuer == signer.issuer and certificate.serial_number == signer.serial_number


def _check_usage(leaf: x509.Certificate) -> None:
    """The authority's certificate is for time stamping only (critical extended key usage)."""
    try:
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError("bad_certificate", "not a time-stamping certificate") from None
    if not usage.critical or ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
        raise TimestampError("bad_certificate", "not a time-stamping certificate")


def _check_validity(chain: list[x509.Certificate], gen_time: datetime) -> None:
    for certificate in chain:
        if not certificate.not_valid_before_utc <= gen_time <= certificate.not_valid_after_utc:
            name = certificate.subject.rfc4514_string()[:200]
            raise TimestampError("untrusted", f"{name} was not valid at the token's time")


def _check_signature(
    decoded: TimeStampResponse, digest: bytes, chain: list[x509.Certificate], nonce: int | None
) -> None:
    """The library checks the CMS signature over the token and the chain again, at the
    token's time."""
    verifier = VerifierBuilder(roots=[chain[-1]], intermediates=chain[1:-1], nonce=nonce).build()
    try:
        verifier.verify(decoded, digest)
    except (VerificationError, ValueError) as error:
        raise TimestampError("bad_signature", str(error)[:200]) from error


async def request_token(
    client: httpx.AsyncClient,
    url: str,
    digest: bytes,
    roots: TrustRoots,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - bounds the whole exchange, not one await
) -> StampedToken:
    """Asks the authority at ``url`` to timestamp the SHA-256 ``digest``; one attempt.

    Returns the verified token, or raises :class:`TimestampError` (its ``retryable`` says
    whether a later attempt may succeed). The caller retries with backoff.
    """
    nonce = secrets.randbits(64)
    response = await _post(client, url, build_query(digest, nonce), timeout)
    decoded = _decode(response)
    gen_time, chain = _verify(decoded, digest, (), roots.certificates, nonce)
    return StampedToken(
        tsa_url=url,
        response=response,
        certificates_pem=certificates_to_pem(chain),
        gen_time=gen_time,
        serial=decoded.tst_info.serial_number,
        digest=digest,
    )


async def _post(
    client: httpx.AsyncClient,
    url: str,
    query: bytes,
    timeout: float,  # noqa: ASYNC109 - bounds the whole exchange, not one await
) -> bytes:
    """The authority's reply to ``query``, within ``timeout`` seconds in all."""
    headers = {"Content-Type": QUERY_TYPE, "Accept": "application/timestamp-reply"}
    try:
        async with (
            asyncio.timeout(timeout),
            client.stream("POST", url, content=query, headers=headers, timeout=timeout) as reply,
        ):
            _check_reply(reply)
            return await _read_reply(reply)
    except (TimeoutError, httpx.TransportError, httpx.DecodingError, httpx.InvalidURL) as error:
        raise _exchange_error(error, timeout) from error


def _exchange_error(error: Exception, timeout: float) -> TimestampError:
    """What a failed exchange with an authority means (timeouts and transport errors are
    worth retrying)."""
    if isinstance(error, (TimeoutError, httpx.TimeoutException)):
        return TimestampError("timeout", f"no answer in {timeout:g} s", retryable=True)
    if isinstance(error, httpx.TransportError):
        return TimestampError("unreachable", type(error).__name__, retryable=True)
    if isinstance(error, httpx.DecodingError):
        return TimestampError("bad_response", "undecodable body")
    return TimestampError("bad_url", str(error)[:200])


def _check_reply(reply: httpx.Response) -> None:
    """A timestamp reply: HTTP 200 with a timestamp reply's content type."""
    status = reply.status_code
    if status != 200:
        raise TimestampError(f"http_{status}", retryable=_retryable(status))
    content_type = reply.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in REPLY_TYPES:
        raise TimestampError("bad_content_type", content_type[:100])


def _retryable(status: int) -> bool:
    """Whether an HTTP status says to ask again later: request timeout, too many requests,
    a server error."""
    return status in (408, 429) or status >= 500


async def _read_reply(reply: httpx.Response) -> bytes:
    """The reply's body, refused past :data:`MAX_RESPONSE_BYTES`."""
    body = bytearray()
    async for chunk in reply.aiter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise TimestampError("too_large", f"over {MAX_RESPONSE_BYTES} bytes")
    return bytes(body)


def _self_signed(certificate: x509.Certificate) -> bool:
    return _issued_by(certificate, certificate)


def check_token(
    response: bytes, digest: bytes, certificates_pem: str, roots: TrustRoots | None = None
) -> datetime:
    """Checks a stored token over ``digest`` again; returns its time (aware, UTC).

    With ``roots``, the chain must lead to one of them (use this when the authorities' roots
    are known: TSA_CA_FILE or the system store). Without, the root stored in
    ``certificates_pem`` is trusted, which proves the token is intact and consistent but not
    who signed it. Raises :class:`TimestampError` (``bad_response``, ``wrong_digest``,
    ``untrusted``, ``bad_signature``, ...).
    """
    try:
        stored = parse_pem_certificates(certificates_pem)
    except ValueError as error:
        raise TimestampError("bad_response", "the stored certificates are unreadable") from error
    decoded = _decode(response)
    gen_time, _ = _verify(decoded, digest, stored, _trusted(roots, stored), None)
    return gen_time


def _trusted(
    roots: TrustRoots | None, stored: list[x509.Certificate]
) -> Sequence[x509.Certificate]:
    """``roots``' certificates, else the self-signed ones among those stored with a token."""
    trusted = roots.certificates if roots is not None else [c for c in stored if _self_signed(c)]
    if not trusted:
        raise TimestampError("untrusted", "no root certificate among the stored certificates")
    return trusted


def openssl_verify_command(
    digest_hex: str, response_file: str, chain_file: str, *, at: datetime | None = None
) -> str:
    """The ``openssl ts -verify`` command that checks a stored token, for an outsider to run.

    ``chain_file`` holds the token's ``certificates_pem`` (the authority's certificate, its
    intermediates and root): compare that root with the one the authority publishes, or
    use ``-CAfile`` with your own copy. OpenSSL checks the certificates at the current time
    by default; ``at`` (for instance the token's time) checks them at that moment instead,
    which is what an old token, signed by a since-expired certificate, needs.
    """
    if not _SHA256_HEX.fullmatch(digest_hex):
        raise ValueError("the digest must be 64 hexadecimal digits (a SHA-256)")
    command = [
        "openssl", "ts", "-verify", "-digest", digest_hex.lower(),
        "-in", response_file, "-CAfile", chain_file,
    ]  # fmt: skip
    if at is not None:
        command += ["-attime", str(int(at.timestamp()))]
    return shlex.join(command)
