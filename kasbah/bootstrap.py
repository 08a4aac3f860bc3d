"""`kasbah bootstrap`: the Pulumi state bucket on the campus's S3 endpoint, before the first `pulumi login`.

Pulumi cannot create the bucket that holds its own state, so this is plain boto3: create the bucket with Object
Lock enabled at creation (it cannot be turned on later on every S3 implementation), then make sure versioning,
default encryption, a default retention and a full public access block are in place. Each setting is read first
and written only when it differs, so a second run changes nothing and says so. Credentials come from the
environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile), never from a spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

SSE_ALGORITHM = "AES256"
LOCK_MODE = "GOVERNANCE"
"""Policy: state history is retained in governance mode, so an administrator with the bypass permission can still
clean up a bucket created by mistake (compliance mode would make that impossible for the whole period)."""
LOCK_DAYS = 30
"""Policy: every state version is kept at least 30 days (overwrites add versions; deletes add delete markers)."""
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class BootstrapError(Exception):
    """The endpoint cannot be reached, refuses, or the bucket cannot be made safe; one line for the user."""


@dataclass
class BootstrapResult:
    bucket: str
    endpoint: str
    region: str
    changes: list[str] = field(default_factory=list)
    login_url: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def login_url(bucket: str, endpoint: str, region: str) -> str:
    """`pulumi login` URL of a state bucket on an S3-compatible endpoint (path-style, the endpoint's host)."""
    parts = urlsplit(endpoint)
    host = parts.netloc or parts.path
    url = f"s3://{bucket}?endpoint={host}&s3ForcePathStyle=true&region={region}"
    if parts.scheme == "http":
        url += "&disableSSL=true"
    return url


def check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--endpoint {endpoint!r} is not an http(s) URL such as https://s3.example.internal")


def _client(endpoint: str, region: str):
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path"},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def bootstrap(endpoint: str, bucket: str, region: str = "us-east-1", lock_days: int = LOCK_DAYS) -> BootstrapResult:
    """Create or complete the state bucket; raise BootstrapError with a one-line reason on any failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    check_endpoint(endpoint)
    result = BootstrapResult(bucket=bucket, endpoint=endpoint, region=region)
    s3 = _client(endpoint, region)
    step = "reach the endpoint"
    try:
        step = f"look up bucket {bucket}"
        if _exists(s3, bucket):
            step = f"read the Object Lock setting of {bucket}"
            if not _lock_enabled(s3, bucket):
                raise BootstrapError(
                    f"bucket {bucket} exists without Object Lock, which can only be enabled when a bucket is "
                    "created: choose another --bucket or recreate it"
                )
        else:
            step = f"create bucket {bucket}"
            kwargs: dict = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
            result.changes.append("created the bucket with Object Lock enabled")
        step = f"enable versioning on {bucket}"
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            result.changes.append("enabled versioning")
        step = f"set default encryption on {bucket}"
        if _sse(s3, bucket) != SSE_ALGORITHM:
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_ALGORITHM}}]
                },
            )
            result.changes.append(f"set default encryption {SSE_ALGORITHM}")
        step = f"block public access to {bucket}"
        if _public_access(s3, bucket) != PUBLIC_ACCESS_BLOCK:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
            result.changes.append("blocked public access")
        step = f"set the default retention of {bucket}"
        wanted = {"Mode": LOCK_MODE, "Days": lock_days}
        if _retention(s3, bucket) != wanted:
            s3.put_object_lock_configuration(
                Bucket=bucket,
                ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": wanted}},
            )
            result.changes.append(f"set default retention {LOCK_MODE} {lock_days} days")
    except (BotoCoreError, ClientError) as exc:
        raise boto_error(exc, endpoint, step) from None
    result.login_url = login_url(bucket, endpoint, region)
    return result


def boto_error(exc: Exception, endpoint: str, step: str) -> BootstrapError:
    """The one-line BootstrapError for a boto3 failure while trying to `step` (e.g. "create bucket x")."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, EndpointConnectionError):
        return BootstrapError(f"cannot reach the S3 endpoint {endpoint}: is the URL right and the service up?")
    if isinstance(exc, NoCredentialsError):
        return BootstrapError(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the endpoint"
        )
    if isinstance(exc, ClientError):
        code = _code(exc) or "error"
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        return BootstrapError(" ".join(f"{endpoint} refused to {step}: {code}: {message}".split()))
    return BootstrapError(" ".join(f"could not {step} at {endpoint}: {exc}".split()))


def _exists(s3, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _lock_enabled(s3, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        conf = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        if _code(exc) == "ObjectLockConfigurationNotFoundError":
            return False
        raise
    return conf.get("ObjectLockEnabled") == "Enabled"


def _retention(s3, bucket: str) -> dict | None:
    conf = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    retention = (conf.get("Rule") or {}).get("DefaultRetention") or {}
    kept = {k: v for k, v in retention.items() if k in ("Mode", "Days", "Years") and v}
    return kept or None


def _sse(s3, bucket: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        raise
    return rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else None


def _public_access(s3, bucket: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return dict(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"])
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return None
        raise
