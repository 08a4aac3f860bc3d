"""Every step carries exactly the secrets its scope's render references, read from the render the program wrote.

For each Command a phase stack registers, the files its `--limit` hosts read in its `--build` directory are
grepped for `vault_\\w+` (and the webhook token variables `monitoring/receivers.yml` names); those, and only those,
must be `VAULT_*` variables of the step's environment. Cases: the example phases as they are, and with alert
receivers whose webhooks take bearer tokens.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from components._step import phase_group, pod_group
from kasbah import render
from kasbah.plan.derive import Plan
from kasbah.preview import PLACEHOLDER, PreviewResult, preview_config, run_program
from kasbah.pulumi_program import ProgramError, load_plan, required_secrets
from tests.conftest import REPO, STOCK_MONITORING, edit

VAULT = re.compile(r"\bvault_\w+")
RECEIVERS = (
    "monitoring: {receivers: {wan: {page_url: 'https://pager.dc/wan', token_var: vault_pager_token}, "
    "facility: {ticket_url: 'https://tickets.dc/fm', token_var: vault_facility_token}, "
    "energy: {ticket_url: 'https://tickets.dc/energy'}}}"
)


def deploy(spec: Path, build: Path) -> tuple[PreviewResult, Plan]:
    """The phase program under mocks, its render written under `build` (absolute buildDir, as the lab sets it)."""
    plan = load_plan(spec)
    cfg = preview_config(spec, plan) | {"kasbah:buildDir": str(build)}
    return run_program(cfg, plan.phase, root=REPO, stack_outputs={}), plan


def files_read(plan: Plan, build: Path, limit: str) -> list[Path]:
    """The rendered files the hosts of `limit` read (their own files, their groups' variables, group `all`)."""
    pods = {pod_group(p.id): p for p in plan.pods}
    fabrics = {phase_group(f.phase): f.phase for f in plan.fabrics}
    routers = {r.id for r in plan.edge.routers}
    inv = build / "inventory"
    globs: list[tuple[Path, str]] = [(inv / "group_vars", "all.*")]
    if limit in pods:
        p = pods[limit]
        globs += [
            (inv / "hosts", f"{p.id}.*"),
            (inv / "group_vars", f"{limit}.*"),
            (build / "gpu" / "pods", f"{p.id}.*"),
        ]
        globs += [(build / "gpu" / "imex", f"{p.id}-r*")]
        for group in ("gpu_nodes", phase_group(p.phase), f"hall_{p.hall}".replace("-", "_")):
            globs.append((inv / "group_vars", f"{group}.*"))
    elif limit in fabrics:
        globs += [(build / "fabric" / fabrics[limit], "**/*"), (inv / "group_vars", f"{limit}.*")]
    elif limit in routers:
        globs += [
            (build / "frr", f"{limit}.*"),
            (inv / "host_vars", f"{limit}.*"),
            (inv / "group_vars", "edge_routers.*"),
        ]
    elif limit == "monitoring":
        globs += [(build / "monitoring", "**/*"), (inv / "group_vars", "monitoring.*")]
    elif limit == "slurm_controllers,gpu_nodes":
        globs += [(build / "slurm", "**/*"), (inv / "group_vars", "slurm_controllers.*")]
        globs += [(inv / "group_vars", "gpu_nodes.*")]
    else:
        raise AssertionError(f"a step limited to {limit!r}, which is no pod, fabric, router, monitoring or slurm")
    return sorted(p for base, pattern in globs for p in base.glob(pattern) if p.is_file())


def referenced(paths: list[Path]) -> set[str]:
    out: set[str] = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        out |= set(VAULT.findall(text))
        if path.name == "receivers.yml":
            doc = yaml.safe_load(text) or {}
            out |= {t["var"] for t in doc.get("monitoring_receiver_tokens") or []}
    return out


CASES = [
    pytest.param(phase, receivers, id=f"{phase}{'-receivers' if receivers else ''}")
    for phase in ("phase1", "phase2", "phase3")
    for receivers in (False, True)
]


@pytest.mark.parametrize(("phase", "receivers"), CASES)
def test_every_step_carries_exactly_the_secrets_its_scope_references(
    phase: str, receivers: bool, stacks: Path, tmp_path: Path
) -> None:
    # The example campus pages the WAN owner; both a campus with every owner's receiver and one with none.
    edit(stacks / "campus.yaml", STOCK_MONITORING, RECEIVERS if receivers else "monitoring: {}")
    result, plan = deploy(stacks / f"{phase}.yaml", tmp_path / "build")
    steps = [r for r in result.resources if r.type == "command:local:Command"]
    assert steps
    seen: set[str] = set()
    for step in steps:
        argv = shlex.split(step.inputs["create"])
        build = Path(argv[argv.index("--build") + 1])
        assert build == tmp_path / "build" / phase, step.name
        limit = argv[argv.index("--limit") + 1]
        wanted = referenced(files_read(plan, build, limit))
        env = step.inputs["environment"]
        carried = {k.lower() for k in env if k.startswith("VAULT_")}
        if limit.startswith("edge"):
            assert wanted, f"{step.name}: no session password found in its router's files"
        assert carried == wanted, f"{step.name} (--limit {limit})"
        assert all(env[k] == PLACEHOLDER for k in env if k.startswith("VAULT_")), step.name
        seen |= carried
    # every secret the stack asks for is carried by some step, and the other way round
    assert seen == {k for k in required_secrets(plan) if k.startswith("vault_")}
    if receivers:
        assert {"vault_pager_token", "vault_facility_token"} <= seen


def test_the_render_is_written_once_before_anything_is_registered(tmp_path: Path) -> None:
    spec = REPO / "stacks" / "phase1.yaml"
    result, plan = deploy(spec, tmp_path / "build")
    target = tmp_path / "build" / "phase1"
    assert render.stale(render.render(plan), target) == []
    assert {shlex.split(r.inputs["create"])[3] for r in result.resources if r.type == "command:local:Command"} == {
        str(target)
    }


def test_nothing_is_written_when_a_secret_is_missing(tmp_path: Path) -> None:
    spec = REPO / "stacks" / "phase2.yaml"
    plan = load_plan(spec)
    cfg = preview_config(spec, plan) | {"kasbah:buildDir": str(tmp_path / "build")}
    del cfg["kasbah:vault_bgp_password_edge1_mtwa_north"]  # a phase-1 session: phase 2's edge1 step needs it too
    with pytest.raises(ProgramError, match="kasbah:vault_bgp_password_edge1_mtwa_north is not set"):
        run_program(cfg, "phase2", root=REPO)
    assert not (tmp_path / "build").exists()


def test_a_token_variable_outside_vault_is_refused(stacks: Path, tmp_path: Path) -> None:
    edit(
        stacks / "campus.yaml",
        STOCK_MONITORING,
        "monitoring: {receivers: {wan: {page_url: 'https://p.dc/x', token_var: pager_token}}}",
    )
    spec = stacks / "phase1.yaml"
    plan = load_plan(spec)
    cfg = preview_config(spec, plan) | {"kasbah:buildDir": str(tmp_path / "build")}
    with pytest.raises(ProgramError, match="pager_token does not start with vault_"):
        run_program(cfg, "phase1", root=REPO)
    assert not (tmp_path / "build").exists()
