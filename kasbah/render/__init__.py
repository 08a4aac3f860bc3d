"""Renders: the plan turned into the files under `build/<phase>/` that Ansible, Prometheus and FRR consume.

Every renderer is a pure function `render(plan) -> Files` (relative POSIX path -> text). They never re-derive
anything: numbers, names and addresses come from the plan. The same plan gives byte-identical files, so a digest
of a scope's files is a stable trigger for the Pulumi command that applies that scope.

Layout of `build/<phase>/` (each renderer owns its prefixes):

    ansible.cfg, requirements.yml, execution-environment.yml, plan.json        kasbah.render.ansible
    inventory/ (kasbah.yml, inventory.json, hosts/<pod>.tsv, group_vars/, etc_hosts),
    inventory_plugins/kasbah_inventory.py                                       kasbah.render.inventory
    frr/<router>.conf.j2, frr/<router>.vars.yml                                 kasbah.render.frr
    fabric/<phase>/<switch>-d<domain>/ (opensm.conf.j2, partitions.conf)       kasbah.render.fabric
    gpu/pods/<pod>.yml, gpu/imex/<pod>/rNN.cfg, gpu/dcgm-counters.csv           kasbah.render.gpu
    monitoring/                                                                 kasbah.render.monitoring
    slurm/ (slurm.conf, gres.conf, topology.conf, cgroup.conf, prolog.d/, epilog.d/) kasbah.render.slurm
    energy/power_schedule.json (only when the campus has energy.hourly)       kasbah.render.energy, via render_phase

A plan value never becomes syntax: each renderer escapes it for the language it lands in with the helpers of
kasbah.render.escape (Go templates, PromQL, YAML through an emitter, JSON, Jinja read again by Ansible, FRR, INI,
host tables, shell); tests/test_injection.py and tests/test_yaml_types.py hold every sink to its consumer.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path

from kasbah.findings import Finding, Level
from kasbah.plan.derive import Plan
from kasbah.spec.load import LoadedSpec

Files = dict[str, str]
Renderer = Callable[[Plan], Files]

RENDERERS: tuple[str, ...] = (
    "kasbah.render.ansible",
    "kasbah.render.inventory",
    "kasbah.render.frr",
    "kasbah.render.fabric",
    "kasbah.render.gpu",
    "kasbah.render.monitoring",
    "kasbah.render.slurm",
)
"""Modules with a `render(plan) -> Files`; a module not yet written is skipped (see `renderers`)."""


def renderers() -> list[Renderer]:
    out: list[Renderer] = []
    for name in RENDERERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        out.append(module.render)
    return out


def render(plan: Plan) -> Files:
    """Every file of the phase, sorted by path. Two renderers writing one path is a bug."""
    files: Files = {}
    for fn in renderers():
        for path, text in fn(plan).items():
            if path in files:
                raise RuntimeError(f"two renderers write {path}")
            files[path] = text
    return dict(sorted(files.items()))


class RenderFindingsError(Exception):
    """ERROR findings from a part of the phase's render (the hourly energy model's inputs): nothing is written."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(f"{len(findings)} error finding(s)")
        self.findings = findings


def energy_files(spec: LoadedSpec, plan: Plan) -> tuple[Files, list[Finding]]:
    """`energy/power_schedule.json` (as `kasbah energy --out` writes it) and the model's findings; none when the
    campus declares no hourly model. The model needs the spec (weather, measured series), not just the plan, which
    is why it is not a `render(plan)` renderer; pvlib/numpy are imported only when there is a model to run."""
    if spec.campus.energy.hourly is None:
        return {}, []
    from kasbah.energy.model import run_model
    from kasbah.render.energy import power_schedule_json

    result, findings = run_model(spec, plan)
    if result is None:
        return {}, findings
    return {"energy/power_schedule.json": power_schedule_json(result)}, findings


def render_phase(spec: LoadedSpec, plan: Plan) -> Files:
    """Every file of the phase as deployed: `render(plan)` plus the power-following schedule. The one entry point
    for a real render (CLI, Pulumi program, lab); RenderFindingsError when the energy model has an ERROR finding."""
    extra, findings = energy_files(spec, plan)
    errors = [f for f in findings if f.level >= Level.ERROR]
    if errors:
        raise RenderFindingsError(errors)
    files = render(plan)
    for path, text in extra.items():
        if path in files:
            raise RuntimeError(f"two renderers write {path}")
        files[path] = text
    return dict(sorted(files.items()))


def digest(files: Files, prefixes: Iterable[str] = ("",)) -> str:
    """SHA-256 over the files under any of `prefixes` (paths and contents): a scope's trigger."""
    h = hashlib.sha256()
    wanted = tuple(prefixes)
    for path in sorted(files):
        if path.startswith(wanted):
            h.update(path.encode())
            h.update(b"\0")
            h.update(files[path].encode())
            h.update(b"\0")
    return h.hexdigest()


def stale(files: Files, out_dir: Path) -> list[str]:
    """Rendered paths whose file in `out_dir` is missing or different (extra files, such as host_vars, are allowed)."""
    out = []
    for rel, text in files.items():
        target = out_dir / rel
        try:
            same = target.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            out.append(rel)
    return out


def write(files: Files, out_dir: Path) -> bool:
    """Make `out_dir` hold exactly `files`, all or nothing, safe beside concurrent writers and readers
    (`kasbah.render.output`); True when anything changed on disk."""
    from kasbah.render import output

    return output.write(files, out_dir, digest(files))
