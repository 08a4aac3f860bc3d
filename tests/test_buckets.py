"""The lab's buckets against a real moto server over HTTP, started as the lab starts it (a detached daemon, by PID).

Each test resets moto's state first, so none depends on another's buckets or on the order they run in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kasbah.bootstrap import PUBLIC_ACCESS_BLOCK, BootstrapError
from kasbah.buckets import (
    BucketSettings,
    check_buckets,
    differences,
    ensure_buckets,
    lab_credentials,
    planned_settings,
)
from kasbah.lab.procs import stop_pid
from kasbah.lab.s3 import MotoError, free_port, moto_endpoint, start_moto
from kasbah.plan.storage import StoragePlan
from tests.conftest import REPO, plan_of

CAMPUS = "casablanca-ai"
CHECKPOINTS, DATASETS, STATE, TELEMETRY = (f"{CAMPUS}-{p}" for p in ("checkpoints", "datasets", "state", "telemetry"))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z"


def _processes_with(text: str) -> list[int]:
    """Live processes whose command line contains `text` (zombies have an empty one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port("127.0.0.1")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    started = time.monotonic()
    pid = start_moto("127.0.0.1", port, log)
    assert time.monotonic() - started < 15
    assert os.getsid(pid) == pid, "moto must run in its own session, to outlive the command that started it"
    try:
        yield moto_endpoint("127.0.0.1", port)
    finally:
        assert stop_pid(pid, expect="moto.server") is True
        assert _gone(pid)
        assert stop_pid(pid) is False  # idempotent


@pytest.fixture
def endpoint(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=5).close()
    for name, value in lab_credentials().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url


@pytest.fixture(scope="module")
def storage() -> StoragePlan:
    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    assert sorted(b.name for b in plan.storage.buckets) == [CHECKPOINTS, DATASETS, STATE, TELEMETRY]
    return plan.storage


def _s3(endpoint: str, region: str):
    config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)


# --- creation, idempotence, the live settings ---------------------------------------------------------------------


def test_the_phase1_buckets_are_created_once_and_conform(endpoint: str, storage: StoragePlan) -> None:
    assert check_buckets(endpoint, storage) == [f"{b.name}: missing" for b in storage.buckets]
    changes = ensure_buckets(endpoint, storage)
    assert f"{CHECKPOINTS}: created with Object Lock" in changes
    for name in (DATASETS, STATE, TELEMETRY):
        assert f"{name}: created" in changes
        assert f"{name}: enabled versioning" in changes
    assert f"{TELEMETRY}: set lifecycle rules noncurrent-versions, expire" in changes
    assert f"{CHECKPOINTS}: set default retention COMPLIANCE 30 days" in changes
    assert ensure_buckets(endpoint, storage) == []
    assert check_buckets(endpoint, storage) == []


