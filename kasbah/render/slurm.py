"""Slurm files under `build/<phase>/slurm/`: slurm.conf, gres.conf, topology.conf, cgroup.conf and the per-job IMEX
prolog/epilog, from `plan.slurm` alone.

The lab uses these files unchanged: nodes and controllers are named, never addressed (DNS or /etc/hosts resolve
them), ports are Slurm's defaults and paths are plain Debian ones, so a daemon in its own mount namespace needs no
rewrite; what cannot run without hardware the lab overrides in a file that includes slurm.conf first.
"""

from __future__ import annotations

from kasbah.plan.derive import Plan
from kasbah.plan.slurm import SLURMCTLD_PORT, SLURMD_PORT, SLURMDBD_PORT, SlurmPlan
from kasbah.render import Files
from kasbah.render.escape import yaml_dump
from kasbah.render.templating import render_template

PREFIX = "slurm/"
MUNGE_KEY_VAR = "vault_slurm_munge_key"
"""The munge key (the cluster's shared secret), from the vault like every other secret."""
DBD_PASSWORD_VAR = "vault_slurm_dbd_password"
"""slurmdbd's database password, when accounting is on."""


def secret_vars(s: SlurmPlan) -> list[str]:
    """The vault variables the slurm role needs for this plan."""
    return [MUNGE_KEY_VAR, *([DBD_PASSWORD_VAR] if s.accounting else [])]


def role_vars(s: SlurmPlan) -> str:
    """slurm/vars.yml: what the slurm role reads besides the config files (names of secrets, never values)."""
    return yaml_dump(
        {
            "kasbah_slurm_cluster_name": s.cluster_name,
            "kasbah_slurm_controllers": list(s.controllers),
            "kasbah_slurm_accounting": s.accounting,
            "kasbah_slurm_imex_per_job": s.imex == "per-job",
            "kasbah_slurm_munge_key_var": MUNGE_KEY_VAR,
            "kasbah_slurm_dbd_password_var": DBD_PASSWORD_VAR if s.accounting else "",
            "kasbah_slurm_qos": [q.model_dump() for q in s.qos],
            "kasbah_slurm_accounts": [a.model_dump() for a in s.accounts],
            "kasbah_slurm_blocks_file": "blocks.tsv",
        },
        header="Rendered by kasbah: the slurm role's values from the plan (vault variable names, never values).",
    )


def blocks_tsv(s: SlurmPlan) -> str:
    """node<TAB>block<TAB>block size for every node: the exporter's `block` label (the plan's, not a config read)."""
    return "".join(f"{n}\t{b.name}\t{b.size}\n" for b in s.blocks for n in b.nodes)


def nodesets(s: SlurmPlan) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """NodeSets by feature (short lines whatever the cluster's size) and each partition's Nodes= entries."""
    sets: dict[str, str] = {}
    nodes: dict[str, list[str]] = {}
    for p in s.partitions:
        if not p.features:
            nodes[p.name] = ["ALL"]
            continue
        entries = []
        for feature in p.features:
            name = f"ns-{feature}"
            sets.setdefault(name, feature)
            entries.append(name)
        nodes[p.name] = entries
    return sorted(sets.items()), nodes


def render_slurm(plan: Plan) -> Files:
    """Relative path (under the phase's render) -> text; empty when the plan runs no scheduler."""
    s = plan.slurm
    if s is None:
        return {}
    sets, partition_nodes = nodesets(s)
    ctx = {
        "campus": plan.campus,
        "phase": plan.phase,
        "s": s,
        "nodesets": sets,
        "partition_nodes": partition_nodes,
        "ctld_port": SLURMCTLD_PORT,
        "slurmd_port": SLURMD_PORT,
        "dbd_port": SLURMDBD_PORT,
    }
    files: Files = {
        f"{PREFIX}slurm.conf": render_template("slurm/slurm.conf.j2", **ctx),
        f"{PREFIX}gres.conf": render_template("slurm/gres.conf.j2", **ctx),
        f"{PREFIX}topology.conf": render_template("slurm/topology.conf.j2", **ctx),
        f"{PREFIX}cgroup.conf": render_template("slurm/cgroup.conf.j2", **ctx),
        f"{PREFIX}vars.yml": role_vars(s),
        f"{PREFIX}blocks.tsv": blocks_tsv(s),
    }
    if s.imex == "per-job":
        files[f"{PREFIX}prolog.d/50-imex.sh"] = render_template("slurm/imex-prolog.sh.j2", **ctx)
        files[f"{PREFIX}epilog.d/50-imex.sh"] = render_template("slurm/imex-epilog.sh.j2", **ctx)
    return files


render = render_slurm
"""The renderer protocol of kasbah.render (`render(plan) -> Files`)."""
