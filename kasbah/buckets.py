"""The campus's buckets with boto3, for the lab: create them with their settings and check them against the plan.

In production the buckets are made by the Pulumi component `components/object_storage.py`. The lab has no Pulumi
CLI or engine (and moto stands in for the campus's S3 store), so this module mirrors that component with plain
boto3: the same bucket names, Object Lock enabled at creation only where `object_lock_days` is set, tags
`{campus, phase}`, versioning, SSE-S3 default encryption, a full public access block, the same lifecycle rules
(ids, filters, noncurrent expiration, abort of incomplete multipart uploads, expiration) and a COMPLIANCE default
retention. A change to the component must be made here too; `tests/test_buckets.py` compares both under the
Pulumi mocks so they cannot drift apart silently.

Like `kasbah bootstrap`, each setting is read first and written only when it differs, so a second run changes
nothing, and every boto3 failure becomes a one-line BootstrapError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kasbah.bootstrap import (
    PUBLIC_ACCESS_BLOCK,
    BootstrapError,
    _client,
    _code,
    _exists,
    _lock_enabled,
    _public_access,
    _retention,
    boto_error,
    check_endpoint,
)
from kasbah.plan.storage import Bucket, StoragePlan

# Mirrors of components/object_storage.py's policy constants (importing it would load Pulumi into the lab).
SSE_ALGORITHM = "AES256"
ABORT_MULTIPART_DAYS = 7
LOCK_MODE = "COMPLIANCE"

LAB_ACCESS_KEY = "lab"
LAB_SECRET_KEY = "lab"


@dataclass(frozen=True)
class BucketSettings:
    """One bucket's settings in S3 API shapes (what boto3 writes and reads), planned or live.

    Live values use the same shapes: `object_lock` False, `versioning` None, `encryption` / `lifecycle_rules` []
    and `public_access_block` {} when the bucket has no such configuration. `tags` None means tags are not managed.
    """

    name: str
    object_lock: bool
    versioning: str | None
    encryption: list[dict[str, Any]]
    public_access_block: dict[str, bool]
    lifecycle_rules: list[dict[str, Any]]
    retention: dict[str, Any] | None
    tags: dict[str, str] | None = field(default=None)


def lifecycle_rules(bucket: Bucket) -> list[dict[str, Any]]:
    """The component's `_lifecycle_rules`, as the S3 API's LifecycleConfiguration rules."""
    rules: list[dict[str, Any]] = [
        {
            "ID": "noncurrent-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": bucket.noncurrent_expire_days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
        }
    ]
    if bucket.expire_days is not None:
        rules.append(
            {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": bucket.expire_days}}
        )
    return rules


def planned_settings(bucket: Bucket, campus: str | None = None) -> BucketSettings:
    """What the component would give this bucket; tags only when the campus name is known (StoragePlan lacks it)."""
    locked = bucket.object_lock_days is not None
    return BucketSettings(
        name=bucket.name,
        object_lock=locked,
        versioning="Enabled" if bucket.versioning else "Suspended",
        encryption=[{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_ALGORITHM}}],
        public_access_block=dict(PUBLIC_ACCESS_BLOCK),
        lifecycle_rules=lifecycle_rules(bucket),
        retention={"Mode": LOCK_MODE, "Days": bucket.object_lock_days} if locked else None,
        tags=None if campus is None else {"campus": campus, "phase": bucket.phase},
    )


def lab_credentials() -> dict[str, str]:
    """Environment for boto3 (and Pulumi) against the lab's moto endpoint.

    Not secrets: moto accepts any key pair. Setting them keeps boto3 from looking for real credentials (a profile,
    instance metadata) and from signing lab requests with an operator's real keys.
    """
    return {"AWS_ACCESS_KEY_ID": LAB_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": LAB_SECRET_KEY}


# --- creating and checking ----------------------------------------------------------------------------------------


def ensure_buckets(endpoint: str, storage: StoragePlan, *, campus: str | None = None) -> list[str]:
    """Create or complete every bucket of `storage` on `endpoint`; return what changed, [] when nothing did.

    All buckets are read before anything is written, so a bucket that can never conform (Object Lock can only be
    set when a bucket is created) stops the run before it changes anything. Pass `campus` to manage tags too.
    """
    check_endpoint(endpoint)
    s3 = _client(endpoint, storage.region)
    plans = [planned_settings(b, campus) for b in storage.buckets]
    lives = [_read_or_none(s3, endpoint, p) for p in plans]
    for plan, live in zip(plans, lives, strict=True):
        if live is not None and live.object_lock != plan.object_lock:
            if plan.object_lock:
                raise BootstrapError(
                    f"bucket {plan.name} exists without Object Lock, which can only be enabled when a bucket is "
                    "created: it must be recreated (copy its data out, delete it, run again)"
                )
            raise BootstrapError(
                f"bucket {plan.name} has Object Lock enabled but the plan has none; it cannot be turned off: "
                "it must be recreated"
            )
    changes: list[str] = []
    for plan, live in zip(plans, lives, strict=True):
        changes += _complete(s3, endpoint, storage.region, plan, live)
    return changes


def check_buckets(endpoint: str, storage: StoragePlan, *, campus: str | None = None) -> list[str]:
    """One line per difference between the live buckets and the plan, each starting with the bucket's name.

    Configurations are compared normalised (rules by id, keys unordered, fields that mean "not set" dropped), so
    an S3 implementation returning the same settings in another order or with explicit defaults conforms.
    """
    check_endpoint(endpoint)
    s3 = _client(endpoint, storage.region)
    problems: list[str] = []
    for bucket in storage.buckets:
        plan = planned_settings(bucket, campus)
        live = _read_or_none(s3, endpoint, plan)
        if live is None:
            problems.append(f"{plan.name}: missing")
        else:
            problems += [f"{plan.name}: {d}" for d in differences(plan, live)]
    return problems


def differences(plan: BucketSettings, live: BucketSettings) -> list[str]:
    """What differs between a planned and a live bucket, one phrase each (without the bucket name)."""
    out: list[str] = []
    if live.object_lock != plan.object_lock:
        out.append(
            "Object Lock is not enabled (it can only be enabled at creation: recreate the bucket)"
            if plan.object_lock
            else "Object Lock is enabled but the plan has none"
        )
    if plan.tags is not None and live.tags != plan.tags:
        out.append(f"tags are {_tags_text(live.tags)}, plan says {_tags_text(plan.tags)}")
    if live.versioning != plan.versioning:
        out.append(f"versioning is {live.versioning or 'never enabled'}, plan says {plan.versioning}")
    if _normal(live.encryption) != _normal(plan.encryption):
        out.append(f"default encryption is {_sse_text(live.encryption)}, plan says {_sse_text(plan.encryption)}")
    if live.public_access_block != plan.public_access_block:
        if not live.public_access_block:
            out.append("public access block is missing")
        else:
            off = [k for k in plan.public_access_block if not live.public_access_block.get(k)]
            out.append(f"public access block is not full: {', '.join(off)} off")
    out += _lifecycle_differences(plan.lifecycle_rules, live.lifecycle_rules)
    if plan.object_lock and live.object_lock and _normal(live.retention) != _normal(plan.retention):
        out.append(
            f"default retention is {_retention_text(live.retention)}, plan says {_retention_text(plan.retention)}"
        )
    return out


def _complete(s3: Any, endpoint: str, region: str, plan: BucketSettings, live: BucketSettings | None) -> list[str]:
    """Write what differs, in the component's order (lifecycle and retention after versioning)."""
    name = plan.name
    changes: list[str] = []
    if live is None:
        with _doing(endpoint, f"create bucket {name}"):
            kwargs: dict[str, Any] = {"Bucket": name}
            if plan.object_lock:
                kwargs["ObjectLockEnabledForBucket"] = True
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
        changes.append(f"{name}: created" + (" with Object Lock" if plan.object_lock else ""))
        live = _read_or_none(s3, endpoint, plan)
        if live is None:
            raise BootstrapError(f"{endpoint} accepted bucket {name} but does not list it")
    if plan.tags is not None and live.tags != plan.tags:
        with _doing(endpoint, f"tag bucket {name}"):
            tag_set = [{"Key": k, "Value": v} for k, v in sorted(plan.tags.items())]
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_set})
        changes.append(f"{name}: tagged {_tags_text(plan.tags)}")
    if live.versioning != plan.versioning:
        with _doing(endpoint, f"set versioning on {name}"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": plan.versioning})
        changes.append(f"{name}: " + ("enabled versioning" if plan.versioning == "Enabled" else "suspended versioning"))
    if _normal(live.encryption) != _normal(plan.encryption):
        with _doing(endpoint, f"set default encryption on {name}"):
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": plan.encryption})
        changes.append(f"{name}: set default encryption {_sse_text(plan.encryption)}")
    if live.public_access_block != plan.public_access_block:
        with _doing(endpoint, f"block public access to {name}"):
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=plan.public_access_block)
        changes.append(f"{name}: blocked public access")
    if _lifecycle_differences(plan.lifecycle_rules, live.lifecycle_rules):
        with _doing(endpoint, f"set the lifecycle rules of {name}"):
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": plan.lifecycle_rules})
        ids = ", ".join(r["ID"] for r in plan.lifecycle_rules)
        changes.append(f"{name}: set lifecycle rules {ids}")
    if plan.retention is not None and _normal(live.retention) != _normal(plan.retention):
        with _doing(endpoint, f"set the default retention of {name}"):
            s3.put_object_lock_configuration(
                Bucket=name,
                ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": plan.retention}},
            )
        changes.append(f"{name}: set default retention {_retention_text(plan.retention)}")
    return changes


