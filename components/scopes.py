"""What each on-premises step depends on, in ONE place: its files, and so its trigger.

A step re-runs when and only when the digest of its scope changes. A scope's files are:

- the rendered files under the scope's prefixes (`kasbah.render.render(plan)`: inventory, group_vars, FRR, ...),
- the plan's own slice for that scope (`_plan/...`, added here): the pod, fabric, router or thresholds the
  renderers read, so a changed plan value re-runs the step even where no renderer writes it out yet,
- the Ansible roles the step runs (`playbooks/roles/<role>/`), so a role fix reaches the hosts it concerns.

Adjust `scope_prefixes` and `SCOPE_ROLES` when a renderer or a role changes its layout; nothing else needs to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from kasbah.plan.derive import Plan
from kasbah.plan.names import group_name, imex_dir
from kasbah.render import Files, digest

ScopeKind = Literal["pod", "fabric", "router", "monitoring", "slurm"]

SCOPE_ROLES: Mapping[ScopeKind, tuple[str, ...]] = {
    "pod": ("base", "gpu"),
    "fabric": ("fabric",),
    "router": ("phase_guard", "wan_edge"),
    "monitoring": ("phase_guard", "monitoring"),
    "slurm": ("phase_guard", "slurm"),
}
"""Roles each step runs (its `--tags`); their files under `playbooks/roles/` are part of the step's inputs."""

PLAN_PREFIX = "_plan/"

COMMON_PREFIXES = ("ansible.cfg", "inventory/kasbah.yml", "inventory_plugins/", "inventory/group_vars/all.")
"""Files every step's Ansible run reads (config, inventory plugin, group `all`): a change there re-runs every step.
The whole-campus files (`inventory/inventory.json`, `plan.json`, `etc_hosts`) are left out on purpose: they change
with anything, and each step's own part of them is hashed through its scope's files."""


def scope_prefixes(kind: ScopeKind, key: str = "", groups: Iterable[str] = ()) -> tuple[str, ...]:
    """Path prefixes (in the combined file map of `scope_files`) that make up one scope.

    kind/key: pod/<pod id>, fabric/<phase>, router/<router id>, monitoring. groups: the inventory groups of the
    step's hosts whose `group_vars` it reads (e.g. `phase_phase1`, `hall_h1`), besides its own.

    Every prefix ends at a delimiter ('/' or the '.' before an extension; ids hold neither), so one scope never
    takes in the files of an object whose id merely starts with its key (pod `x` and pod `x-r01`).
    """
    roles = tuple(f"playbooks/roles/{r}/" for r in SCOPE_ROLES[kind])
    group_vars = tuple(f"inventory/group_vars/{g}." for g in groups)
    if kind == "pod":
        own: tuple[str, ...] = (
            f"inventory/hosts/{key}.",
            f"inventory/group_vars/{group_name('pod', key)}.",
            f"gpu/pods/{key}.",
            imex_dir(key),
            "gpu/dcgm-counters.csv",
            "energy/",  # the power-following schedule (kasbah.render.render_phase) the GPU role installs
            f"{PLAN_PREFIX}pods/{key}.",
        )
    elif kind == "fabric":
        own = (f"fabric/{key}/", f"{PLAN_PREFIX}fabric/{key}.")
    elif kind == "router":
        own = (f"frr/{key}.", f"inventory/host_vars/{key}.", f"{PLAN_PREFIX}edge/{key}.")
    elif kind == "monitoring":
        own = ("monitoring/", f"{PLAN_PREFIX}monitoring.")
    elif kind == "slurm":
        own = ("slurm/", f"{PLAN_PREFIX}slurm.")
    else:
        raise ValueError(f"unknown scope kind {kind!r}")
    return (*own, *group_vars, *COMMON_PREFIXES, *roles)


def step_groups(kind: ScopeKind, *, phase: str = "", hall: str = "") -> tuple[str, ...]:
    """The shared inventory groups whose variables a step's hosts read (the inventory renderer's group names)."""
    if kind == "pod":
        return ("gpu_nodes", group_name("phase", phase), group_name("hall", hall))
    if kind == "fabric":
        return (group_name("phase", phase),)
    if kind == "router":
        return ("edge_routers",)
    if kind == "slurm":
        return ("slurm_controllers", "gpu_nodes")
    return ("monitoring",)


def _json(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def plan_slices(plan: Plan) -> Files:
    """The plan's values per scope, as pseudo-files under `_plan/` (sorted JSON: byte-stable)."""
    out: Files = {}
    for pod in plan.pods:
        blocks = [a.model_dump(mode="json") for a in plan.addresses.allocations if a.pod == pod.id]
        out[f"{PLAN_PREFIX}pods/{pod.id}.json"] = _json({"pod": pod.model_dump(mode="json"), "addresses": blocks})
    for fabric in plan.fabrics:
        out[f"{PLAN_PREFIX}fabric/{fabric.phase}.json"] = _json(fabric.model_dump(mode="json"))
    edge_wide = plan.edge.model_dump(mode="json", exclude={"routers"})
    for router in plan.edge.routers:
        out[f"{PLAN_PREFIX}edge/{router.id}.json"] = _json({"router": router.model_dump(mode="json"), **edge_wide})
    out[f"{PLAN_PREFIX}monitoring.json"] = _json(
        {
            "thresholds": plan.monitoring.model_dump(mode="json"),
            "pods": [[p.id, p.hall, p.nodes] for p in plan.pods],
            "routers": [r.id for r in plan.edge.routers],
            "storage": plan.storage.model_dump(mode="json"),
        }
    )
    if plan.slurm is not None:
        out[f"{PLAN_PREFIX}slurm.json"] = _json(plan.slurm.model_dump(mode="json"))
    return out


def role_files(
    root: Path | None, kinds: Iterable[ScopeKind] = ("pod", "fabric", "router", "monitoring", "slurm")
) -> Files:
    """The text of the roles the steps run, keyed `playbooks/roles/<role>/...`; none when `root` has no roles."""
    out: Files = {}
    if root is None:
        return out
    for kind in kinds:
        for role in SCOPE_ROLES[kind]:
            base = root / "playbooks" / "roles" / role
            if not base.is_dir():
                continue
            for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                out[path.relative_to(root).as_posix()] = path.read_bytes().decode("utf-8", errors="replace")
    return out


def scope_files(plan: Plan, rendered: Files, root: Path | None = None) -> Files:
    """Everything any scope may hash: rendered files, the plan's slices and the roles' files."""
    return {**rendered, **plan_slices(plan), **role_files(root)}


def scope_digest(files: Files, kind: ScopeKind, keys: Iterable[str] = ("",), groups: Iterable[str] = ()) -> str:
    """The trigger of one step: a digest over the union of the scopes `kind`/`key` for every key."""
    groups = tuple(groups)
    prefixes = sorted({p for key in keys for p in scope_prefixes(kind, key, groups)})
    return digest(files, prefixes)
