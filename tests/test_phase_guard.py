"""The phase guard, for real through ansible-runner: a host a newer phase configured is left unchanged by an older
phase's run; a host of another campus or of a sibling phase fails with what to do; a failed run records nothing."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import ansible_runner
import yaml

REPO = Path(__file__).resolve().parents[1]

PLAY = [
    {
        "name": "A concern several phases configure",
        "hosts": "all",
        "gather_facts": False,
        "pre_tasks": [
            {
                "name": "Guard",
                "ansible.builtin.import_role": {"name": "phase_guard"},
                "vars": {"phase_guard_concern": "thing"},
            }
        ],
        "tasks": [
            {
                "name": "Write what this phase configures",
                "ansible.builtin.copy": {"dest": "{{ out }}", "content": "{{ kasbah_phase }}\n", "mode": "0644"},
            },
            {"name": "Fail on request", "ansible.builtin.fail": {"msg": "asked to"}, "when": "fail | default(false)"},
        ],
        "post_tasks": [
            {
                "name": "Record",
                "ansible.builtin.import_role": {"name": "phase_guard", "tasks_from": "record"},
                "vars": {"phase_guard_concern": "thing"},
            }
        ],
    }
]


def _run(work: Path, phase: str, order: int, campus: str = "casablanca-ai", fail: bool = False) -> tuple[str, str]:
    private = Path(tempfile.mkdtemp(prefix="guard-", dir=work))
    (private / "project").mkdir()
    (private / "project" / "play.yml").write_text(yaml.safe_dump(PLAY, sort_keys=False))
    shutil.copytree(REPO / "playbooks" / "roles", private / "project" / "roles")
    inventory = {
        "all": {"hosts": {"h1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}
    }
    (private / "inventory.yml").write_text(yaml.safe_dump(inventory))
    r = ansible_runner.run(
        private_data_dir=str(private),
        playbook="play.yml",
        inventory=str(private / "inventory.yml"),
        extravars={
            "kasbah_campus": campus,
            "kasbah_phase": phase,
            "kasbah_phase_order": order,
            "phase_guard_state_dir": str(work / "state"),
            "out": str(work / "configured"),
            "fail": fail,
        },
        envvars={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        suppress_env_files=True,
        quiet=True,
    )
    text = "\n".join(str(e.get("stdout", "")) for e in r.events)
    return str(r.status), text


def _recorded(work: Path) -> dict[str, object]:
    return json.loads((work / "state" / "thing.json").read_text())


def test_an_older_phase_leaves_a_newer_host_alone(tmp_path: Path) -> None:
    assert _run(tmp_path, "phase1", 1)[0] == "successful"
    assert _recorded(tmp_path) == {"campus": "casablanca-ai", "phase": "phase1", "order": 1}
    assert _run(tmp_path, "phase2", 2)[0] == "successful"
    assert (tmp_path / "configured").read_text() == "phase2\n"
    status, text = _run(tmp_path, "phase1", 1)  # phase 1's stack re-run after a role fix
    assert status == "successful"
    assert "carries phase2's plan for thing" in text and "left unchanged" in text
    assert (tmp_path / "configured").read_text() == "phase2\n"
    assert _recorded(tmp_path)["phase"] == "phase2"
    assert _run(tmp_path, "phase2", 2)[0] == "successful"  # the owner re-applies as often as it likes
    assert _run(tmp_path, "phase3", 3)[0] == "successful"
    assert _recorded(tmp_path)["phase"] == "phase3"


def test_another_campus_or_a_sibling_phase_fails_naming_the_record(tmp_path: Path) -> None:
    assert _run(tmp_path, "phase2", 2)[0] == "successful"
    status, text = _run(tmp_path, "phase2b", 2)
    assert status == "failed" and "carries casablanca-ai phase2" in text
    status, text = _run(tmp_path, "phase3", 3, campus="other-campus")
    assert status == "failed" and "thing.json" in text
    assert _recorded(tmp_path)["phase"] == "phase2"


def test_a_failed_run_claims_nothing(tmp_path: Path) -> None:
    assert _run(tmp_path, "phase1", 1)[0] == "successful"
    assert _run(tmp_path, "phase2", 2, fail=True)[0] == "failed"
    assert _recorded(tmp_path)["phase"] == "phase1"
