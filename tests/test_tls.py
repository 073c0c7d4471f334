"""`S3Config(verify_tls=...)` against a real HTTPS endpoint whose certificate nobody signed.

Neither test server speaks TLS, so `tests/faultproxy.py` (no faults) listens for HTTPS in front
of moto_server with a self-signed certificate made here by the `cryptography` package. Verifying
(the default) must refuse that endpoint before anything is changed, with an error that says the
certificate is the problem and what to do; trusting the certificate through `AWS_CA_BUNDLE`, or
`verify_tls=False`, must sync through it.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bmsync import S3Config, sync_project
from bmsync.errors import RemoteError
from tests.faultproxy import FaultProxy
from tests.servers import S3TestServer, ServerPool

PREFIX = "notes"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that signs itself, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bmsync test endpoint")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "endpoint.crt", folder / "endpoint.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def moto(s3_server_pool: ServerPool) -> S3TestServer:
    """One server is enough: the TLS is the proxy's, in front of either."""
    return s3_server_pool.get("moto")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def https_config(moto: S3TestServer, certificate: tuple[Path, Path]) -> Iterator[S3Config]:
    """The moto server's config, pointed at an HTTPS endpoint in front of it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with FaultProxy(str(moto.config.endpoint_url), seed=0, tls=context) as proxy:
        yield dataclasses.replace(moto.config, endpoint_url=proxy.endpoint_url)


@pytest.fixture
def root(root: Path) -> Path:
    """conftest's empty project folder, seeded with a.md."""
    (root / "a.md").write_text("a")
    return root


async def test_verify_tls_refuses_a_self_signed_certificate(
    https_config: S3Config,
    moto: S3TestServer,
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore retries the handshake too
    bucket = moto.create_bucket()
    assert https_config.verify_tls, "verifying is the default"
    with pytest.raises(RemoteError) as raised:
        await sync_project(root, f"s3://{bucket}/{PREFIX}", s3=https_config, state_dir=tmp_path)
    message = str(raised.value)
    print(message)
    assert "TLS certificate" in message and "could not be verified" in message, message
    assert "AWS_CA_BUNDLE" in message and "verify_tls" in message, "says what to do"
    assert "could not be reached" not in message, "the endpoint was reached"
    assert moto.client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0, "nothing written"


async def test_aws_ca_bundle_trusts_a_private_certificate(
    https_config: S3Config,
    moto: S3TestServer,
    root: Path,
    tmp_path: Path,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The remedy the refusal names: verification stays on, with the endpoint's certificate
    as the authority."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate[0]))
    bucket = moto.create_bucket()
    report = await sync_project(
        root, f"s3://{bucket}/{PREFIX}", s3=https_config, state_dir=tmp_path / "state"
    )
    assert report.status == "ok" and report.uploaded == ["a.md"], report.errors


async def test_verify_tls_false_syncs_through_a_self_signed_certificate(
    https_config: S3Config, moto: S3TestServer, root: Path, tmp_path: Path
) -> None:
    bucket = moto.create_bucket()
    unverified = dataclasses.replace(https_config, verify_tls=False)
    report = await sync_project(
        root, f"s3://{bucket}/{PREFIX}", s3=unverified, state_dir=tmp_path / "state"
    )
    assert report.status == "ok" and report.uploaded == ["a.md"], report.errors
    stored = moto.client.get_object(Bucket=bucket, Key=f"{PREFIX}/a.md")["Body"].read()
    assert stored == b"a"


async def test_a_plain_http_endpoint_reads_no_ca_bundle(
    moto: S3TestServer, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No TLS connection is ever made to an `http://` endpoint, so the client loads no CA
    bundle (a new client would otherwise spend ~30 ms reading one): a bundle that does not
    exist is never opened."""
    assert str(moto.config.endpoint_url).startswith("http://")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))
    bucket = moto.create_bucket()
    report = await sync_project(
        root, f"s3://{bucket}/{PREFIX}", s3=moto.config, state_dir=tmp_path / "state"
    )
    assert report.status == "ok" and report.uploaded == ["a.md"], report.errors
