"""Kasbah's mandatory policies as plain functions (testable without the policy engine) and their Policy objects.

Each resource rule takes a resource's type token, its inputs (as the engine passes them: camelCase keys) and its
`protect` flag, and returns the violation messages (empty: compliant). The stack rule (`buckets_complete`) sees
every resource at once: a bucket registered WITHOUT its versioning, encryption or public-access-block resource
passes every resource rule (there is nothing to check), so only a stack-level look can refuse it.
`POLICIES` wraps them all for the pack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

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


BUCKET_COMPANIONS: dict[str, str] = {
    VERSIONING: "versioning (aws.s3.BucketVersioning)",
    ENCRYPTION: "default encryption (aws.s3.BucketServerSideEncryptionConfiguration)",
    PUBLIC_ACCESS: "public access block (aws.s3.BucketPublicAccessBlock)",
}
"""Resources every bucket must have beside it; the resource rules check what each one sets."""

STACK_RULE = "kasbah-buckets-have-their-guards"


@dataclass(frozen=True)
class StackResource:
    """What the stack rule needs of a resource: type, URN, inputs or outputs (camelCase), and the URNs its
    `bucket` property comes from (the engine's property dependencies, or all its dependencies)."""

    type: str
    urn: str
    props: Mapping[str, Any]
    references: frozenset[str] = frozenset()


def buckets_complete(resources: Iterable[StackResource]) -> dict[str, list[str]]:
    """Bucket URN -> violations: each companion type with no resource pointing at that bucket.

    A companion points at a bucket when its `bucket` property depends on the bucket resource, or names the
    bucket (its `bucket` name or its id) outright.
    """
    items = list(resources)
    buckets = {r.urn: r for r in items if r.type == BUCKET}
    by_name: dict[str, str] = {}
    for r in buckets.values():
        for key in ("bucket", "id"):
            value = r.props.get(key)
            if isinstance(value, str) and value:
                by_name[value] = r.urn
    found: dict[str, set[str]] = {urn: set() for urn in buckets}
    for r in items:
        if r.type not in BUCKET_COMPANIONS:
            continue
        targets = set(r.references) & buckets.keys()
        named = r.props.get("bucket")
        if isinstance(named, str) and named in by_name:
            targets.add(by_name[named])
        for urn in targets:
            found[urn].add(r.type)
    out: dict[str, list[str]] = {}
    for urn in sorted(buckets):
        missing = [label for t, label in BUCKET_COMPANIONS.items() if t not in found[urn]]
        if missing:
            name = buckets[urn].props.get("bucket") or urn.rsplit("::", 1)[-1]
            out[urn] = [f"bucket {name} has no {m} resource" for m in missing]
    return out


def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """The stack rule through pulumi_policy: every bucket has its versioning, encryption and public access block."""
    resources = []
    for r in args.resources:
        via = (r.property_dependencies or {}).get("bucket") or r.dependencies or []
        resources.append(StackResource(r.resource_type, r.urn, r.props, frozenset(d.urn for d in via)))
    for urn, messages in buckets_complete(resources).items():
        for message in messages:
            report_violation(message, urn)


def _validator(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props, bool(args.opts.protect)):
            report_violation(message, None)

    return validate


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    ResourceValidationPolicy(
        name=name,
        description=description,
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_validator(rule),
    )
    for name, (description, rule) in RULES.items()
]
POLICIES.append(
    StackValidationPolicy(
        name=STACK_RULE,
        description="Every bucket has its versioning, default encryption and public access block resources.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_stack,
    )
)