@contextlib.contextmanager
def _doing(endpoint: str, step: str) -> Iterator[None]:
    """Turn any boto3 failure inside into bootstrap's one-line BootstrapError naming `step`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise boto_error(exc, endpoint, step) from None


def _read_or_none(s3: Any, endpoint: str, plan: BucketSettings) -> BucketSettings | None:
    """The live settings of the planned bucket, or None when it does not exist."""
    with _doing(endpoint, f"read the settings of bucket {plan.name}"):
        return _read(s3, plan.name, tags=plan.tags is not None)


def _read(s3: Any, name: str, *, tags: bool) -> BucketSettings | None:
    if not _exists(s3, name):
        return None
    locked = _lock_enabled(s3, name)
    return BucketSettings(
        name=name,
        object_lock=locked,
        versioning=s3.get_bucket_versioning(Bucket=name).get("Status") or None,
        encryption=_absent_is_empty(
            lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"],
            "ServerSideEncryptionConfigurationNotFoundError",
        ),
        public_access_block=_public_access(s3, name) or {},
        lifecycle_rules=_absent_is_empty(
            lambda: s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"], "NoSuchLifecycleConfiguration"
        ),
        retention=_retention(s3, name) if locked else None,
        tags=(
            {
                t["Key"]: t["Value"]
                for t in _absent_is_empty(
                    lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"], "NoSuchTagSet", "NoSuchTagSetError"
                )
            }
            if tags
            else None
        ),
    )


def _absent_is_empty(read: Any, *codes: str) -> list[dict[str, Any]]:
    """S3 reports a missing configuration as an error; read it as an empty list instead."""
    from botocore.exceptions import ClientError

    try:
        return list(read())
    except ClientError as exc:
        if _code(exc) in codes:
            return []
        raise


def _normal(value: Any) -> Any:
    """Drop what means "not set" (None, "", False, 0, empty containers) and make whole floats ints.

    S3 implementations differ in echoing defaults (moto returns BucketKeyEnabled false and Years 0, others omit
    them) and the Pulumi mocks give numbers as floats; none of that is a difference in the bucket.
    """
    if isinstance(value, dict):
        pruned = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if not _unset(v)}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _unset(value: Any) -> bool:
    return value is None or value is False or (not isinstance(value, bool) and value in ("", 0, {}, []))


def _rules_by_id(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Normalised rules keyed by id; a legacy rule-level Prefix counts as the filter's prefix."""
    out: dict[str, dict[str, Any]] = {}
    for i, rule in enumerate(rules):
        rule = dict(rule)
        if "Prefix" in rule:
            rule["Filter"] = {"Prefix": rule.pop("Prefix"), **(rule.get("Filter") or {})}
        rule_id = str(rule.pop("ID", "") or f"#{i + 1}")
        out[rule_id] = _normal(rule)
    return out


