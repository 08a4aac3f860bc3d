"""The policy pack's rules, called directly and through pulumi_policy's validation objects."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

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
        policy.validate(
            _args(type_, props, protect), lambda msg, urn, n=policy.name: reported.setdefault(n, []).append(msg)
        )
    assert set(reported) == ({violated} if violated else set())


def test_every_policy_is_mandatory_and_named_in_the_pack() -> None:
    assert [p.name for p in rules.POLICIES] == list(rules.RULES)
    assert all(p.enforcement_level.value == "mandatory" for p in rules.POLICIES)
