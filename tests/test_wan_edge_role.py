"""The wan_edge playbook and role as Ansible sees them: syntax and the production lint profile (no root needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}


def test_playbook_passes_syntax_check() -> None:
    proc = subprocess.run(
        [BIN / "ansible-playbook", "--syntax-check", "-i", "localhost,", "playbooks/wan_edge.yml"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_role_passes_ansible_lint_production_profile() -> None:
    proc = subprocess.run(
        [
            BIN / "ansible-lint",
            "--offline",
            "--profile",
            "production",
            "playbooks/wan_edge.yml",
            "playbooks/roles/wan_edge",
        ],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failure(s), 0 warning(s)" in proc.stdout + proc.stderr


def test_role_has_the_standard_layout() -> None:
    role = REPO / "playbooks" / "roles" / "wan_edge"
    for rel in ("defaults/main.yml", "tasks/main.yml", "handlers/main.yml", "meta/main.yml", "meta/argument_specs.yml"):
        assert (role / rel).is_file(), rel