def test_each_live_bucket_carries_the_plans_settings(endpoint: str, storage: StoragePlan) -> None:
    ensure_buckets(endpoint, storage)
    s3 = _s3(endpoint, storage.region)
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == sorted(b.name for b in storage.buckets)
    for b in storage.buckets:
        assert s3.get_bucket_location(Bucket=b.name)["LocationConstraint"] == storage.region
        assert s3.get_bucket_versioning(Bucket=b.name)["Status"] == "Enabled"
        (sse,) = s3.get_bucket_encryption(Bucket=b.name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert sse["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert s3.get_public_access_block(Bucket=b.name)["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCK
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=b.name)["Rules"]}
        assert sorted(rules) == (["expire", "noncurrent-versions"] if b.expire_days else ["noncurrent-versions"])
        noncurrent = rules["noncurrent-versions"]
        assert (noncurrent["Status"], noncurrent["Filter"]) == ("Enabled", {"Prefix": ""})
        assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] == b.noncurrent_expire_days
        assert noncurrent["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
        if b.expire_days:
            assert rules["expire"]["Expiration"] == {"Days": b.expire_days}
            assert (rules["expire"]["Status"], rules["expire"]["Filter"]) == ("Enabled", {"Prefix": ""})
        if b.object_lock_days is None:
            with pytest.raises(s3.exceptions.ClientError, match="ObjectLockConfigurationNotFound"):
                s3.get_object_lock_configuration(Bucket=b.name)
        else:
            lock = s3.get_object_lock_configuration(Bucket=b.name)["ObjectLockConfiguration"]
            assert lock["ObjectLockEnabled"] == "Enabled"
            retention = lock["Rule"]["DefaultRetention"]
            assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", b.object_lock_days)
    assert [b.object_lock_days for b in storage.buckets if b.name == CHECKPOINTS] == [30]


def test_tags_are_managed_when_the_campus_is_given(endpoint: str, storage: StoragePlan) -> None:
    ensure_buckets(endpoint, storage)
    assert check_buckets(endpoint, storage) == []  # tags unmanaged without the campus name
    assert check_buckets(endpoint, storage, campus=CAMPUS) == [
        f"{b.name}: tags are none, plan says campus={CAMPUS}, phase=phase1" for b in storage.buckets
    ]
    assert ensure_buckets(endpoint, storage, campus=CAMPUS) == [
        f"{b.name}: tagged campus={CAMPUS}, phase=phase1" for b in storage.buckets
    ]
    tags = _s3(endpoint, storage.region).get_bucket_tagging(Bucket=DATASETS)["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("campus", CAMPUS), ("phase", "phase1")]
    assert check_buckets(endpoint, storage, campus=CAMPUS) == []
    assert ensure_buckets(endpoint, storage, campus=CAMPUS) == []


# --- the mirror of the Pulumi component ---------------------------------------------------------------------------


_API_NAMES = {"id": "ID", "sseAlgorithm": "SSEAlgorithm"}
"""Where the S3 API's name is not the Pulumi input's name with a capital first letter."""


def _api_shape(value: Any) -> Any:
    """Pulumi's camelCase inputs under the mocks (numbers as floats) in the S3 API's PascalCase shapes."""
    if isinstance(value, dict):
        return {_API_NAMES.get(k, k[0].upper() + k[1:]): _api_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def test_the_boto3_settings_mirror_the_pulumi_component() -> None:
    """The component under Pulumi's mocks and `planned_settings` must describe the same buckets, field by field."""
    from tests._pulumi import of_type, planned, previewed

    result, plan = previewed("phase1"), planned("phase1")
    for b in plan.storage.buckets:
        want = planned_settings(b, plan.campus)
        base = f"phase1-object-storage-{b.purpose}"  # PhaseDeployment names its children <phase>-...
        (bucket,) = [r for r in of_type(result, "aws:s3/bucket:Bucket") if r.inputs["bucket"] == b.name]
        assert bucket.inputs["objectLockEnabled"] is want.object_lock
        assert bucket.inputs["tags"] == want.tags
        versioning = result.named(f"{base}-versioning").inputs["versioningConfiguration"]
        assert versioning == {"status": want.versioning}
        assert _api_shape(result.named(f"{base}-encryption").inputs["rules"]) == want.encryption
        pab = {k: v for k, v in result.named(f"{base}-public-access").inputs.items() if k != "bucket"}
        assert _api_shape(pab) == want.public_access_block
        assert _api_shape(result.named(f"{base}-lifecycle").inputs["rules"]) == want.lifecycle_rules
        locks = [r for r in result.resources if r.name == f"{base}-object-lock"]
        if want.retention is None:
            assert locks == []
        else:
            (lock,) = locks
            assert lock.inputs["objectLockEnabled"] == "Enabled"
            assert _api_shape(lock.inputs["rule"]["defaultRetention"]) == want.retention


def test_order_and_spelled_out_defaults_are_not_differences(storage: StoragePlan) -> None:
    telemetry = next(b for b in storage.buckets if b.name == TELEMETRY)
    plan = planned_settings(telemetry)
    noncurrent, expire = plan.lifecycle_rules
    live = BucketSettings(
        name=TELEMETRY,
        object_lock=False,
        versioning="Enabled",
        encryption=[{"BucketKeyEnabled": False, "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
        public_access_block=dict(reversed(list(PUBLIC_ACCESS_BLOCK.items()))),
        lifecycle_rules=[
            {**expire, "Expiration": {"Days": 400.0, "ExpiredObjectDeleteMarker": False}},
            {k: v for k, v in noncurrent.items() if k != "Filter"} | {"Prefix": ""},  # legacy whole-bucket rule
        ],
        retention=None,
    )
    assert differences(plan, live) == []


# --- drift --------------------------------------------------------------------------------------------------------


def test_drift_is_named_per_bucket_and_repaired(endpoint: str, storage: StoragePlan) -> None:
    ensure_buckets(endpoint, storage)
    s3 = _s3(endpoint, storage.region)
    s3.put_bucket_versioning(Bucket=DATASETS, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_lifecycle(Bucket=TELEMETRY)
    s3.delete_public_access_block(Bucket=STATE)
    s3.put_bucket_lifecycle_configuration(
        Bucket=STATE,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "noncurrent-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 10},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                },
                {"ID": "mine", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}},
            ]
        },
    )
    s3.delete_bucket_encryption(Bucket=CHECKPOINTS)
    s3.put_object_lock_configuration(
        Bucket=CHECKPOINTS,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 10}},
        },
    )
    assert check_buckets(endpoint, storage) == [
        f"{CHECKPOINTS}: default encryption is missing, plan says AES256",
        f"{CHECKPOINTS}: default retention is GOVERNANCE 10 days, plan says COMPLIANCE 30 days",
        f"{DATASETS}: versioning is Suspended, plan says Enabled",
        f"{STATE}: public access block is missing",
        f"{STATE}: lifecycle rule mine is not in the plan",
        f"{STATE}: lifecycle rule noncurrent-versions differs: NoncurrentVersionExpiration.NoncurrentDays is 10, "
        "plan says 30",
        f"{TELEMETRY}: lifecycle configuration is missing (plan has rules expire, noncurrent-versions)",
    ]
    assert ensure_buckets(endpoint, storage) == [
        f"{CHECKPOINTS}: set default encryption AES256",
        f"{CHECKPOINTS}: set default retention COMPLIANCE 30 days",
        f"{DATASETS}: enabled versioning",
        f"{STATE}: blocked public access",
        f"{STATE}: set lifecycle rules noncurrent-versions",
        f"{TELEMETRY}: set lifecycle rules noncurrent-versions, expire",
    ]
    assert check_buckets(endpoint, storage) == []


