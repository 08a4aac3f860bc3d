"""`kasbah bootstrap` against moto's S3 over HTTP (a ThreadedMotoServer on 127.0.0.1)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from typer.testing import CliRunner

from kasbah.bootstrap import LOCK_DAYS, LOCK_MODE, BootstrapError, bootstrap, login_url
from kasbah.cli import app

runner = CliRunner()
ENV = {"KASBAH_WIDTH": "200", "NO_COLOR": "1"}
BUCKET = "casablanca-ai-pulumi-state"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def endpoint(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=5).close()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url


def _s3(endpoint: str, region: str = "us-east-1"):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=Config(retries={"max_attempts": 1}))


def test_creates_a_locked_versioned_encrypted_private_bucket(endpoint: str) -> None:
    result = bootstrap(endpoint, BUCKET, "ma-casa-1")
    assert result.changed and result.changes[0] == "created the bucket with Object Lock enabled"
    s3 = _s3(endpoint, "ma-casa-1")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"], retention.get("Years", 0)) == (LOCK_MODE, LOCK_DAYS, 0)
    sse = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(pab.values()) and len(pab) == 4
    assert result.login_url == login_url(BUCKET, endpoint, "ma-casa-1")


def test_a_second_run_changes_nothing(endpoint: str) -> None:
    bootstrap(endpoint, BUCKET)
    assert bootstrap(endpoint, BUCKET).changes == []


def test_a_partly_configured_bucket_is_completed(endpoint: str) -> None:
    _s3(endpoint).create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    changes = bootstrap(endpoint, BUCKET).changes
    assert "created the bucket with Object Lock enabled" not in changes
    assert "set default encryption AES256" in changes and "blocked public access" in changes


def test_a_bucket_without_object_lock_is_refused(endpoint: str) -> None:
    _s3(endpoint).create_bucket(Bucket=BUCKET)
    with pytest.raises(BootstrapError, match="exists without Object Lock"):
        bootstrap(endpoint, BUCKET)


def test_login_url_names_host_path_style_region_and_plain_http() -> None:
    assert login_url("b", "https://s3.campus.internal", "ma-casa-1") == (
        "s3://b?endpoint=s3.campus.internal&s3ForcePathStyle=true&region=ma-casa-1"
    )
    assert login_url("b", "http://127.0.0.1:9000", "r").endswith("&disableSSL=true")


def test_cli_prints_the_login_and_is_idempotent(endpoint: str) -> None:
    first = runner.invoke(app, ["bootstrap", "--endpoint", endpoint, "--bucket", BUCKET], env=ENV)
    assert first.exit_code == 0, first.output
    assert "created the bucket with Object Lock enabled" in first.output
    host = endpoint.removeprefix("http://")
    assert f"pulumi login 's3://{BUCKET}?endpoint={host}&s3ForcePathStyle=true&region=us-east-1" in first.output
    second = runner.invoke(app, ["bootstrap", "--endpoint", endpoint, "--bucket", BUCKET], env=ENV)
    assert second.exit_code == 0
    assert "already set up, nothing changed" in second.output


def test_cli_takes_bucket_and_region_from_a_spec(endpoint: str) -> None:
    result = runner.invoke(app, ["bootstrap", "--endpoint", endpoint, "--spec", "stacks/phase1.yaml"], env=ENV)
    assert result.exit_code == 0, result.output
    assert f"s3://{BUCKET}?" in result.output and "region=ma-casa-1" in result.output
    assert BUCKET in [b["Name"] for b in _s3(endpoint).list_buckets()["Buckets"]]


def test_unreachable_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"http://127.0.0.1:{_free_port()}"
    result = runner.invoke(app, ["bootstrap", "--endpoint", url, "--bucket", BUCKET], env=ENV)
    assert result.exit_code == 1
    assert f"cannot reach the S3 endpoint {url}" in result.output
    assert "Traceback" not in result.output


def test_refusal_is_a_clear_error(endpoint: str) -> None:
    _s3(endpoint).create_bucket(Bucket=BUCKET)
    result = runner.invoke(app, ["bootstrap", "--endpoint", endpoint, "--bucket", BUCKET], env=ENV)
    assert result.exit_code == 1
    assert "exists without Object Lock" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "s3.campus.internal", "--bucket", "b"], "is not an http(s) URL"),
        (["--endpoint", "http://127.0.0.1:1"], "give --bucket NAME"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["bootstrap", *args], env=ENV)
    assert result.exit_code == 2
    assert message in result.output
