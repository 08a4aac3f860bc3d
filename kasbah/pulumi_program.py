"""The Pulumi program of a phase stack: config -> spec -> plan -> render -> one PhaseDeployment.

`__main__.py` (the project's `main`) calls `run`; `kasbah preview` runs the same function under the SDK's mocks.
Everything a stack needs is read and checked before the first resource is registered: a missing config key, a
missing secret, a spec with error findings or a spec of another phase stops the program with every problem listed
and nothing registered. Then the phase is rendered ONCE into `<buildDir>/<phase>` and every step runs
`<kasbahCommand> apply --build <buildDir>/<phase> --tags T --limit L` on that render: no step renders.

Stack config (namespace `kasbah`; typed in Pulumi.yaml's `config:`, see CONFIG_KEYS):
    spec          the phase spec, relative to the project directory (required)
    buildDir      where the program writes `<phase>/` (default `build`; relative to the project, or absolute)
    phase         the phase the stack deploys; when set, the spec must be that phase
    campusStack   `org/project/stack` owning campus-wide pieces (required unless the phase is the first)
    kasbahCommand the entry point the on-premises steps run (default: the `kasbah` script of the venv running
                  the program, relative to the project when inside it, e.g. `.venv/bin/kasbah`)
Secrets (`pulumi config set --secret`), never in a spec; `required_secrets(plan)` lists them:
    s3AccessKey, s3SecretKey     the phase owning object storage
    every vault variable a step passes to `kasbah apply`: each BGP session's password on every edge router of
    the cumulative plan (e.g. `vault_bgp_password_edge1_mtwa_north`), each alert webhook's `token_var`
"""

from __future__ import annotations

import importlib
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kasbah.findings import Finding, Level, SpecError
from kasbah.plan.derive import Plan, derive
from kasbah.report import render_finding
from kasbah.spec.load import load_spec

NAMESPACE = "kasbah"
S3_KEYS = ("s3AccessKey", "s3SecretKey")


class ProgramError(Exception):
    """A problem a user can fix (config, secrets, spec); the message lists every problem found."""


@dataclass(frozen=True)
class StackSettings:
    spec: str
    build_dir: str = "build"
    phase: str | None = None
    campus_stack: str | None = None
    kasbah_command: str = "kasbah"


CONFIG_KEYS: dict[str, str] = {
    "spec": "spec",
    "buildDir": "build_dir",
    "phase": "phase",
    "campusStack": "campus_stack",
    "kasbahCommand": "kasbah_command",
}
"""Stack config key -> StackSettings field: every plain key `read_settings` reads (Pulumi.yaml declares each)."""


def _finding_lines(findings: list[Finding]) -> str:
    return "\n".join(render_finding(f).plain.rstrip() for f in findings)


def load_plan(spec: Path) -> Plan:
    """The plan of a spec, or ProgramError with the findings' messages if it has any error."""
    try:
        loaded = load_spec(spec)
    except SpecError as exc:
        raise ProgramError(f"{spec}: the spec cannot be loaded:\n{_finding_lines(exc.findings)}") from None
    plan, findings = derive(loaded)
    errors = [f for f in findings if f.level >= Level.ERROR]
    if plan is None or errors:
        raise ProgramError(f"{spec}: {len(errors)} error finding(s), nothing was registered:\n{_finding_lines(errors)}")
    return plan


def owns_storage(plan: Plan) -> bool:
    return any(b.phase == plan.phase for b in plan.storage.buckets)


def vault_secrets(plan: Plan) -> list[str]:
    """Every vault variable the phase's steps need: the password of every session on every edge router of the
    cumulative plan (a router's step renders all its sessions), every alert webhook's bearer token, and the
    scheduler's munge key (and slurmdbd's password with accounting)."""
    from kasbah.render.slurm import secret_vars as slurm_secret_vars

    out = {s.password_var for r in plan.edge.routers for s in r.sessions}
    out |= {r.token_var for r in plan.monitoring.receivers if r.token_var}
    if plan.slurm is not None:
        out |= set(slurm_secret_vars(plan.slurm))
    return sorted(out)


def required_secrets(plan: Plan) -> list[str]:
    """Config keys (without namespace) of every secret this phase's stack needs."""
    keys = list(S3_KEYS) if owns_storage(plan) else []
    return keys + vault_secrets(plan)


def secret_commands(plan: Plan) -> list[str]:
    """The `pulumi config set --secret` line of each secret the stack of `plan` needs; without a value on the
    command line the CLI prompts for it, so it stays out of the shell history."""
    return [f"pulumi config set --secret {NAMESPACE}:{key}" for key in required_secrets(plan)]


