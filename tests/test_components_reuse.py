"""The components outside the campus stack: another program's own Args and provider, two deployments in one
program, options passed down to children, and the campus stack's old URNs kept through aliases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_command import Provider as CommandProvider

from components import (
    ApplyStep,
    BucketArgs,
    EdgeRouter,
    EdgeRouterArgs,
    GpuPod,
    GpuPodArgs,
    Monitoring,
    MonitoringArgs,
    ObjectStorage,
    ObjectStorageArgs,
    PhaseDeployment,
    PhaseDeploymentArgs,
    PhaseSecrets,
    scope_files,
)
from kasbah import render
from kasbah.preview import Registered
from kasbah.pulumi_program import S3_KEYS, required_secrets
from policy import rules
from tests._mocked import Mocked, run_mocked
from tests._pulumi import PHASES, planned, previewed
from tests.conftest import REPO

COMMAND = "command:local:Command"
LAB_TAGS = {"campus": "unilab", "phase": "lab1"}
LAB_STEP = ApplyStep(phase="lab1", build_dir="/srv/unilab/build", program="/opt/kasbah/bin/kasbah")


def university_lab() -> None:
    """A university lab: one rack, a MinIO endpoint, its own aws.Provider; no campus spec, no plan."""
    minio = aws.Provider(
        "minio",
        region="us-east-1",
        access_key="lab",
        secret_key=pulumi.Output.secret("lab-secret"),
        endpoints=[aws.ProviderEndpointArgs(s3="http://minio.lab.example.edu:9000")],
        s3_use_path_style=True,
        skip_credentials_validation=True,
        skip_requesting_account_id=True,
        skip_metadata_api_check=True,
        skip_region_validation=True,
    )
    storage = ObjectStorage(
        "lab-storage",
        ObjectStorageArgs(
            buckets=[
                BucketArgs(purpose="scratch", name=pulumi.Output.concat("unilab-", "scratch"), expire_days=14),
                BucketArgs(purpose="models", name="unilab-models", object_lock_days=7),
            ],
            tags=LAB_TAGS,
        ),
        opts=pulumi.ResourceOptions(providers=[minio]),
    )
    shell = CommandProvider("lab-shell")
    GpuPod(
        "lab-rack1",
        GpuPodArgs(
            pod_id="rack1",
            step=LAB_STEP,
            trigger=storage.buckets["scratch"].arn,  # an Input from another resource
            sku="gb200-nvl72",
            racks=1,
            nodes=18,
            gpus=72,
        ),
        opts=pulumi.ResourceOptions(depends_on=[storage], providers=[shell], protect=True),
    )


@pytest.fixture(scope="module")
def lab() -> Mocked:
    return run_mocked(university_lab, stack="lab1", project="unilab")


def test_object_storage_uses_the_callers_provider_and_builds_none(lab: Mocked) -> None:
    providers = [r for r in lab.resources if r.type == "pulumi:providers:aws"]
    assert [p.name for p in providers] == ["minio"]
    s3 = [r for r in lab.resources if r.type.startswith("aws:s3/")]
    assert len(s3) == 2 * 5 + 1  # per bucket: bucket, versioning, encryption, public access, lifecycle; one lock
    assert {r.provider for r in s3} == {providers[0].urn}
    assert lab.named("lab-storage-scratch").inputs["bucket"] == "unilab-scratch"
    assert lab.named("lab-storage-models-object-lock").inputs["rule"]["defaultRetention"]["days"] == 7
    assert all(rules.check(r.type, r.inputs, r.protect) == {} for r in lab.resources)


def test_gpu_pod_step_from_plain_args_with_options_passed_down(lab: Mocked) -> None:
    step = lab.named("lab-rack1-apply")
    assert (
        step.inputs["create"]
        == "/opt/kasbah/bin/kasbah apply --build /srv/unilab/build/lab1 --tags base,gpu --limit pod_rack1"
    )
    assert step.inputs["triggers"] == ["arn:aws:s3:::unilab-scratch"]
    assert step.protect  # opts.protect of the component, inherited through parent
    (shell,) = [r for r in lab.resources if r.type == "pulumi:providers:command"]
    assert step.provider == shell.urn  # opts.providers of the component, inherited through parent
    # opts.depends_on of the component, handed to the child (the SDK expands a component into its resources)
    storage = lab.named("lab-storage").urn
    stored = {r.urn for r in lab.resources if r.parent == storage and r.custom}
    assert len(stored) == 11 and stored <= set(step.dependencies)


@pytest.mark.parametrize("kind", ["gpu-pod", "edge-router", "monitoring", "object-storage", "object-storage-provider"])
def test_every_component_hands_depends_on_protect_and_providers_to_its_children(kind: str) -> None:
    def program() -> None:
        first = CommandProvider("first-shell")
        gate = GpuPod("gate", GpuPodArgs(pod_id="gate", step=LAB_STEP, trigger="t0"))
        opts = pulumi.ResourceOptions(depends_on=[gate], protect=True)
        if kind == "gpu-pod":
            GpuPod(
                "x",
                GpuPodArgs(pod_id="p", step=LAB_STEP, trigger="t"),
                opts=opts.merge(pulumi.ResourceOptions(providers=[first])),
            )
        elif kind == "edge-router":
            EdgeRouter(
                "x",
                EdgeRouterArgs(router_id="r1", step=LAB_STEP, trigger="t", passwords={"vault_p": "s"}),
                opts=opts.merge(pulumi.ResourceOptions(providers=[first])),
            )
        elif kind == "monitoring":
            Monitoring(
                "x",
                MonitoringArgs(step=LAB_STEP, trigger="t", tokens={"vault_tok": "s"}),
                opts=opts.merge(pulumi.ResourceOptions(providers=[first])),
            )
        else:
            minio = aws.Provider("first-minio", region="us-east-1")
            ObjectStorage(
                "x",
                ObjectStorageArgs(buckets=[BucketArgs(purpose="b", name="b")], tags=LAB_TAGS),
                # `providers=[...]` or a single `provider=`: either way the component builds no provider of its own
                opts=opts.merge(
                    pulumi.ResourceOptions(provider=minio)
                    if kind == "object-storage-provider"
                    else pulumi.ResourceOptions(providers=[minio])
                ),
            )

    result = run_mocked(program)
    component = next(r for r in result.resources if r.name == "x")
    kids = [r for r in result.resources if r.parent == component.urn]
    assert kids
    gate_step = result.named("gate-apply").urn
    gate = result.named("gate").urn
    wanted_provider = next(r.urn for r in result.resources if r.name in ("first-shell", "first-minio"))
    assert not [k for k in kids if k.type.startswith("pulumi:providers:")]  # the caller's provider, none of its own
    for kid in kids:
        assert kid.name.startswith("x-"), kid.name
        assert kid.protect, kid.name
        assert kid.provider == wanted_provider, kid.name
        assert {gate, gate_step} & set(kid.dependencies), kid.name


def _deployment(name: str, phase: str, opts: pulumi.ResourceOptions | None = None) -> PhaseDeployment:
    plan = planned(phase)
    secrets = {k: "x" for k in required_secrets(plan)}
    return PhaseDeployment(
        name,
        PhaseDeploymentArgs(
            plan=plan,
            files=scope_files(plan, render.render(plan), REPO),
            step=ApplyStep(phase=phase),
            secrets=PhaseSecrets(
                s3_access_key=secrets.get("s3AccessKey"),
                s3_secret_key=secrets.get("s3SecretKey"),
                vault={k: v for k, v in secrets.items() if k not in S3_KEYS},
            ),
            campus_stack=None if plan.phases[0].id == phase else "organization/kasbah/phase1",
        ),
        opts=opts,
    )


@pytest.mark.parametrize(
    "pairs",
    [(("phase1", "phase1"), ("phase2", "phase2")), (("campus-a", "phase1"), ("campus-b", "phase1"))],
    ids=["two-phases", "one-phase-twice"],
)
def test_two_deployments_in_one_program_have_no_duplicate_urn(pairs: tuple) -> None:
    result = run_mocked(lambda: [_deployment(name, phase) for name, phase in pairs], stack="both")
    counts = Counter(result.urns())
    assert [u for u, n in counts.items() if n > 1] == []
    for name, _ in pairs:
        assert any(r.name.startswith(f"{name}-") for r in result.resources)


def _old_name(r: Registered, by_urn: dict[str, Registered], aliases: dict, memo: dict[str, str]) -> str:
    """The name `r` had before the prefix rule: its explicit alias, or its parent's alias by the SDK's prefix rule."""
    if r.urn in memo:
        return memo[r.urn]
    named = [a.spec.name for a in aliases.get(r.urn, []) if a.HasField("spec") and a.spec.name]
    old = named[0] if named else r.name
    parent = by_urn.get(r.parent)
    if not named and parent is not None:
        parent_old = _old_name(parent, by_urn, aliases, memo)
        if parent_old != parent.name and r.name.startswith(parent.name):
            old = parent_old + r.name[len(parent.name) :]
    memo[r.urn] = old
    return old


@pytest.mark.parametrize("phase", PHASES)
def test_the_campus_stacks_old_urns_are_all_aliased(phase: str) -> None:
    before = set(json.loads((Path(__file__).parent / "data" / "urns_before_issue11.json").read_text())[phase])
    plan = planned(phase)
    secrets = {f"kasbah:{k}": "x" for k in required_secrets(plan)}
    cfg = {"kasbah:spec": f"stacks/{phase}.yaml", "kasbah:phase": phase, **secrets}
    if plan.phases[0].id != phase:
        cfg["kasbah:campusStack"] = "organization/kasbah/phase1"

    def program() -> None:
        from kasbah.pulumi_program import run

        run(REPO)

    result = run_mocked(program, stack=phase, project="kasbah", config=cfg)
    by_urn = {r.urn: r for r in result.resources}
    memo: dict[str, str] = {}
    after = set()
    for r in result.resources:
        chain = r.urn.split("::kasbah::", 1)[1].rsplit("::", 1)[0]
        after.add(f"{chain}::{_old_name(r, by_urn, result.aliases, memo)}")
    dropped = before - after
    # only the per-cable Commands go: each router now has one step (EdgeRouter), registered anew
    assert dropped == {u for u in before if "kasbah:wan:WanUplink$command:local:Command::" in u}
    assert dropped
    added = after - before
    # new since: a step per edge router, and the scheduler's step (issue 14)
    new = ("kasbah:wan:EdgeRouter", "kasbah:scheduler:SlurmCluster")
    assert added and all(any(n in u for n in new) for u in added), sorted(added)[:5]
    assert len(result.resources) == len(previewed(phase).resources)
