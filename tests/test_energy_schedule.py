"""The power schedule on a node: the applier turns the hour's cap into `nvidia-smi -pl` (stateful fake nvidia-smi),
and the GPU role installs the schedule, its timer and applies the hour's cap once, idempotently."""

from __future__ import annotations

import datetime as dt
import json
import math
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kasbah import ansible_run
from kasbah.cli import app
from tests.conftest import REPO
from tests.test_apply import N1, STATEFUL_SMI, build, sandbox  # noqa: F401  (build is a fixture)

APPLIER = REPO / "playbooks" / "roles" / "gpu" / "files" / "kasbah-power-follow"


def _schedule(tmp_path: Path, hours: dict[str, float], pods: list[str]) -> Path:
    path = tmp_path / "power_schedule.json"
    path.write_text(
        json.dumps(
            {"floor": 0.7, "gpu_max_w": {"gb200-nvl72": 1200}, "pods": pods, "protected_pods": [], "hours": hours}
        )
    )
    return path


def _smi(tmp_path: Path, limits: list[float]) -> tuple[Path, Path]:
    state = tmp_path / "gpus.json"
    state.write_text(json.dumps([{"pm": "Enabled", "limit": w} for w in limits]))
    smi = tmp_path / "nvidia-smi"
    smi.write_text(STATEFUL_SMI.format(python=sys.executable, state=str(state)))
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    return smi, state


