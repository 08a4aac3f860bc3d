"""Kasbah's mandatory policies as plain functions (testable without the policy engine) and their Policy objects.

Each rule takes a resource's type token, its inputs (as the engine passes them: camelCase keys) and its
`protect` flag, and returns the violation messages (empty: compliant). `POLICIES` wraps them for the pack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
COMMAND = "command:local:Command"
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}

STATEFUL_TYPES = frozenset({BUCKET, "aws:s3/directoryBucket:DirectoryBucket"})
"""Types whose deletion loses data: they must carry `protect=True`."""

TAGGABLE_TYPES = frozenset({BUCKET, "aws:s3/directoryBucket:DirectoryBucket", "aws:s3/bucketObjectv2:BucketObjectv2"})
"""Taggable types this project registers; any other resource that passes a `tags` input is checked too."""

REQUIRED_TAGS = ("campus", "phase")

Rule = Callable[[str, Mapping[str, Any], bool], list[str]]


def buckets_configured(resource_type: str, props: Mapping[str, Any], protect: bool) -> list[str]:
    """Versioning enabled, encryption set, every public access switch on, no public ACL."""
    out: list[str] = []
    if resource_type == BUCKET and props.get("acl") in PUBLIC_ACLS:
        out.append(f"bucket ACL {props['acl']!r} makes it public; remove the ACL")
    if resource_type == VERSIONING:
        status = (props.get("versioningConfiguration") or {}).get("status")
        if status != "Enabled":
            out.append(f"bucket versioning is {status!r}; it must be 'Enabled'")
    if resource_type == ENCRYPTION:
        rules = props.get("rules") or []
        algos = [((r or {}).get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for r in rules]
        if not any(a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algos):
            out.append("bucket encryption has no default algorithm (AES256 or aws:kms)")
    if resource_type == PUBLIC_ACCESS:
        off = [
            k
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            if props.get(k) is not True
        ]
        if off:
            out.append(f"public access is not fully blocked: {', '.join(off)} must be true")
    return out


def stateful_protected(resource_type: str, props: Mapping[str, Any], protect: bool) -> list[str]:
    if resource_type in STATEFUL_TYPES and not protect:
        return [f"{resource_type} holds data: register it with protect=True"]
    return []


def commands_triggered(resource_type: str, props: Mapping[str, Any], protect: bool) -> list[str]:
    if resource_type != COMMAND:
        return []
    triggers = props.get("triggers")
    if not triggers or not all(isinstance(t, str) and t for t in triggers):
        return ["command has no triggers: set triggers=[digest of its scope] so it re-runs when its inputs change"]
    return []


def tagged(resource_type: str, props: Mapping[str, Any], protect: bool) -> list[str]:
    if resource_type not in TAGGABLE_TYPES and "tags" not in props:
        return []
    tags = props.get("tags") or {}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    return [f"missing tag(s) {', '.join(missing)}"] if missing else []


RULES: dict[str, tuple[str, Rule]] = {
    "kasbah-buckets-encrypted-versioned-private": (
        "Every bucket is versioned, encrypted by default and not public.",
        buckets_configured,
    ),
    "kasbah-stateful-protected": ("Resources holding data carry protect=True.", stateful_protected),
    "kasbah-commands-have-triggers": ("Every command resource has triggers.", commands_triggered),
    "kasbah-tagged-campus-phase": ("Every taggable resource is tagged with campus and phase.", tagged),
}


def check(resource_type: str, props: Mapping[str, Any], protect: bool = False) -> dict[str, list[str]]:
    """Every rule's violations for one resource (only rules with violations appear)."""
    out = {}
    for name, (_, rule) in RULES.items():
        found = rule(resource_type, props, protect)
        if found:
            out[name] = found
    return out


def _validator(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props, bool(args.opts.protect)):
            report_violation(message, None)

    return validate


POLICIES = [
    ResourceValidationPolicy(
        name=name,
        description=description,
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_validator(rule),
    )
    for name, (description, rule) in RULES.items()
]
