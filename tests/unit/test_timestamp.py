"""Trusted timestamps (bot/evidence/timestamp.py) against a local ``openssl ts`` authority."""

from __future__ import annotations

import hashlib
import shlex
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from bot.evidence.timestamp import (
    StampedToken,
    TimestampError,
    TrustRoots,
    build_query,
    check_token,
    load_roots,
    openssl_verify_command,
    parse_pem_certificates,
    request_token,
)
from tests.tsa import LocalTSA, reorder_certificates, unused_url

DIGEST = hashlib.sha256(b"custody head 42").digest()


@pytest.fixture
def roots(tsa: LocalTSA) -> TrustRoots:
    return load_roots(tsa.ca_file)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def stamp(client: httpx.AsyncClient, url: str, roots: TrustRoots) -> StampedToken:
    return await request_token(client, url, DIGEST, roots, timeout=10)


async def refusal(client: httpx.AsyncClient, url: str, roots: TrustRoots) -> TimestampError:
    with pytest.raises(TimestampError) as caught:
        await stamp(client, url, roots)
    return caught.value


def subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


async def test_good_token_is_verified_and_its_stored_form_checks_again(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    token = await stamp(client, tsa.url, roots)

    assert token.tsa_url == tsa.url
    assert token.digest == DIGEST
    assert token.gen_time.utcoffset() == timedelta(0)
    assert token.serial > 0
    # The chain as stored: the authority's certificate, the intermediate, the trusted root.
    chain = parse_pem_certificates(token.certificates_pem)
    assert [subject(c) for c in chain] == [
        "CN=Test TSA 1,O=tipbot tests",
        "CN=Test TSA Intermediate,O=tipbot tests",
        "CN=Test Root CA,O=tipbot tests",
    ]
    assert chain[-1] == roots.certificates[0]

    assert check_token(token.response, DIGEST, token.certificates_pem) == token.gen_time
    assert check_token(token.response, DIGEST, token.certificates_pem, roots) == token.gen_time


async def test_two_authorities_at_once(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    second = tsa.another()
    first_token = await stamp(client, tsa.url, roots)
    second_token = await stamp(client, second.url, roots)

    signers = {
        subject(parse_pem_certificates(t.certificates_pem)[0]) for t in (first_token, second_token)
    }
    assert signers == {"CN=Test TSA 1,O=tipbot tests", "CN=Test TSA 2,O=tipbot tests"}
    assert (tsa.tokens, second.tokens) == (1, 1)


@pytest.mark.parametrize("order", ["ascending", "descending"])
async def test_embedded_certificates_in_any_order(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient, order: str
) -> None:
    # DER wants them ascending, OpenSSL-based authorities write them signer first: one of
    # these two is not valid DER, and both must be accepted (the signature does not cover
    # the order).
    tsa.certificate_order = "descending" if order == "descending" else "ascending"
    token = await stamp(client, tsa.url, roots)

    assert check_token(token.response, DIGEST, token.certificates_pem, roots) == token.gen_time
    other = reorder_certificates(token.response, descending=order == "ascending")
    assert other != token.response
    assert check_token(other, DIGEST, token.certificates_pem, roots) == token.gen_time


async def test_token_for_another_digest_is_refused(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    tsa.mode = "wrong_digest"
    error = await refusal(client, tsa.url, roots)

    assert (error.reason, error.retryable) == ("wrong_digest", False)
    assert tsa.tokens == 1  # the authority did answer, with a signed token


async def test_token_from_an_unknown_ca_is_refused(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    tsa.mode = "unknown_ca"
    error = await refusal(client, tsa.url, roots)

    assert (error.reason, error.retryable) == ("untrusted", False)


async def test_stored_token_with_a_substituted_root_fails_against_known_roots(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    # Someone with write access to the database forges a token under a root of their own
    # and stores that root with it: consistent in itself, refused against the real roots.
    tsa.mode = "unknown_ca"
    forged = await stamp(client, tsa.url, load_roots(tsa.pki.rogue_ca_file))

    assert check_token(forged.response, DIGEST, forged.certificates_pem) == forged.gen_time
    with pytest.raises(TimestampError) as caught:
        check_token(forged.response, DIGEST, forged.certificates_pem, roots)
    assert caught.value.reason == "untrusted"


@pytest.mark.parametrize(
    ("status", "retryable"), [(503, True), (500, True), (429, True), (404, False), (400, False)]
)
async def test_authority_answering_an_http_error(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient, status: int, retryable: bool
) -> None:
    tsa.mode = "down"
    tsa.down_status = status
    error = await refusal(client, tsa.url, roots)

    assert (error.reason, error.retryable) == (f"http_{status}", retryable)


async def test_authority_not_listening_is_retryable(
    roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    error = await refusal(client, unused_url(), roots)

    assert (error.reason, error.retryable) == ("unreachable", True)


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/tsr"


async def test_authority_that_never_answers_times_out(
    roots: TrustRoots, client: httpx.AsyncClient, silent_url: str
) -> None:
    with pytest.raises(TimestampError) as caught:
        await request_token(client, silent_url, DIGEST, roots, timeout=0.2)

    assert (caught.value.reason, caught.value.retryable) == ("timeout", True)


async def test_answer_that_is_not_a_timestamp_response(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    tsa.mode = "garbage"
    error = await refusal(client, tsa.url, roots)

    assert (error.reason, error.retryable) == ("bad_response", False)


def flipped(data: bytes, index: int) -> bytes:
    altered = bytearray(data)
    altered[index] ^= 0x01
    return bytes(altered)


async def test_altered_stored_token_fails(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    token = await stamp(client, tsa.url, roots)
    response = token.response
    cases = {
        "imprint": (flipped(response, response.index(DIGEST) + 5), "wrong_digest"),
        # The signed content (TSTInfo) names the authority before any certificate does.
        "authority name": (flipped(response, response.index(b"Test TSA 1")), "bad_signature"),
        "signature": (flipped(response, len(response) - 1), "bad_signature"),
        "outer length": (flipped(response, 2), "bad_response"),
        # A year later: still within the certificates' validity, so only the signature fails.
        "time": (
            response.replace(
                b"\x18\x0f%d" % token.gen_time.year, b"\x18\x0f%d" % (token.gen_time.year + 1), 1
            ),
            "bad_signature",
        ),
    }
    for name, (altered, reason) in cases.items():
        assert altered != response, name
        with pytest.raises(TimestampError) as caught:
            check_token(altered, DIGEST, token.certificates_pem, roots)
        assert caught.value.reason == reason, name

    with pytest.raises(TimestampError) as caught:
        check_token(response, hashlib.sha256(b"another head").digest(), token.certificates_pem)
    assert caught.value.reason == "wrong_digest"


async def test_any_damage_to_a_stored_token_is_an_error_or_changes_nothing(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    # Some bytes of a response are not signed (the status, the set of certificates, a few
    # version fields): changing them leaves the claim intact. Every other change must be a
    # TimestampError — never a crash from the parsers, never another time.
    token = await stamp(client, tsa.url, roots)
    refused = 0
    for index in range(len(token.response)):
        damaged = flipped(token.response, index)
        try:
            gen_time = check_token(damaged, DIGEST, token.certificates_pem, roots)
        except TimestampError:
            refused += 1
        else:
            assert gen_time == token.gen_time, index
    assert refused > len(token.response) * 3 // 4


async def test_stored_certificates_damaged_or_replaced(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient
) -> None:
    token = await stamp(client, tsa.url, roots)
    rogue_root = tsa.pki.rogue_ca_file.read_text()
    leaf_and_intermediate = token.certificates_pem.split("-----END CERTIFICATE-----\n")[:2]
    replaced = "-----END CERTIFICATE-----\n".join([*leaf_and_intermediate, rogue_root])

    with pytest.raises(TimestampError) as caught:
        check_token(token.response, DIGEST, replaced)
    assert caught.value.reason == "untrusted"
    with pytest.raises(TimestampError) as caught:
        check_token(token.response, DIGEST, "-----BEGIN CERTIFICATE-----\nnot base64\n")
    assert caught.value.reason == "bad_response"


async def test_openssl_command_verifies_the_stored_token(
    tsa: LocalTSA, roots: TrustRoots, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    token = await stamp(client, tsa.url, roots)
    folder = tmp_path / "an export"  # a space, to see the command quotes paths
    folder.mkdir()
    (folder / "head.tsr").write_bytes(token.response)
    (folder / "head-chain.pem").write_text(token.certificates_pem)

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the command under test
            shlex.split(command), cwd=tmp_path, capture_output=True, text=True, check=False
        )

    response_file, chain_file = str(folder / "head.tsr"), str(folder / "head-chain.pem")
    command = openssl_verify_command(DIGEST.hex(), response_file, chain_file)
    assert command.startswith("openssl ts -verify -digest " + DIGEST.hex())
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout

    at_token_time = openssl_verify_command(
        DIGEST.hex(), response_file, chain_file, at=token.gen_time
    )
    assert run(at_token_time).returncode == 0

    # The same command over another digest fails: openssl really checks the imprint.
    other = hashlib.sha256(b"another head").hexdigest()
    assert run(openssl_verify_command(other, response_file, chain_file)).returncode != 0


def test_openssl_command_refuses_what_is_not_a_sha256() -> None:
    with pytest.raises(ValueError, match="64 hexadecimal"):
        openssl_verify_command("abc; rm -rf /", "head.tsr", "chain.pem")


def test_query_is_what_openssl_reads_as_ours(tmp_path: Path) -> None:
    query = tmp_path / "q.tsq"
    query.write_bytes(build_query(DIGEST, 0x80FF))
    text = subprocess.run(  # noqa: S603
        ["openssl", "ts", "-query", "-in", str(query), "-text"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "Hash Algorithm: sha256" in text
    assert "Nonce: 0x80FF" in text
    assert "Certificate required: yes" in text
    hex_dump = "".join(
        line.split(" - ")[1][:47].replace(" ", "").replace("-", "")
        for line in text.splitlines()
        if " - " in line
    )
    assert hex_dump == DIGEST.hex()


def test_load_roots_from_a_file_and_from_the_system(tsa: LocalTSA, tmp_path: Path) -> None:
    roots = load_roots(tsa.ca_file)
    assert [subject(c) for c in roots.certificates] == ["CN=Test Root CA,O=tipbot tests"]
    assert roots.source == str(tsa.ca_file)

    system = load_roots(None)
    assert len(system.certificates) > 10  # the system's bundle, or certifi's


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "no certificates here\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_load_roots_names_the_setting_when_the_file_is_unusable(
    tmp_path: Path, content: str | None
) -> None:
    ca_file = tmp_path / "tsa-roots.pem"
    if content is not None:
        ca_file.write_text(content)

    with pytest.raises(ValueError, match="TSA_CA_FILE") as caught:
        load_roots(ca_file)
    assert str(ca_file) in str(caught.value)


def test_digest_must_be_a_sha256() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        build_query(b"short", 1)
