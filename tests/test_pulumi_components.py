"""The phase stacks under Pulumi mocks: children and counts, stable names, plan values in inputs, the S3 provider,
protect flags, ordering, campus-wide pieces only in the first phase, outputs, and the resource bound."""

from __future__ import annotations

import pytest

from kasbah.preview import preview
from kasbah.pulumi_program import default_kasbah_command
from policy import rules
from tests._pulumi import PHASES, children, of_type, planned, previewed, provider_inputs, spec_path
from tests.conftest import REPO

COMMAND = "command:local:Command"
MAX_RESOURCES = 1500
KASBAH = default_kasbah_command(REPO)


@pytest.mark.parametrize("phase", PHASES)
def test_a_phase_registers_what_it_adds_and_stays_small(phase: str) -> None:
    result, plan = previewed(phase), planned(phase)
    added = sorted(p.id for p in plan.pods if p.phase == phase)
    pods = of_type(result, "kasbah:compute:GpuPod")
    assert sorted(p.name for p in pods) == [f"{phase}-{p}" for p in added]
    routers = sorted(r.id for r in plan.edge.routers)
    edges = of_type(result, "kasbah:wan:EdgeRouter")
    assert sorted(e.name for e in edges) == [f"{phase}-{r}" for r in routers]
    for component in [*pods, *edges]:
        kids = children(result, component.name)
        assert [(k.type, k.name) for k in kids] == [(COMMAND, f"{component.name}-apply")], component.urn
    fabrics = of_type(result, "kasbah:network:ComputeFabric")
    assert [f.name for f in fabrics] == [f"{phase}-fabric"]
    cables = sorted({s.cable for r in plan.edge.routers for s in r.sessions if s.phase == phase})
    uplinks = of_type(result, "kasbah:wan:WanUplink")
    assert sorted(u.name for u in uplinks) == [f"{phase}-uplink-{c}" for c in cables]
    for uplink in uplinks:  # a cable has no step of its own: its routers' steps configure its sessions
        assert children(result, uplink.name) == []
    assert len(of_type(result, "kasbah:monitoring:Monitoring")) == 1
    assert len(of_type(result, "kasbah:scheduler:SlurmCluster")) == 1
    assert len(result.resources) <= MAX_RESOURCES
    # one Command per pod, fabric, edge router, monitoring and the scheduler: nothing per node, cable or session
    assert len(of_type(result, COMMAND)) == len(added) + 1 + len(routers) + 1 + 1


def test_names_and_inputs_are_stable_between_runs() -> None:
    again = preview(spec_path("phase1"))
    first = previewed("phase1")
    assert [(r.urn, r.inputs, r.dependencies, r.protect) for r in again.resources] == [
        (r.urn, r.inputs, r.dependencies, r.protect) for r in first.resources
    ]
    assert again.outputs == first.outputs


def test_the_slurm_step_runs_after_the_phases_pods_with_the_munge_key() -> None:
    result = previewed("phase2")
    step = result.named("phase2-slurm-apply")
    assert step.inputs["create"] == (
        f"{KASBAH} apply --build build/phase2 --tags slurm --limit slurm_controllers,gpu_nodes"
    )
    assert set(step.inputs["environment"]) == {"KASBAH_BUILD_DIR", "VAULT_SLURM_MUNGE_KEY"}
    pods = [p.id for p in planned("phase2").pods if p.phase == "phase2"]
    assert pods and all(result.named(f"phase2-{p}-apply").urn in step.dependencies for p in pods)


def test_pod_step_applies_the_phase_render_on_its_group_after_the_fabric() -> None:
    result = previewed("phase1")
    fabric = result.named("phase1-fabric-apply")
    assert fabric.inputs["create"] == f"{KASBAH} apply --build build/phase1 --tags fabric --limit phase_phase1"
    step = result.named("phase1-h1-su001-apply")
    assert step.inputs["create"] == f"{KASBAH} apply --build build/phase1 --tags base,gpu --limit pod_h1_su001"
    assert step.inputs["environment"] == {"KASBAH_BUILD_DIR": "build"}
    assert fabric.urn in step.dependencies
    assert len(step.inputs["triggers"]) == 1 and len(step.inputs["triggers"][0]) == 64
    assert result.outputs["triggers"]["h1-su001"] == step.inputs["triggers"][0]