def _apply(
    schedule: Path, smi: Path, now: str, pod: str = "h1-su001", base: float = 1000, textfile: Path | None = None
):
    args = [sys.executable, str(APPLIER), "--schedule", str(schedule), "--pod", pod, "--sku", "gb200-nvl72"]
    args += ["--base-w", str(base), "--nvidia-smi", str(smi), "--now", now]
    if textfile:
        args += ["--textfile", str(textfile)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def _limits(state: Path) -> list[float]:
    return [g["limit"] for g in json.loads(state.read_text())]


@pytest.mark.parametrize(
    ("now", "hour"),
    [
        ("2025-01-01T00:30:00Z", 0),
        ("2025-01-02T05:00:00Z", 29),
        ("2026-03-01T00:00:00Z", 59 * 24),
        ("2028-02-29T10:00:00Z", 58 * 24 + 10),  # leap day repeats 28 February
        ("2028-03-01T00:00:00Z", 59 * 24),  # and March lines up again
        ("2025-12-31T23:59:00Z", 8759),
        ("2025-06-01T01:00:00+01:00", (151 * 24) + 0),  # times are taken in UTC
    ],
)
def test_hour_of_the_typical_year(tmp_path: Path, now: str, hour: int) -> None:
    smi, state = _smi(tmp_path, [1000.0])
    out = _apply(_schedule(tmp_path, {str(hour): 0.75}, ["h1-su001"]), smi, now)
    assert out.startswith(f"hour {hour}: cap 0.75, 900 W")
    assert _limits(state) == [900.0]


def test_caps_follow_the_hours_and_restore_the_base(tmp_path: Path) -> None:
    smi, state = _smi(tmp_path, [1000.0, 1000.0, 950.0, 1000.0])
    schedule = _schedule(tmp_path, {"10": 0.7, "11": 0.8}, ["h1-su001"])
    textfile = tmp_path / "textfile" / "kasbah_power_follow.prom"
    _apply(schedule, smi, "2025-01-01T10:05:00Z", textfile=textfile)
    assert _limits(state) == [840.0] * 4
    assert "kasbah_energy_gpu_power_cap_ratio" in textfile.read_text() and " 0.7\n" in textfile.read_text()
    calls = Path(f"{state}.calls").read_text().splitlines()
    _apply(schedule, smi, "2025-01-01T10:55:00Z")  # same hour: nothing to do
    assert Path(f"{state}.calls").read_text().splitlines() == calls
    _apply(schedule, smi, "2025-01-01T11:00:00Z")
    assert _limits(state) == [960.0] * 4
    _apply(schedule, smi, "2025-01-01T12:00:00Z", textfile=textfile)  # no cap: back to the plan's limit
    assert _limits(state) == [1000.0] * 4
    assert "kasbah_energy_gpu_power_cap_ratio" in textfile.read_text() and " 1.0\n" in textfile.read_text()


def test_unlisted_pods_keep_their_limit_and_the_driver_range_holds(tmp_path: Path) -> None:
    smi, state = _smi(tmp_path, [1000.0, 1000.0])
    schedule = _schedule(tmp_path, {"0": 0.1}, ["h1-su001"])  # a cap below the driver's 200 W minimum
    _apply(schedule, smi, "2025-01-01T00:00:00Z", pod="h1-su002")
    assert _limits(state) == [1000.0, 1000.0]
    assert not Path(f"{state}.calls").exists()
    _apply(schedule, smi, "2025-01-01T00:00:00Z", pod="h1-su001", base=1200)
    assert _limits(state) == [200.0, 200.0]  # 120 W asked, the driver's minimum set


def test_gpu_role_installs_and_applies_the_schedule_once(build: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "energy"
    result = CliRunner().invoke(app, ["energy", str(REPO / "stacks" / "phase1.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    schedule = json.loads((out / "power_schedule.json").read_text())
    assert "h1-su001" in schedule["pods"] and schedule["hours"]
    hour, cap = next(iter(schedule["hours"].items()))
    now = (dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=int(hour), minutes=5)).isoformat()
    smi, state = _smi(tmp_path, [1000.0] * 4)
    root = tmp_path / "root"
    sandbox(
        build,
        N1,
        root,
        gpu_manage_packages=False,
        gpu_manage_services=False,
        gpu_nvidia_smi=str(smi),
        gpu_power_schedule=str(out / "power_schedule.json"),
        gpu_power_follow_python=sys.executable,
        gpu_power_follow_textfile=str(tmp_path / "prom" / "kasbah_power_follow.prom"),
        gpu_power_follow_now=now,
    )
    first = ansible_run.run(build, phase="phase1", limit=N1, tags=["gpu"])
    assert first.succeeded, first.as_dict()
    want = min(1000, math.floor(schedule["gpu_max_w"]["gb200-nvl72"] * cap))  # the fake driver's maximum is 1,000 W
    assert _limits(state) == [float(want)] * 4
    assert (root / "etc/kasbah/power_schedule.json").read_text() == (out / "power_schedule.json").read_text()
    service = (root / "etc/systemd/system/kasbah-power-follow.service").read_text()
    assert "--pod h1-su001" in service and "--textfile" in service and "--now" not in service
    assert "OnCalendar=*-*-* *:00:10 UTC" in (root / "etc/systemd/system/kasbah-power-follow.timer").read_text()
    second = ansible_run.run(build, phase="phase1", limit=N1, tags=["gpu"])
    assert second.succeeded and second.hosts[N1].changed == 0


def test_textfile_carries_the_models_supply_and_load_for_the_hour(tmp_path: Path) -> None:
    smi, _ = _smi(tmp_path, [1000.0])
    schedule = _schedule(tmp_path, {}, ["h1-su001"])
    data = json.loads(schedule.read_text())
    data["supply_mw"] = [float(h % 24) for h in range(8760)]
    data["load_mw"] = [30.0] * 8760
    schedule.write_text(json.dumps(data))
    textfile = tmp_path / "power.prom"
    _apply(schedule, smi, "2025-03-03T13:20:00Z", textfile=textfile)
    lines = dict(line.rsplit(" ", 1) for line in textfile.read_text().splitlines() if not line.startswith("#"))
    assert float(lines["kasbah_energy_modelled_supply_watts"]) == 13e6
    assert float(lines["kasbah_energy_modelled_load_watts"]) == 30e6
    assert float(lines["kasbah_energy_gpu_power_cap_ratio"]) == 1.0


def test_rendered_schedule_is_compact_and_complete() -> None:
    from kasbah.energy import model_for_spec
    from kasbah.render.energy import power_schedule_json

    result = model_for_spec(REPO / "stacks" / "phase2.yaml")
    assert result is not None
    data = json.loads(power_schedule_json(result))
    assert len(data["supply_mw"]) == len(data["load_mw"]) == 8760
    assert data["pods"] == result.schedule.pods and data["floor"] == result.schedule.floor
    assert {int(h) for h in data["hours"]} == {e.hour for e in result.schedule.entries}
    assert all(data["floor"] <= c < 1 for c in data["hours"].values())
    assert data["gpu_max_w"] and all(w > 0 for w in data["gpu_max_w"].values())
