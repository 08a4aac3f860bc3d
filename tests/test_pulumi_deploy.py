"""`pulumi up` on a fresh machine, every part that can run without the Pulumi CLI: the dependency file installs
everything the program imports, Pulumi.yaml's typed config is what the program reads, the stack files parse and
list exactly the secrets their plan needs, the default `kasbah` is the project venv's, the drift workflow."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kasbah import render
from kasbah.cli import app
from kasbah.pulumi_program import (
    CONFIG_KEYS,
    NAMESPACE,
    StackSettings,
    default_kasbah_command,
    load_plan,
    read_settings,
    required_secrets,
    secret_commands,
)
from tests._pulumi import PHASES
from tests.conftest import REPO

LOCAL = ("kasbah", "components", "rules")
"""Top-level names the repository itself provides (`rules`: the policy pack's sibling module)."""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: list[str]) -> set[str]:
    out = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.add(_normalize(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]))
    return out


def _module_file(module: str) -> Path | None:
    """The repository file of a local module (`kasbah.plan.derive`, `components`, `rules`), if there is one."""
    parts = module.split(".")
    if parts[0] == "rules":
        parts = ["policy", *parts]
    base = REPO.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_top_levels(starts: list[Path]) -> dict[str, set[str]]:
    """Third-party top-level module -> the repository files importing it, following every local import (also the
    ones inside functions, and the renderers `kasbah.render` loads by name)."""
    todo = list(starts)
    seen: set[Path] = set()
    found: dict[str, set[str]] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - (path.name == "__init__.py"))[0]
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                names = [module] + [f"{module}.{a.name}" for a in node.names]
            if any(n == "kasbah.render" or n.startswith("kasbah.render.") for n in names):
                todo += [f for name in render.RENDERERS if (f := _module_file(name))]  # loaded by name
            for name in names:
                top = name.split(".")[0]
                if top in LOCAL:
                    local = _module_file(name)
                    if local is not None:
                        todo.append(local)
                elif top != "__future__" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _declared(requirements: Path) -> set[str]:
    names = _requirement_names(requirements.read_text(encoding="utf-8").splitlines())
    if "-e ." in requirements.read_text(encoding="utf-8").splitlines():
        project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        names |= _requirement_names(project["dependencies"])
    return names


@pytest.mark.parametrize(
    ("starts", "requirements", "sure"),
    [
        (
            [
                "__main__.py",
                "kasbah/pulumi_program.py",
                *sorted(str(p.relative_to(REPO)) for p in (REPO / "components").glob("*.py")),
            ],
            "requirements.txt",
            {"pulumi", "pulumi_aws", "pulumi_command", "pydantic", "jinja2"},
        ),
        (["policy/__main__.py", "policy/rules.py"], "policy/requirements.txt", {"pulumi_policy"}),
    ],
    ids=["program", "policy-pack"],
)
def test_every_import_resolves_to_a_declared_distribution(starts: list[str], requirements: str, sure: set) -> None:
    imports = imported_top_levels([REPO / s for s in starts])
    assert sure <= set(imports), "the walk found too little to be trusted"
    dists = packages_distributions()
    declared = _declared(REPO / requirements)
    missing = {}
    for top, files in sorted(imports.items()):
        owners = {_normalize(d) for d in dists.get(top, [])}
        assert owners, f"{top} (imported by {sorted(files)}) belongs to no installed distribution"
        if not owners & declared:
            missing[top] = sorted(files)
    assert not missing, f"imported but not installed by {requirements}: {missing}"


def test_requirements_install_the_project_into_pulumis_venv() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert "-e ." in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["kasbah"] == "kasbah.cli:main"  # what .venv/bin/kasbah runs
    assert "components*" in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]