def test_one_step_per_edge_router_with_every_session_password_then_monitoring() -> None:
    result, plan = previewed("phase1"), planned("phase1")
    edge1 = result.named("phase1-edge1-apply")
    assert edge1.inputs["create"] == f"{KASBAH} apply --build build/phase1 --tags wan_edge --limit edge1"
    # both cables of edge1 (mtwa-north and mtwa-south) in ONE step: the role templates every session of edge1
    assert set(edge1.inputs["environment"]) == {
        "KASBAH_BUILD_DIR",
        "VAULT_BGP_PASSWORD_EDGE1_MTWA_NORTH",
        "VAULT_BGP_PASSWORD_EDGE1_MTWA_SOUTH",
    }
    assert "password" not in edge1.inputs["create"].lower()
    limits = [r.inputs["create"].rsplit("--limit ", 1)[1] for r in of_type(result, COMMAND)]
    assert len(limits) == len(set(limits)), "two steps of one stack configure the same hosts"
    north = result.named("phase1-uplink-mtwa-north")
    assert north.dependencies == (edge1.urn,)
    monitoring = result.named("phase1-monitoring-apply")
    assert monitoring.inputs["create"] == f"{KASBAH} apply --build build/phase1 --tags monitoring --limit monitoring"
    for router in plan.edge.routers:
        assert result.named(f"phase1-{router.id}-apply").urn in monitoring.dependencies, router.id
    assert result.named("phase1-object-storage-telemetry").urn in monitoring.dependencies
    assert monitoring.inputs["environment"]["KASBAH_TELEMETRY_BUCKET"] == f"{plan.campus}-telemetry"


def test_object_storage_provider_points_at_the_campus_endpoint() -> None:
    result, plan = previewed("phase1"), planned("phase1")
    (provider,) = of_type(result, "pulumi:providers:aws")
    p = provider_inputs(provider.inputs)
    assert p["endpoints"] == [{"s3": plan.storage.endpoint}]
    assert p["region"] == plan.storage.region
    assert p["s3UsePathStyle"] is True
    for flag in (
        "skipCredentialsValidation",
        "skipRequestingAccountId",
        "skipMetadataApiCheck",
        "skipRegionValidation",
    ):
        assert p[flag] is True, flag
    assert p["defaultTags"] == {"tags": {"campus": plan.campus, "phase": "phase1"}}
    for r in result.resources:
        if r.type.startswith("aws:s3/"):
            assert r.provider == provider.urn, r.urn


def test_buckets_are_protected_configured_and_carry_the_plans_values() -> None:
    result, plan = previewed("phase1"), planned("phase1")
    buckets = {b.inputs["bucket"]: b for b in of_type(result, "aws:s3/bucket:Bucket")}
    assert sorted(buckets) == sorted(b.name for b in plan.storage.buckets)
    assert {r.type for r in result.resources if r.protect} == {"aws:s3/bucket:Bucket"}
    for spec in plan.storage.buckets:
        base = f"phase1-object-storage-{spec.purpose}"
        bucket = buckets[spec.name]
        assert bucket.protect and bucket.inputs["tags"] == {"campus": plan.campus, "phase": "phase1"}
        assert bucket.inputs["objectLockEnabled"] is (spec.object_lock_days is not None)
        assert result.named(f"{base}-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
        sse = result.named(f"{base}-encryption").inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert sse["sseAlgorithm"] == "AES256"
        pab = result.named(f"{base}-public-access").inputs
        assert all(
            pab[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        lifecycle = result.named(f"{base}-lifecycle")
        rules_by_id = {r["id"]: r for r in lifecycle.inputs["rules"]}
        assert rules_by_id["noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == (
            spec.noncurrent_expire_days
        )
        if spec.expire_days is not None:
            assert rules_by_id["expire"]["expiration"]["days"] == spec.expire_days
        assert result.named(f"{base}-versioning").urn in lifecycle.dependencies
    lock = result.named("phase1-object-storage-checkpoints-object-lock").inputs["rule"]["defaultRetention"]
    checkpoints = next(b for b in plan.storage.buckets if b.purpose == "checkpoints")
    assert lock == {"mode": "COMPLIANCE", "days": checkpoints.object_lock_days}


@pytest.mark.parametrize("phase", ["phase2", "phase3"])
def test_later_phases_read_campus_pieces_through_a_stack_reference(phase: str) -> None:
    result = previewed(phase)
    assert not [r for r in result.resources if r.type.startswith("aws:")]
    (ref,) = of_type(result, "pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == "organization/kasbah/phase1"
    assert result.outputs["endpoints"]["buckets"]["telemetry"] == "casablanca-ai-telemetry"
    monitoring = result.named(f"{phase}-monitoring-apply")
    assert monitoring.inputs["environment"]["KASBAH_TELEMETRY_BUCKET"] == "casablanca-ai-telemetry"
    assert "storage" not in result.outputs


def test_stack_outputs_carry_capacity_endpoints_inventory_and_wan_paths() -> None:
    result, plan = previewed("phase2"), planned("phase2")
    out = result.outputs
    assert out["capacity"]["increment"]["gpus"] == plan.increment.gpus
    assert out["capacity"]["cumulative"]["racks"] == plan.cumulative.racks
    assert out["endpoints"]["s3"] == plan.storage.endpoint
    assert out["inventory"] == "build/phase2/inventory"
    europe = next(r for r in plan.wan.regions if r.id == "europe")
    assert out["wanPaths"]["europe"]["preferred"] == europe.preferred.cables
    assert previewed("phase1").outputs["storage"]["buckets"]["checkpoints"] == "casablanca-ai-checkpoints"


@pytest.mark.parametrize("phase", PHASES)
def test_every_registered_resource_passes_the_policy_pack(phase: str) -> None:
    for r in previewed(phase).resources:
        assert rules.check(r.type, r.inputs, r.protect) == {}, r.urn
