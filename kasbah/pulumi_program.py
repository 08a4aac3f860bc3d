"""The Pulumi program of a phase stack: config -> spec -> plan -> one PhaseDeployment.

`__main__.py` (the project's `main`) calls `run`; `kasbah preview` runs the same function under the SDK's mocks.
Everything a stack needs is read and checked before the first resource is registered: a missing config key, a
missing secret, a spec with error findings or a spec of another phase stops the program with every problem listed
and nothing registered.

Stack config (namespace `kasbah`):
    spec          the phase spec, relative to the project directory (required)
    buildDir      where `kasbah render` writes `<phase>/` (default `build`)
    phase         the phase the stack deploys; when set, the spec must be that phase
    campusStack   `org/project/stack` owning campus-wide pieces (required unless the phase is the first)
    kasbahCommand the entry point the on-premises steps run (default `kasbah`)
Secrets (`pulumi config set --secret`), never in a spec:
    s3AccessKey, s3SecretKey                 the phase owning object storage
    <password_var> of each BGP session added  e.g. `vault_bgp_password_edge1_mtwa_north`
"""

from __future__ import annotations

import importlib
import sys
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


def required_secrets(plan: Plan) -> list[str]:
    """Config keys (without namespace) of every secret this phase's stack needs."""
    keys = list(S3_KEYS) if owns_storage(plan) else []
    keys += sorted({s.password_var for r in plan.edge.routers for s in r.sessions if s.phase == plan.phase})
    return keys


def read_settings(config: Any) -> StackSettings:
    """Plain settings from a `pulumi.Config("kasbah")`; ProgramError when `spec` is missing."""
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
        kasbah_command=config.get("kasbahCommand") or "kasbah",
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

    config = pulumi.Config(NAMESPACE)
    settings = read_settings(config)
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
    secrets: dict[str, Any] = {}
    for key in required_secrets(plan):
        value = config.get_secret(key)
        if value is None:
            problems.append(f"secret kasbah:{key} is not set (pulumi config set --secret kasbah:{key} ...)")
        secrets[key] = value
    if problems:
        raise ProgramError("; ".join(problems) + "; nothing was registered")

    c = _components()
    files = c.scope_files(plan, renders.render(plan), root)
    deployment = c.PhaseDeployment(
        plan.phase,
        c.PhaseDeploymentArgs(
            plan=plan,
            files=files,
            step=c.ApplyStep(spec=settings.spec, build_dir=settings.build_dir, program=settings.kasbah_command),
            secrets=c.PhaseSecrets(
                s3_access_key=secrets.get("s3AccessKey"),
                s3_secret_key=secrets.get("s3SecretKey"),
                bgp_passwords={k: v for k, v in secrets.items() if k not in S3_KEYS},
            ),
            campus_stack=settings.campus_stack,
        ),
    )
    return deployment.outputs