def test_a_partial_public_access_block_names_the_open_flags(endpoint: str, storage: StoragePlan) -> None:
    ensure_buckets(endpoint, storage)
    s3 = _s3(endpoint, storage.region)
    s3.put_public_access_block(
        Bucket=DATASETS, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK | {"BlockPublicPolicy": False}
    )
    assert check_buckets(endpoint, storage) == [f"{DATASETS}: public access block is not full: BlockPublicPolicy off"]


def test_a_deleted_bucket_is_reported_missing_and_recreated(endpoint: str, storage: StoragePlan) -> None:
    ensure_buckets(endpoint, storage)
    _s3(endpoint, storage.region).delete_bucket(Bucket=STATE)
    assert check_buckets(endpoint, storage) == [f"{STATE}: missing"]
    assert ensure_buckets(endpoint, storage)[0] == f"{STATE}: created"
    assert check_buckets(endpoint, storage) == []


def test_object_lock_cannot_be_added_to_an_existing_bucket(endpoint: str, storage: StoragePlan) -> None:
    s3 = _s3(endpoint, storage.region)
    s3.create_bucket(Bucket=CHECKPOINTS, CreateBucketConfiguration={"LocationConstraint": storage.region})
    assert f"{CHECKPOINTS}: Object Lock is not enabled (it can only be enabled at creation: recreate the bucket)" in (
        check_buckets(endpoint, storage)
    )
    with pytest.raises(BootstrapError, match=f"bucket {CHECKPOINTS} exists without Object Lock.*must be recreated"):
        ensure_buckets(endpoint, storage)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [CHECKPOINTS], "nothing is written before the check"


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [ensure_buckets, check_buckets])
def test_an_endpoint_where_nothing_listens_is_a_one_line_error(
    call: Any, storage: StoragePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in lab_credentials().items():
        monkeypatch.setenv(name, value)
    url = moto_endpoint("127.0.0.1", free_port())
    with pytest.raises(BootstrapError) as caught:
        call(url, storage)
    message = str(caught.value)
    assert message == f"cannot reach the S3 endpoint {url}: is the URL right and the service up?"
    assert "\n" not in message and "Traceback" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_refusal_is_a_one_line_error_naming_the_step(endpoint: str, storage: StoragePlan) -> None:
    bad = storage.model_copy(update={"buckets": [storage.buckets[0].model_copy(update={"name": "ab"})]})
    with pytest.raises(BootstrapError) as caught:
        ensure_buckets(endpoint, bad)
    message = str(caught.value)
    assert message.startswith(f"{endpoint} refused to create bucket ab: InvalidBucketName")
    assert "\n" not in message


# --- the moto daemon ----------------------------------------------------------------------------------------------


def test_start_moto_refuses_a_port_something_listens_on(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MotoError, match=f"cannot start moto on 127.0.0.1:{port}: something already listens"):
            start_moto("127.0.0.1", port, tmp_path / "moto.log")
    assert _processes_with(f"moto.server -H 127.0.0.1 -p {port}") == []


def test_start_moto_reports_a_server_that_cannot_bind(tmp_path: Path) -> None:
    import socket

    log = tmp_path / "moto.log"
    with socket.socket() as taken:  # bound, not listening: the probe finds nobody, moto's own bind fails
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(MotoError, match=r"moto exited with status \d+ before answering") as caught:
            start_moto("127.0.0.1", port, log)
    assert str(log) in str(caught.value)
    assert "in use" in str(caught.value)
    assert _processes_with(f"moto.server -H 127.0.0.1 -p {port}") == []


def test_start_moto_with_a_missing_interpreter(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-python")
    with pytest.raises(MotoError, match=r"cannot start moto with .*no-such-python: No such file"):
        start_moto("127.0.0.1", free_port(), tmp_path / "moto.log", python=missing)


def test_start_moto_with_an_interpreter_without_moto(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named moto' >&2\nexit 3\n")
    fake.chmod(0o755)
    log = tmp_path / "moto.log"
    with pytest.raises(MotoError, match=r"exited with status 3 before answering .*\(No module named moto\); see"):
        start_moto("127.0.0.1", free_port(), log, python=str(fake))
    assert "No module named moto" in log.read_text()


def test_start_moto_kills_a_server_that_never_answers(tmp_path: Path) -> None:
    fake = tmp_path / "silent-python"
    fake.write_text("#!/bin/sh\nexec sleep 3601\n")
    fake.chmod(0o755)
    log = tmp_path / "moto.log"
    with pytest.raises(MotoError, match=rf"did not answer on .* within 1 s \(stopped it\); see {log}"):
        start_moto("127.0.0.1", free_port(), log, python=str(fake), timeout=1)
    assert _processes_with("sleep 3601") == []


def test_stop_pid_escalates_to_sigkill_and_reaps() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"]
    )
    time.sleep(0.3)  # let it install its handler
    started = time.monotonic()
    assert stop_pid(stubborn.pid, timeout=0.5) is True
    assert 0.5 <= time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(stubborn.pid, os.WNOHANG)  # already reaped
    assert _gone(stubborn.pid)
    assert stop_pid(stubborn.pid) is False
    stubborn.poll()


def test_stop_pid_leaves_a_process_that_is_not_the_expected_one() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert stop_pid(other.pid, expect="moto.server") is False
        assert other.poll() is None
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()


def test_stop_pid_refuses_group_wide_pids() -> None:
    for pid in (0, -1):
        with pytest.raises(ValueError, match="not a process id"):
            stop_pid(pid)
