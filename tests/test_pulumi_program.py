"""The program's guards (nothing registered on bad input) and `kasbah preview` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kasbah.cli import app
from kasbah.preview import PLACEHOLDER, run_program
from kasbah.pulumi_program import ProgramError, required_secrets
from tests._pulumi import planned, previewed
from tests.conftest import REPO, edit

runner = CliRunner()
ENV = {"KASBAH_WIDTH": "120", "NO_COLOR": "1"}
SECRETS1 = (
    {f"kasbah:{k}": PLACEHOLDER for k in ("s3AccessKey", "s3SecretKey", "vault_alert_token_wan")}
    | {
        f"kasbah:vault_bgp_password_{r}_{c}": PLACEHOLDER
        for r, c in (
            ("edge1", "mtwa_north"),
            ("edge1", "mtwa_south"),
            ("edge2", "atlas_offshore"),
            ("edge2", "seamewe_3"),
        )
    }
    | {"kasbah:vault_slurm_munge_key": PLACEHOLDER}
)


def _refused(config: dict[str, str], stack: str = "phase1") -> str:
    with pytest.raises(ProgramError) as info:
        run_program(config, stack, root=REPO)
    return str(info.value)


def test_missing_spec_config_registers_nothing() -> None:
    assert "kasbah:spec is not set" in _refused({}, stack="phase9")


def test_missing_secrets_are_all_listed_and_nothing_is_registered() -> None:
    message = _refused({"kasbah:spec": "stacks/phase1.yaml"})
    for key in (
        "s3AccessKey",
        "s3SecretKey",
        "vault_bgp_password_edge1_mtwa_north",
        "vault_bgp_password_edge2_seamewe_3",
        "vault_slurm_munge_key",
    ):
        assert f"kasbah:{key} is not set" in message
    assert message.endswith("nothing was registered")


def test_a_spec_of_another_phase_is_refused() -> None:
    cfg = {"kasbah:spec": "stacks/phase1.yaml", "kasbah:phase": "phase2", **SECRETS1}
    assert "deploys phase phase2 (kasbah:phase) but stacks/phase1.yaml is phase phase1" in _refused(cfg)


def test_a_later_phase_needs_the_campus_stack() -> None:
    cfg = {"kasbah:spec": "stacks/phase2.yaml"} | {
        f"kasbah:{k}": PLACEHOLDER for k in required_secrets(planned("phase2"))
    }
    assert "set kasbah:campusStack" in _refused(cfg, stack="phase2")


def test_a_spec_with_errors_stops_the_program_with_its_findings(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "sku: gb200-nvl72", "sku: gb200-nvl27")
    message = _refused({"kasbah:spec": str(stacks / "phase1.yaml"), **SECRETS1})
    assert "error finding(s), nothing was registered" in message
    assert "unknown system SKU 'gb200-nvl27'" in message


def test_the_program_registers_when_config_is_complete() -> None:
    result = run_program({"kasbah:spec": "stacks/phase1.yaml", **SECRETS1}, "phase1", root=REPO)
    assert len(result.resources) == len(previewed("phase1").resources)


def test_cli_preview_prints_the_tree_and_counts_deterministically() -> None:
    first = runner.invoke(app, ["preview", "stacks/phase1.yaml"], env=ENV)
    assert first.exit_code == 0, first.output
    assert "kasbah:compute:GpuPod phase1-h1-su001" in first.output
    assert "aws:s3/bucket:Bucket phase1-object-storage-checkpoints [protect]" in first.output
    assert "after: phase1-fabric-apply" in first.output
    assert f"     {len(planned('phase1').pods)}  kasbah:compute:GpuPod" in first.output
    assert PLACEHOLDER not in first.output
    second = runner.invoke(app, ["preview", "stacks/phase1.yaml"], env=ENV)
    assert second.output == first.output


def test_cli_preview_json_masks_secrets() -> None:
    result = runner.invoke(app, ["preview", "stacks/phase1.yaml", "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["total"] == len(doc["resources"]) == sum(doc["counts"].values())
    assert PLACEHOLDER not in result.output and "[secret]" in result.output


def test_cli_preview_refuses_a_spec_with_errors(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "sku: gb200-nvl72", "sku: gb200-nvl27")
    result = runner.invoke(app, ["preview", str(stacks / "phase1.yaml")], env=ENV)
    assert result.exit_code == 1
    assert "nothing was written or applied" in result.output


def test_cli_preview_of_a_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["preview", "stacks/phase9.yaml"], env=ENV)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_ci_workflow_previews_every_example_stack_with_the_policy_pack() -> None:
    import yaml

    doc = yaml.safe_load((REPO / ".github" / "workflows" / "preview.yml").read_text(encoding="utf-8"))
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    (job,) = doc["jobs"].values()
    stacks = sorted(p.stem for p in (REPO / "stacks").glob("phase*.yaml"))
    assert job["strategy"]["matrix"]["stack"] == stacks
    assert sorted(p.name for p in REPO.glob("Pulumi.phase*.yaml")) == [f"Pulumi.{s}.yaml" for s in stacks]
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    w = step["with"]
    assert w["command"] == "preview" and w["policyPacks"] == "policy"
    assert w["expect-no-changes"] == "${{ github.event_name == 'push' }}"
    assert (REPO / w["policyPacks"] / "PulumiPolicy.yaml").is_file()