def default_kasbah_command(root: Path | None = None) -> str:
    """The `kasbah` console script of the venv running this program: relative to `root` when the venv is inside
    the project (`.venv/bin/kasbah`, the same on every machine), absolute when elsewhere, else `kasbah` (PATH)."""
    script = Path(sysconfig.get_path("scripts")) / "kasbah"
    if not script.is_file():
        return "kasbah"
    if root is not None:
        try:
            return script.absolute().relative_to(root.absolute()).as_posix()
        except ValueError:
            pass
    return script.absolute().as_posix()


def read_settings(config: Any, root: Path | None = None) -> StackSettings:
    """Plain settings from a `pulumi.Config("kasbah")`; ProgramError when `spec` is missing. `root`: the project
    directory, for the default `kasbahCommand`."""
    spec = config.get("spec")
    if not spec:
        raise ProgramError(
            "stack config kasbah:spec is not set: this stack has no Pulumi.<stack>.yaml naming its phase spec "
            "(pulumi config set kasbah:spec stacks/<phase>.yaml)"
        )
    return StackSettings(
        spec=spec,
        build_dir=config.get("buildDir") or "build",
        phase=config.get("phase") or None,
        campus_stack=config.get("campusStack") or None,
        kasbah_command=config.get("kasbahCommand") or default_kasbah_command(root),
    )


def _components() -> Any:
    """`components` lives beside `kasbah` in the repository; make it importable when only `kasbah` is installed."""
    try:
        return importlib.import_module("components")
    except ModuleNotFoundError as exc:
        if exc.name != "components":
            raise
        repo = Path(__file__).resolve().parents[1]
        if not (repo / "components" / "__init__.py").is_file():
            raise
        sys.path.insert(0, str(repo))
        return importlib.import_module("components")


def run(root: Path) -> dict[str, Any]:
    """The whole program; returns the stack outputs (the caller exports them). `root`: the project directory."""
    import pulumi

    from kasbah import render as renders
    from kasbah.render.output import RenderTargetError

    config = pulumi.Config(NAMESPACE)
    settings = read_settings(config, root)
    spec = Path(settings.spec)
    if not spec.is_absolute():
        spec = root / spec
    plan = load_plan(spec)
    problems: list[str] = []
    if settings.phase and settings.phase != plan.phase:
        problems.append(
            f"stack {pulumi.get_stack()} deploys phase {settings.phase} (kasbah:phase) but {settings.spec} "
            f"is phase {plan.phase}"
        )
    first = bool(plan.phases) and plan.phases[0].id == plan.phase
    if not first and not settings.campus_stack:
        problems.append(
            f"phase {plan.phase} follows {plan.phases[0].id}: set kasbah:campusStack to the stack owning the "
            f"campus-wide pieces (e.g. organization/kasbah/{plan.phases[0].id})"
        )
    for var in vault_secrets(plan):
        if not var.startswith("vault_"):
            problems.append(
                f"vault variable {var} does not start with vault_: `kasbah apply` receives secrets only as "
                "VAULT_* environment variables; rename it in the spec"
            )
    secrets: dict[str, Any] = {}
    for key in required_secrets(plan):
        value = config.get_secret(key)
        if value is None:
            problems.append(f"secret kasbah:{key} is not set (pulumi config set --secret kasbah:{key} ...)")
        secrets[key] = value
    if problems:
        raise ProgramError("; ".join(problems) + "; nothing was registered")

    c = _components()
    try:
        rendered = renders.render_phase(load_spec(spec), plan)
    except renders.RenderFindingsError as exc:
        raise ProgramError(
            f"{spec}: {len(exc.findings)} error finding(s) in the energy model, nothing was registered:\n"
            f"{_finding_lines(exc.findings)}"
        ) from None
    build_dir = Path(settings.build_dir)
    target = (build_dir if build_dir.is_absolute() else root / build_dir) / plan.phase
    # `pulumi up` runs the program twice (preview, update): an identical tree is left alone (kasbah.render.output).
    try:
        renders.write(rendered, target)
    except RenderTargetError as exc:
        raise ProgramError(f"kasbah:buildDir: {exc}; nothing was registered") from None
    deployment = c.PhaseDeployment(
        plan.phase,
        c.PhaseDeploymentArgs(
            plan=plan,
            files=c.scope_files(plan, rendered, root),
            step=c.ApplyStep(phase=plan.phase, build_dir=settings.build_dir, program=settings.kasbah_command),
            secrets=c.PhaseSecrets(
                s3_access_key=secrets.get("s3AccessKey"),
                s3_secret_key=secrets.get("s3SecretKey"),
                vault={k: v for k, v in secrets.items() if k not in S3_KEYS},
            ),
            campus_stack=settings.campus_stack,
        ),
    )
    return deployment.outputs