def _lifecycle_differences(planned: list[dict[str, Any]], live: list[dict[str, Any]]) -> list[str]:
    want, have = _rules_by_id(planned), _rules_by_id(live)
    if not have:
        return [f"lifecycle configuration is missing (plan has rules {', '.join(sorted(want))})"] if want else []
    out = [f"lifecycle rule {i} is missing" for i in sorted(want.keys() - have.keys())]
    out += [f"lifecycle rule {i} is not in the plan" for i in sorted(have.keys() - want.keys())]
    for rule_id in sorted(want.keys() & have.keys()):
        w, h = _flat(want[rule_id]), _flat(have[rule_id])
        diffs = [
            f"{key} is {h.get(key, 'not set')}, plan says {w.get(key, 'not set')}"
            for key in sorted(w.keys() | h.keys())
            if w.get(key) != h.get(key)
        ]
        if diffs:
            out.append(f"lifecycle rule {rule_id} differs: {'; '.join(diffs)}")
    return out


def _flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"A": {"B": 1}} -> {"A.B": 1}, to name the field that differs."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _sse_text(rules: list[dict[str, Any]]) -> str:
    algorithms = [str((r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")) for r in rules]
    return " + ".join(algorithms) if algorithms else "missing"


def _retention_text(retention: dict[str, Any] | None) -> str:
    r = _normal(retention) or {}
    if not r:
        return "not set"
    period = f"{r['Days']} days" if "Days" in r else f"{r.get('Years', '?')} years"
    return f"{r.get('Mode', '?')} {period}"


def _tags_text(tags: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((tags or {}).items())) or "none"
