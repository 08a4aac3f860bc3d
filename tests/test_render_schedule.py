"""The power-following schedule is part of the phase's render (`kasbah.render.render_phase`): `kasbah render`
writes it when the campus has an hourly model, a changed schedule re-runs the GPU (pod) steps only, and the GPU role
installs the rendered schedule without an operator pointing `gpu_power_schedule` at it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.phase_deployment import step_triggers
from components.scopes import scope_files
from kasbah import ansible_run
from kasbah import render as renders
from kasbah.cli import app
from kasbah.energy.model import run_model
from kasbah.render.energy import power_schedule_json
from kasbah.spec.load import load_spec
from tests.conftest import REPO, edit, plan_of
from tests.test_apply import N1, sandbox
from tests.test_energy_schedule import _smi

SCHEDULE = "energy/power_schedule.json"
HOURLY = """  hourly:
    target_cfe: 0.9                     # illustrative target (Google's hourly CFE score)
    utilisation: 0.85                   # illustrative: IT load as a fraction of its budget
    gpu_cap_floor: 0.7                  # illustrative: caps never below 70 % of a GPU's maximum power
    solar: {tracking: single_axis, mean_cloud_cover: 0.3}              # illustrative
    wind: {turbine: SWT130/3600, hub_height_m: 115, mean_speed_ms: 7.5}  # illustrative (IEC class III mean)
"""


def _phase_files(spec: Path) -> renders.Files:
    plan, findings = plan_of(spec)
    assert plan is not None, findings
    return renders.render_phase(load_spec(spec), plan)


def _render(spec: Path, out: Path) -> Path:
    result = CliRunner().invoke(app, ["render", str(spec), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "phase1"


def test_stock_phase1_renders_the_schedule_the_model_gives(tmp_path: Path) -> None:
    spec = REPO / "stacks" / "phase1.yaml"
    build = _render(spec, tmp_path / "a")
    loaded = load_spec(spec)
    plan, _ = plan_of(spec)
    assert plan is not None
    result, _ = run_model(loaded, plan)
    assert result is not None
    assert (build / SCHEDULE).read_text(encoding="utf-8") == power_schedule_json(result)
    # byte-identical to `kasbah energy --out`
    energy = CliRunner().invoke(app, ["energy", str(spec), "--out", str(tmp_path / "e")])
    assert energy.exit_code == 0, energy.output
    assert (build / SCHEDULE).read_bytes() == (tmp_path / "e" / "power_schedule.json").read_bytes()
    # render twice -> byte-identical trees
    again = _render(spec, tmp_path / "b")
    first = {p.relative_to(build).as_posix(): p.read_bytes() for p in build.rglob("*") if p.is_file()}
    second = {p.relative_to(again).as_posix(): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second and SCHEDULE in first


def test_no_hourly_model_no_energy_files_and_no_pvlib(stacks: Path) -> None:
    edit(stacks / "campus.yaml", HOURLY, "")
    files = _phase_files(stacks / "phase1.yaml")
    assert not [p for p in files if p.startswith("energy/")]
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    assert files == renders.render(plan)
    # Such a render stays fast: the model's heavy imports (pvlib, pandas) are never loaded.
    code = (
        "import sys; from pathlib import Path; from kasbah import render; from kasbah.plan.derive import derive; "
        "from kasbah.spec.load import load_spec; s = load_spec(Path(sys.argv[1])); "
        "render.render_phase(s, derive(s)[0]); print(sorted({'pvlib', 'pandas'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(stacks / "phase1.yaml")], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize(("old", "new"), [("0.7 ", "0.8 "), ("0.7 ", "0.5 "), ("0.85", "0.6")])
def test_a_changed_schedule_reruns_the_gpu_steps_only(stacks: Path, old: str, new: str) -> None:
    def triggers() -> tuple[dict[str, str], str]:
        spec = stacks / "phase1.yaml"
        plan, _ = plan_of(spec)
        assert plan is not None
        files = _phase_files(spec)
        return step_triggers(plan, scope_files(plan, files, REPO)), files[SCHEDULE]

    before, schedule = triggers()
    line = next(ln for ln in HOURLY.splitlines() if f": {old}" in ln)
    edit(stacks / "campus.yaml", line, line.replace(f": {old}", f": {new}"))
    after, changed_schedule = triggers()
    assert changed_schedule != schedule
    assert before.keys() == after.keys()
    changed = {k for k in before if before[k] != after[k]}
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    assert changed == {p.id for p in plan.pods}


@pytest.mark.parametrize("with_model", [True, False])
def test_the_gpu_role_installs_the_rendered_schedule(stacks: Path, tmp_path: Path, with_model: bool) -> None:
    if not with_model:
        edit(stacks / "campus.yaml", HOURLY, "")
    build = _render(stacks / "phase1.yaml", tmp_path / "build")
    smi, _ = _smi(tmp_path, [1000.0] * 4)
    root = tmp_path / "root"
    sandbox(
        build,
        N1,
        root,
        gpu_manage_packages=False,
        gpu_manage_services=False,
        gpu_nvidia_smi=str(smi),
        gpu_power_follow_python=sys.executable,
        gpu_power_follow_textfile=str(tmp_path / "prom" / "kasbah_power_follow.prom"),
        gpu_power_follow_now=dt.datetime(2025, 1, 1, 0, 5, tzinfo=dt.UTC).isoformat(),
    )
    run = ansible_run.run(build, phase="phase1", limit=N1, tags=["gpu"])
    assert run.succeeded, run.as_dict()
    installed = root / "etc/kasbah/power_schedule.json"
    if with_model:
        assert installed.read_bytes() == (build / SCHEDULE).read_bytes()
        assert json.loads(installed.read_text())["pods"]
    else:
        assert not (build / "energy").exists() and not installed.exists()


@pytest.mark.parametrize(
    ("file", "old", "new", "code"),
    [
        ("campus.yaml", "turbine: SWT130/3600", "turbine: SWT130/3700", "energy.turbine-unknown"),
        (
            "phase1.yaml",
            "wan_uplinks:",
            "energy:\n  protected_pods: [h1-su999]\nwan_uplinks:",
            "energy.protected-pod-unknown",
        ),
    ],
)
def test_energy_model_errors_stop_the_render(
    stacks: Path, tmp_path: Path, file: str, old: str, new: str, code: str
) -> None:
    edit(stacks / file, old, new)
    out = tmp_path / "build"
    result = CliRunner().invoke(app, ["render", str(stacks / "phase1.yaml"), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert code in result.output and "nothing was written" in result.output
    assert not out.exists()
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    with pytest.raises(renders.RenderFindingsError) as exc:
        renders.render_phase(load_spec(stacks / "phase1.yaml"), plan)
    assert code in {f.code for f in exc.value.findings}