def test_the_config_schema_is_what_the_program_reads() -> None:
    schema = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    assert set(schema) == set(CONFIG_KEYS)
    assert all(entry["type"] == "string" and entry["description"] for entry in schema.values())
    assert "default" not in schema["spec"]  # required: every stack names its spec
    # the declared defaults give the program's own defaults
    defaults = {k: v["default"] for k, v in schema.items() if "default" in v}

    class Config:
        def get(self, key: str) -> str | None:
            return {"spec": "stacks/phase1.yaml", **defaults}.get(key)

    assert read_settings(Config(), REPO) == StackSettings(
        spec="stacks/phase1.yaml", build_dir="build", kasbah_command=default_kasbah_command(REPO)
    )


@pytest.mark.parametrize("phase", PHASES)
def test_stack_files_parse_and_list_exactly_the_secrets_their_plan_needs(phase: str) -> None:
    path = REPO / f"Pulumi.{phase}.yaml"
    text = path.read_text(encoding="utf-8")
    config = yaml.safe_load(text)["config"]
    plan = load_plan(REPO / config[f"{NAMESPACE}:spec"])
    assert plan.phase == config[f"{NAMESPACE}:phase"] == phase
    secrets = set(required_secrets(plan))
    for key, value in config.items():
        ns, _, name = key.partition(":")
        assert ns == NAMESPACE, key
        if name in secrets:
            assert isinstance(value, dict) and set(value) == {"secure"}, f"{key} must be set with --secret"
        else:
            assert name in CONFIG_KEYS, f"{key}: not a key the program reads"
    listed = [line.removeprefix("#").strip() for line in text.splitlines() if line.startswith("#   pulumi config")]
    assert listed == secret_commands(plan)
    assert ("kasbah:campusStack" in config) is (plan.phases[0].id != phase)
    assert "ciphertext" in text  # the honest note: `pulumi config set --secret` writes its ciphertext here


@pytest.mark.parametrize("phase", PHASES)
def test_preview_secrets_prints_the_config_set_lines(phase: str) -> None:
    result = CliRunner().invoke(app, ["preview", f"stacks/{phase}.yaml", "--secrets"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == secret_commands(load_plan(REPO / "stacks" / f"{phase}.yaml"))


@pytest.mark.parametrize(
    ("where", "expected"),
    [("inside", ".venv/bin/kasbah"), ("outside", "ABSOLUTE"), ("missing", "kasbah")],
)
def test_the_default_kasbah_is_the_running_venvs(
    where: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    venv_bin = (root if where == "inside" else tmp_path / "elsewhere") / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    if where != "missing":
        (venv_bin / "kasbah").write_text("#!/bin/sh\n")
    monkeypatch.setattr("sysconfig.get_path", lambda name, *a, **k: str(venv_bin))
    got = default_kasbah_command(root)
    assert got == (str(venv_bin / "kasbah") if expected == "ABSOLUTE" else expected)


def test_readme_gives_the_deploy_sequence() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying a phase with Pulumi", 1)[1].split("\n## ", 1)[0]
    order = [
        "pip install -r requirements.txt",
        "kasbah bootstrap --endpoint",
        "pulumi login",
        "pulumi stack init phase1",
        "kasbah preview stacks/phase1.yaml --secrets",
        "pulumi config set --secret",
        "pulumi up -s phase1",
        "pulumi stack init phase2",
        "pulumi up -s phase2",
    ]
    at = [section.find(step) for step in order]
    assert -1 not in at and at == sorted(at), dict(zip(order, at, strict=True))
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    for used in re.findall(r"kasbah (\w+)", section):
        assert used in commands or used == "apply", used


def test_drift_workflow_refreshes_every_stack_on_the_campus_runner() -> None:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "drift.yml").read_text(encoding="utf-8"))
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["schedule"][0]["cron"]
    (job,) = doc["jobs"].values()
    assert "self-hosted" in job["runs-on"] and "campus" in job["runs-on"]
    stacks = sorted(p.stem for p in (REPO / "stacks").glob("phase*.yaml"))
    assert job["strategy"]["matrix"]["stack"] == stacks
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    w = step["with"]
    assert w["command"] == "preview" and w["refresh"] is True and w["expect-no-changes"] is True
    install = " ".join(str(s.get("run", "")) for s in job["steps"])
    assert "pip install" in install and "-r requirements.txt" in install
