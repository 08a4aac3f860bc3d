"""The policy pack's rules, called directly and through pulumi_policy's validation objects."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from policy import rules

BUCKET, COMMAND = rules.BUCKET, rules.COMMAND
TAGS = {"campus": "casablanca-ai", "phase": "phase1"}
PAB_ON = {k: True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}
SSE = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}

CASES: list[tuple[str, dict[str, Any], bool, str | None]] = [
    # (type, inputs, protect, the rule violated or None)
    (BUCKET, {"bucket": "b", "tags": TAGS}, True, None),
    (BUCKET, {"bucket": "b", "tags": TAGS}, False, "kasbah-stateful-protected"),
    (BUCKET, {"bucket": "b", "tags": {"campus": "casablanca-ai"}}, True, "kasbah-tagged-campus-phase"),
    (BUCKET, {"bucket": "b"}, True, "kasbah-tagged-campus-phase"),
    (BUCKET, {"bucket": "b", "tags": TAGS, "acl": "public-read"}, True, "kasbah-buckets-encrypted-versioned-private"),
    (rules.VERSIONING, {"versioningConfiguration": {"status": "Enabled"}}, False, None),
    (
        rules.VERSIONING,
        {"versioningConfiguration": {"status": "Suspended"}},
        False,
        "kasbah-buckets-encrypted-versioned-private",
    ),
    (rules.ENCRYPTION, SSE, False, None),
    (rules.ENCRYPTION, {"rules": []}, False, "kasbah-buckets-encrypted-versioned-private"),
    (rules.PUBLIC_ACCESS, PAB_ON, False, None),
    (
        rules.PUBLIC_ACCESS,
        {**PAB_ON, "restrictPublicBuckets": False},
        False,
        "kasbah-buckets-encrypted-versioned-private",
    ),
    (COMMAND, {"create": "kasbah apply x", "triggers": ["abc"]}, False, None),
    (COMMAND, {"create": "kasbah apply x"}, False, "kasbah-commands-have-triggers"),
    (COMMAND, {"create": "kasbah apply x", "triggers": [""]}, False, "kasbah-commands-have-triggers"),
    ("aws:ec2/instance:Instance", {"tags": {"phase": "phase1"}}, False, "kasbah-tagged-campus-phase"),
    ("kasbah:compute:GpuPod", {}, False, None),
]


@pytest.mark.parametrize(("type_", "props", "protect", "violated"), CASES)
def test_rule_functions(type_: str, props: dict, protect: bool, violated: str | None) -> None:
    found = rules.check(type_, props, protect)
    assert set(found) == ({violated} if violated else set())


def _args(type_: str, props: dict, protect: bool) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )
    return ResourceValidationArgs(type_, props, f"urn:pulumi:s::p::{type_}::r", "r", opts, None)


@pytest.mark.parametrize(("type_", "props", "protect", "violated"), CASES)
def test_policies_through_the_validation_api(type_: str, props: dict, protect: bool, violated: str | None) -> None:
    reported: dict[str, list[str]] = {}
    for policy in rules.POLICIES:
        if not isinstance(policy, ResourceValidationPolicy):
            continue
        policy.validate(
            _args(type_, props, protect), lambda msg, urn, n=policy.name: reported.setdefault(n, []).append(msg)
        )
    assert set(reported) == ({violated} if violated else set())


def test_every_policy_is_mandatory_and_named_in_the_pack() -> None:
    assert [p.name for p in rules.POLICIES] == [*rules.RULES, rules.STACK_RULE]
    assert all(p.enforcement_level.value == "mandatory" for p in rules.POLICIES)


# -- the stack rule: a bucket without its guards -------------------------------------------------------------------
GUARDS = (rules.VERSIONING, rules.ENCRYPTION, rules.PUBLIC_ACCESS)


def _stack(*, present: tuple[str, ...], by: str) -> list[rules.StackResource]:
    bucket = rules.StackResource(BUCKET, "urn:b", {"bucket": "data"})
    other = rules.StackResource(BUCKET, "urn:o", {"bucket": "other"})
    out = [bucket, other]
    for i, t in enumerate(GUARDS):
        out.append(rules.StackResource(t, f"urn:o{i}", {"bucket": "other"}))  # the other bucket is complete
        if t in present:
            refs, props = (frozenset({"urn:b"}), {}) if by == "dependency" else (frozenset(), {"bucket": "data"})
            out.append(rules.StackResource(t, f"urn:g{i}", props, refs))
    return out


@pytest.mark.parametrize("by", ["dependency", "name"])
@pytest.mark.parametrize("mask", range(8))
def test_stack_rule_names_each_missing_guard(mask: int, by: str) -> None:
    present = tuple(t for i, t in enumerate(GUARDS) if mask & (1 << i))
    found = rules.buckets_complete(_stack(present=present, by=by))
    missing = [t for t in GUARDS if t not in present]
    if not missing:
        assert found == {}
        return
    assert set(found) == {"urn:b"}
    assert len(found["urn:b"]) == len(missing)
    for t, message in zip(missing, found["urn:b"], strict=True):
        assert rules.BUCKET_COMPANIONS[t] in message and "data" in message


def _policy_resources(records: list) -> list[PolicyResource]:
    opts = _args(BUCKET, {}, False).opts
    out: dict[str, PolicyResource] = {}
    for r in records:
        out[r.urn] = PolicyResource(r.type, r.inputs, r.urn, r.name, opts, None, None, [], {})
    for r in records:
        out[r.urn].dependencies = [out[d] for d in r.dependencies if d in out]
    return list(out.values())


def _stack_violations(records: list) -> dict[str, list[str]]:
    (policy,) = [p for p in rules.POLICIES if p.name == rules.STACK_RULE]
    reported: dict[str, list[str]] = {}
    args = StackValidationArgs(_policy_resources(records), None)
    policy.validate(args, lambda msg, urn: reported.setdefault(urn, []).append(msg))
    return reported


def test_a_bare_bucket_in_a_mocked_program_is_refused() -> None:
    import pulumi
    import pulumi_aws as aws

    from components import BucketArgs, ObjectStorage, ObjectStorageArgs
    from tests._mocked import run_mocked

    def program() -> None:
        provider = aws.Provider("minio", region="us-east-1", skip_credentials_validation=True)
        ObjectStorage(
            "guarded",
            ObjectStorageArgs(buckets=[BucketArgs(purpose="data", name="lab-data")], tags=TAGS),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        aws.s3.Bucket(
            "bare", bucket="lab-bare", tags=TAGS, opts=pulumi.ResourceOptions(provider=provider, protect=True)
        )

    records = run_mocked(program).resources
    # every resource passes every resource rule: only the stack rule sees what is not there
    assert all(rules.check(r.type, r.inputs, r.protect) == {} for r in records)
    reported = _stack_violations(records)
    (bare,) = [r.urn for r in records if r.name == "bare"]
    assert set(reported) == {bare}
    assert len(reported[bare]) == 3


def test_every_example_phase_passes_the_stack_rule() -> None:
    from tests._pulumi import PHASES, previewed

    for phase in PHASES:
        assert _stack_violations(previewed(phase).resources) == {}, phase
