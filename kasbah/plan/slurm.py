"""The scheduler's layout: Slurm controllers, node definitions, NVLink blocks, the fabric tree, partitions, accounts.

One Slurm cluster serves the campus; a phase's plan holds every GPU node standing after it, so a later phase's render
carries the earlier phases' nodes and blocks under the same names and only appends its own. Names never move:

- nodes are the plan's host names (`h1-su001-r03-n07`), from `kasbah.plan.hosts`;
- a block is one NVLink domain: the rack for NVL72 (`h1-su001-r03`, 18 trays), the scalable unit (pod) for
  DGX/HGX systems whose NVLink domain is one node. Blocks are listed in build order (phases, then halls, then pods,
  then racks): topology/block pairs neighbouring blocks into higher-level blocks in that order, so a new phase's
  blocks are appended and never re-pair earlier ones (a decommissioned pod's blocks do leave a gap);
- the tree mirrors the compute fabric: one leaf group per pod (a rail-optimised SU's leaves reach every node of the
  SU), under one top switch per fabric (a phase that `extends` an earlier fabric joins its top). Separate fabrics
  stay separate trees: Slurm then never spans a job across fabrics that share no switch.

Slurm 24.11 takes one TopologyPlugin per cluster (topology.yaml with several came with 25.05): block where the cluster
has rack-scale NVLink domains (a job's NVLink reach matters most there), tree otherwise; the spec may choose.

The plan holds per-pod node groups and per-block ranges, not per-node objects (a 500 MW phase has 66,000 trays):
`SlurmPlan.nodes` and `SlurmBlock.nodes` expand them on demand.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Network

from kasbah.catalog.models import Catalog, GpuSystem
from kasbah.findings import Findings, Level, Path, did_you_mean
from kasbah.plan.addresses import Allocation
from kasbah.plan.compute import PodPlan
from kasbah.plan.hosts import host_name, nodes_per_rack
from kasbah.plan.model import PlanModel
from kasbah.plan.services import ServiceHost
from kasbah.spec.load import LoadedSpec
from kasbah.spec.phase import Scheduler, SchedulerAccount
from kasbah.yamlsource import SourceDoc

CONTROLLER_HOSTS = ("slurm1", "slurm2")
"""The controller pair (SlurmctldHost: the first is primary, the second its backup)."""
CONTROLLER_OFFSETS = (2, 3)
"""Host offsets of the controllers in the services block of the phase that first runs the scheduler (.1 is the
monitoring server, subnet managers start at .9): a Kasbah convention, so they never move."""
SLURMCTLD_PORT = 6817
SLURMD_PORT = 6818
SLURMDBD_PORT = 6819
MIB = 2**20


class SlurmNode(PlanModel):
    """One node as Slurm sees it (expanded from its pod's group on demand)."""

    name: str
    cpus: int | None
    real_memory_mb: int | None
    gpus: int
    block: str
    pod: str
    hall: str
    phase: str


class SlurmNodeGroup(PlanModel):
    """The nodes of one pod: same SKU, same figures."""

    pod: str
    hall: str
    phase: str
    sku: str
    nodes: int
    per_rack: int
    cpus: int | None
    real_memory_mb: int | None
    gpus: int
    features: list[str]

    @cached_property
    def hostlists(self) -> list[str]:
        """Slurm hostlist expressions of the pod's nodes, one per rack."""
        return range_hostlists(self.pod, self.per_rack, 0, self.nodes)


class SlurmBlock(PlanModel):
    """One NVLink domain (or SU): `size` consecutive nodes of pod `pod` from node index `first` (0-based)."""

    name: str
    pod: str
    first: int
    size: int
    per_rack: int

    @cached_property
    def nodes(self) -> list[str]:
        out = []
        for i in range(self.first, self.first + self.size):
            rack, tray = divmod(i, self.per_rack)
            out.append(host_name(self.pod, rack + 1, tray + 1))
        return out

    @cached_property
    def hostlists(self) -> list[str]:
        """Slurm hostlist expressions of the block's nodes, one per rack."""
        return range_hostlists(self.pod, self.per_rack, self.first, self.size)


class SlurmBlockGroup(PlanModel):
    """The blocks of one pod: `count` blocks of `size` consecutive nodes, named after their rack (`rack_scale`, with
    `-u<k>` when a rack holds several domains) or after the pod (one block of the whole SU)."""

    pod: str
    size: int
    count: int
    per_rack: int
    rack_scale: bool

    def expand(self) -> list[SlurmBlock]:
        per_unit_rack = max(1, self.per_rack // self.size)
        out = []
        for k in range(self.count):
            if self.rack_scale:
                rack, unit = divmod(k, per_unit_rack)
                name = f"{self.pod}-r{rack + 1:02d}" + (f"-u{unit + 1}" if per_unit_rack > 1 else "")
            else:
                name = self.pod
            out.append(SlurmBlock(name=name, pod=self.pod, first=k * self.size, size=self.size, per_rack=self.per_rack))
        return out


class SlurmSwitch(PlanModel):
    """A switch of topology/tree: a pod's leaf group (`pod`: its nodes) or a fabric's top (child switches)."""

    name: str
    switches: list[str] = []
    pod: str | None = None
    per_rack: int = 0
    nodes: int = 0

    @cached_property
    def hostlists(self) -> list[str]:
        return range_hostlists(self.pod, self.per_rack, 0, self.nodes) if self.pod else []


class SlurmPartition(PlanModel):
    name: str
    pods: list[str]
    features: list[str]
    default: bool
    qos: list[str]


class SlurmQos(PlanModel):
    name: str
    priority: int
    max_wall_minutes: int | None
    max_gpus_per_user: int | None


class SlurmAccount(PlanModel):
    name: str
    parent: str | None
    fairshare: int
    qos: list[str]
    description: str | None


class SlurmPlan(PlanModel):
    """Slurm's layout for the GPU nodes standing after this phase."""

    cluster_name: str
    controllers: list[str]
    controller_phase: str
    accounting: bool
    topology: str
    imex: str
    block_size: int
    block_sizes: list[int]
    segment: int
    segment_max: int
    node_groups: list[SlurmNodeGroup]
    block_groups: list[SlurmBlockGroup]
    switches: list[SlurmSwitch]
    partitions: list[SlurmPartition]
    qos: list[SlurmQos]
    accounts: list[SlurmAccount]

    @cached_property
    def blocks(self) -> list[SlurmBlock]:
        """Every block in topology.conf order (generated from the per-pod groups: a plan never holds per-rack
        objects, whatever the phase's size)."""
        return [b for g in self.block_groups for b in g.expand()]

    def partition_nodes(self, name: str) -> list[str]:
        """The node names of partition `name`, in build order."""
        part = next(p for p in self.partitions if p.name == name)
        pods = set(part.pods)
        return [n.name for n in self.nodes if n.pod in pods]

    @cached_property
    def nodes(self) -> list[SlurmNode]:
        """Every node, in build order, with its block (generated: the plan itself keeps only groups)."""
        block_of: dict[tuple[str, int], str] = {}
        for b in self.blocks:
            for i in range(b.first, b.first + b.size):
                block_of[(b.pod, i)] = b.name
        out = []
        for g in self.node_groups:
            for i in range(g.nodes):
                rack, tray = divmod(i, g.per_rack)
                out.append(
                    SlurmNode(
                        name=host_name(g.pod, rack + 1, tray + 1),
                        cpus=g.cpus,
                        real_memory_mb=g.real_memory_mb,
                        gpus=g.gpus,
                        block=block_of.get((g.pod, i), ""),
                        pod=g.pod,
                        hall=g.hall,
                        phase=g.phase,
                    )
                )
        return out


# -- helpers -------------------------------------------------------------------------------------------------------


def hostlist(pod: str, rack: int, first_tray: int, last_tray: int) -> str:
    """`h1-su001-r03-n[01-18]`: the trays first..last (1-based) of one rack, as one Slurm hostlist range."""
    prefix = host_name(pod, rack, 1)[: -len("01")]
    if first_tray == last_tray:
        return f"{prefix}{first_tray:02d}"
    return f"{prefix}[{first_tray:02d}-{last_tray:02d}]"


def range_hostlists(pod: str, per_rack: int, first: int, size: int) -> list[str]:
    """Hostlist expressions for nodes first..first+size-1 (0-based) of a pod, one per rack they touch."""
    out = []
    i, end = first, first + size
    while i < end:
        rack, tray = divmod(i, per_rack)
        last = min(end, (rack + 1) * per_rack)
        out.append(hostlist(pod, rack + 1, tray + 1, tray + (last - i)))
        i = last
    return out


def segment_max(block_size: int) -> int:
    """The largest power-of-two segment that still fits a block with one tray drained (16 of 18).

    Powers of two because Slurm pairs blocks into higher levels by powers of two, and NVIDIA/SchedMD guidance for
    NVL72 is segments of 16 or its factors: a segment of the whole block fails as soon as one tray drains.
    """
    if block_size <= 1:
        return 1
    return 1 << (block_size - 1).bit_length() - 1


def trays_per_domain(system: GpuSystem) -> int:
    """Compute trays in one NVLink domain: 18 for NVL72 (72 GPUs / 4 per tray), 1 for an 8-GPU node."""
    gpus_per_tray = system.gpus_per_unit // system.compute_trays_per_unit
    return max(1, system.nvlink_domain_gpus // max(1, gpus_per_tray))


def rack_scale(system: GpuSystem) -> bool:
    return trays_per_domain(system) > 1


def cluster_name(campus: str) -> str:
    """Slurm's ClusterName from the campus name: lower case, '-' kept, at most 40 characters."""
    return campus.lower()[:40]


# -- the planner ---------------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    spec: LoadedSpec
    catalog: Catalog
    out: Findings

    @property
    def doc(self) -> SourceDoc:
        return self.spec.target.doc

    @property
    def sched(self) -> Scheduler:
        return self.spec.target.phase.scheduler

    def finding(self, level: Level, code: str, path: Path, message: str, hint: str | None = None) -> None:
        self.out.add(self.doc.finding(level, code, ("scheduler", *path), message, hint))


def _scheduler_phase(spec: LoadedSpec, pods: list[PodPlan]) -> str | None:
    """The earliest phase (in the chain) whose plan runs the scheduler: it owns the controllers."""
    built = {p.phase for p in pods}
    for lp in spec.phases:
        if lp.phase.id in built and lp.phase.scheduler.enabled is not False:
            return lp.phase.id
    return None


def controller_hosts(phase: str, allocations: list[Allocation]) -> list[ServiceHost]:
    """The controller pair at fixed offsets of `phase`'s services block (none when it has no block)."""
    block = next((IPv4Network(a.cidr) for a in allocations if a.network == "services" and a.phase == phase), None)
    if block is None:
        return []
    return [
        ServiceHost(name=name, role="scheduler", phase=phase, address=str(block[off]), priority=n)
        for n, (name, off) in enumerate(zip(CONTROLLER_HOSTS, CONTROLLER_OFFSETS, strict=True), start=1)
    ]


def _groups(ctx: _Ctx, pods: list[PodPlan]) -> list[SlurmNodeGroup]:
    reserve = 1 - ctx.sched.memory_reserve_percent / 100
    groups = []
    missing: set[str] = set()
    for pp in pods:
        system = ctx.catalog.systems[pp.sku]
        per_rack = nodes_per_rack(pp)
        mem = None
        if system.memory_gb_per_node is not None:
            mem = int(system.memory_gb_per_node * 1e9 / MIB * reserve)
        if system.cpus_per_node is None or system.memory_gb_per_node is None:
            missing.add(pp.sku)
        groups.append(
            SlurmNodeGroup(
                pod=pp.id,
                hall=pp.hall,
                phase=pp.phase,
                sku=pp.sku,
                nodes=pp.nodes,
                per_rack=per_rack,
                cpus=system.cpus_per_node,
                real_memory_mb=mem,
                gpus=pp.gpus_per_node,
                features=[pp.phase, pp.hall, pp.id, pp.sku],
            )
        )
    for sku in sorted(missing):
        ctx.finding(
            Level.INFO,
            "scheduler.node-figures",
            (),
            f"the catalog has no CPU cores or no memory per node for '{sku}': slurm.conf leaves that figure out "
            "(slurmd reports it) and, without memory for every node, memory is not a consumable resource "
            "(SelectTypeParameters=CR_Core), so no job is held to a guessed size",
            f"add cpus_per_node and memory_gb_per_node (with a source) to '{sku}' in the campus catalog",
        )
    return groups


def _blocks(ctx: _Ctx, pods: list[PodPlan]) -> list[SlurmBlockGroup]:
    groups = []
    for pp in pods:
        system = ctx.catalog.systems[pp.sku]
        per_rack = nodes_per_rack(pp)
        if rack_scale(system) and pp.nodes >= trays_per_domain(system):
            size = trays_per_domain(system)
            if pp.nodes % size:
                ctx.finding(
                    Level.WARNING,
                    "scheduler.unblocked-nodes",
                    (),
                    f"pod '{pp.id}' has {pp.nodes} trays, not a multiple of its NVLink domain ({size}): "
                    f"{pp.nodes % size} trays are in no block, and topology/block places no job on them",
                    "check the catalog entry's compute_trays_per_unit and nvlink_domain_gpus",
                )
            groups.append(
                SlurmBlockGroup(pod=pp.id, size=size, count=pp.nodes // size, per_rack=per_rack, rack_scale=True)
            )
        else:
            groups.append(SlurmBlockGroup(pod=pp.id, size=pp.nodes, count=1, per_rack=per_rack, rack_scale=False))
    return groups


def _block_sizes(ctx: _Ctx, groups: list[SlurmBlockGroup], base: int) -> list[int]:
    given = ctx.sched.block_sizes
    total = sum(g.count for g in groups)
    if not given:
        sizes, k = [], 1
        while k <= max(1, total):
            sizes.append(base * k)
            k *= 2
        return sizes
    small = min(groups, key=lambda g: g.size)
    if given[0] > small.size:
        name = small.expand()[0].name if small.count else small.pod
        ctx.finding(
            Level.ERROR,
            "scheduler.block-size",
            ("block_sizes", 0),
            f"the base block size {given[0]} is larger than block '{name}' ({small.size} nodes): Slurm requires "
            "every block to hold at least the base block size",
            f"use block_sizes: [{small.size}, ...] or leave block_sizes out",
        )
    elif given[0] != base:
        ctx.finding(
            Level.WARNING,
            "scheduler.block-size",
            ("block_sizes", 0),
            f"the base block size {given[0]} differs from the NVLink domain of {base} nodes: block-sized jobs then "
            "no longer match one NVLink domain",
            f"use block_sizes: [{base}, ...] or leave block_sizes out",
        )
    for i in range(1, len(given)):
        ratio = given[i] / given[i - 1]
        if given[i] <= given[i - 1] or not ratio.is_integer() or int(ratio) & (int(ratio) - 1):
            ctx.finding(
                Level.ERROR,
                "scheduler.block-size",
                ("block_sizes", i),
                f"block size {given[i]} is not a power-of-two multiple of the size before it ({given[i - 1]}): "
                "Slurm's topology/block builds each level by pairing blocks of the level below",
                f"use {given[i - 1] * 2}, {given[i - 1] * 4}, ...",
            )
    return list(given)


def _segment(ctx: _Ctx, base: int) -> tuple[int, int]:
    top = segment_max(base)
    seg = ctx.sched.segment
    if seg is None:
        return top, top
    if seg > base:
        ctx.finding(
            Level.ERROR,
            "scheduler.segment",
            ("segment",),
            f"segment {seg} is larger than a block ({base} nodes): a segment must fit in one NVLink domain, so no "
            "job asking for it can ever start",
            f"use a segment of at most {top} (it survives a drained node)",
        )
    elif seg == base:
        ctx.finding(
            Level.WARNING,
            "scheduler.segment",
            ("segment",),
            f"segment {seg} is the whole block: such a job waits as soon as one node of every block is drained",
            f"use {top} (of {base}) or one of its factors",
        )
    elif seg > top:
        ctx.finding(
            Level.INFO,
            "scheduler.segment",
            ("segment",),
            f"segment {seg} survives one drained node per block but is not a power of two: segments of {top} pack "
            "into Slurm's paired blocks without gaps",
        )
    return seg, top


def _tree(pods: list[PodPlan], spec: LoadedSpec) -> list[SlurmSwitch]:
    """Leaf group per pod, one top per fabric: a phase joins the fabric it `extends`, else builds its own."""
    fabric_of: dict[str, str] = {}
    for lp in spec.phases:
        nets = lp.phase.networks
        ext = nets.compute.extends if nets is not None else None
        fabric_of[lp.phase.id] = fabric_of.get(ext, ext) if ext else lp.phase.id
    leaves: dict[str, list[str]] = {}
    switches = []
    for pp in pods:
        leaf = f"{pp.id}-leaf"
        switches.append(SlurmSwitch(name=leaf, pod=pp.id, per_rack=nodes_per_rack(pp), nodes=pp.nodes))
        leaves.setdefault(f"fabric-{fabric_of.get(pp.phase, pp.phase)}", []).append(leaf)
    switches.extend(SlurmSwitch(name=top, switches=children) for top, children in leaves.items())
    return switches


def _partitions(ctx: _Ctx, pods: list[PodPlan]) -> list[SlurmPartition]:
    spec = ctx.sched.partitions
    target = ctx.spec.target.phase.id
    qos_names = {q.name for q in ctx.sched.qos}
    if spec.by == "phase":
        phases = list(dict.fromkeys(p.phase for p in pods))
        return [
            SlurmPartition(
                name=ph, pods=[p.id for p in pods if p.phase == ph], features=[ph], default=ph == target, qos=[]
            )
            for ph in phases
        ]
    if spec.by == "hall":
        halls = list(dict.fromkeys(p.hall for p in pods))
        return [
            SlurmPartition(name=h, pods=[p.id for p in pods if p.hall == h], features=[h], default=i == 0, qos=[])
            for i, h in enumerate(halls)
        ]
    if not spec.listed:
        ctx.finding(
            Level.ERROR,
            "scheduler.partitions",
            ("partitions", "by"),
            "partitions.by is 'listed' but partitions.listed is empty",
            "list the partitions, or use by: phase or by: hall",
        )
        return []
    halls = {p.hall for p in pods}
    pod_ids = {p.id for p in pods}
    out: list[SlurmPartition] = []
    seen: dict[str, int] = {}
    for i, part in enumerate(spec.listed):
        path: Path = ("partitions", "listed", i)
        if part.name in seen:
            ctx.finding(
                Level.ERROR,
                "names.duplicate",
                (*path, "name"),
                f"partition '{part.name}' is listed twice (also partitions.listed[{seen[part.name]}])",
            )
            continue
        seen[part.name] = i
        for key, known in (("halls", halls), ("pods", pod_ids)):
            for j, ident in enumerate(getattr(part, key)):
                if ident not in known:
                    ctx.finding(
                        Level.ERROR,
                        "scheduler.partition-member",
                        (*path, key, j),
                        f"partition '{part.name}' names {key[:-1]} '{ident}', which has no GPU nodes after this phase",
                        did_you_mean(ident, known) or f"{key} with GPU nodes: {', '.join(sorted(known))}",
                    )
        for j, q in enumerate(part.qos):
            if q not in qos_names:
                ctx.finding(
                    Level.ERROR,
                    "scheduler.unknown-qos",
                    (*path, "qos", j),
                    f"partition '{part.name}' allows QoS '{q}', which scheduler.qos does not declare",
                    did_you_mean(q, qos_names) or "declare it under scheduler.qos",
                )
        members = [
            p.id for p in pods if (not part.halls and not part.pods) or p.hall in part.halls or p.id in part.pods
        ]
        if not members:
            ctx.finding(
                Level.WARNING, "scheduler.partition-empty", (*path, "name"), f"partition '{part.name}' has no nodes"
            )
        features = [*part.halls, *part.pods] if (part.halls or part.pods) else []
        out.append(SlurmPartition(name=part.name, pods=members, features=features, default=part.default, qos=part.qos))
    defaults = [i for i, p in enumerate(spec.listed) if p.default]
    if len(defaults) > 1:
        ctx.finding(
            Level.ERROR,
            "scheduler.partitions",
            ("partitions", "listed", defaults[1], "default"),
            f"{len(defaults)} partitions are marked default; Slurm takes one",
            "mark one partition default: true",
        )
    covered = {pid for p in out for pid in p.pods}
    for pid in sorted(pod_ids - covered):
        ctx.finding(
            Level.WARNING,
            "scheduler.unpartitioned",
            ("partitions", "listed"),
            f"pod '{pid}' is in no partition: its nodes can run no job",
            "add its hall or the pod to a partition",
        )
    return out


def _accounts(ctx: _Ctx) -> tuple[list[SlurmQos], list[SlurmAccount]]:
    sched = ctx.sched
    qos_names = {q.name for q in sched.qos}
    acc_names = {a.name for a in sched.accounts}
    for kind, items in (("qos", sched.qos), ("accounts", sched.accounts)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                ctx.finding(
                    Level.ERROR, "names.duplicate", (kind, i, "name"), f"{kind} '{item.name}' is declared twice"
                )
            seen.add(item.name)
    for i, a in enumerate(sched.accounts):
        if a.parent is not None and a.parent not in acc_names:
            ctx.finding(
                Level.ERROR,
                "scheduler.unknown-account",
                ("accounts", i, "parent"),
                f"account '{a.name}' has parent '{a.parent}', which scheduler.accounts does not declare",
                did_you_mean(a.parent, acc_names) or "declare the parent account, or leave parent out (root)",
            )
        for j, q in enumerate(a.qos):
            if q not in qos_names:
                ctx.finding(
                    Level.ERROR,
                    "scheduler.unknown-qos",
                    ("accounts", i, "qos", j),
                    f"account '{a.name}' allows QoS '{q}', which scheduler.qos does not declare",
                    did_you_mean(q, qos_names) or "declare it under scheduler.qos",
                )
    for kind, items, name in (("accounts", sched.accounts, "root"), ("qos", sched.qos, "normal")):
        for i, item in enumerate(items):
            if item.name == name:
                ctx.finding(
                    Level.ERROR,
                    "scheduler.reserved-name",
                    (kind, i, "name"),
                    f"{'account' if kind == 'accounts' else 'QoS'} '{name}' is the one slurmdbd makes itself: adding "
                    "it again adds nothing, and the spec's settings for it would silently not apply",
                    f"give it another name{' (top-level accounts already sit under root)' if name == 'root' else ''}",
                )
    order = _parents_first(ctx, [a for a in sched.accounts if a.name != "root"])
    if (sched.accounts or sched.qos) and not sched.accounting:
        ctx.finding(
            Level.WARNING,
            "scheduler.accounting-off",
            ("accounting",),
            "accounts and QoS are declared but accounting is off: Slurm enforces neither without slurmdbd",
            "set scheduler.accounting: true",
        )
    qos = [SlurmQos(**q.model_dump()) for q in sched.qos]
    accounts = [SlurmAccount(**a.model_dump()) for a in order]
    return qos, accounts


def _parents_first(ctx: _Ctx, accounts: list[SchedulerAccount]) -> list[SchedulerAccount]:
    """The accounts in an order sacctmgr can add them (a parent before its children, else spec order), or a
    finding for a loop of parents, which no order can add."""
    index = {a.name: i for i, a in enumerate(accounts)}
    graph = {a.name: {a.parent} if a.parent in index else set() for a in accounts}
    try:
        names = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        loop = list(exc.args[1])
        ctx.finding(
            Level.ERROR,
            "scheduler.account-loop",
            ("accounts", index[loop[0]], "parent"),
            f"accounts' parents form a loop ({' -> '.join(loop)}): no account of it can be added under root",
            "make one of them a top-level account (leave its parent out)",
        )
        return accounts
    # The same spec always gives the same order (graphlib visits the nodes in the order they were added).
    return [accounts[index[n]] for n in names]


def plan_slurm(
    spec: LoadedSpec,
    catalog: Catalog,
    pods: list[PodPlan],
    service_hosts: list[ServiceHost],
    allocations: list[Allocation],
    out: Findings,
) -> tuple[SlurmPlan | None, list[ServiceHost]]:
    """The cluster for the live `pods` (build order), and the service hosts with its controllers added.

    None when the target phase disables the scheduler or nothing standing has GPUs.
    """
    ctx = _Ctx(spec, catalog, out)
    sched = ctx.sched
    gpu_pods = [p for p in pods if p.gpus_per_node > 0]
    if sched.enabled is False or not gpu_pods:
        if sched.enabled and not gpu_pods:
            ctx.finding(
                Level.WARNING,
                "scheduler.no-nodes",
                ("enabled",),
                "the scheduler is enabled but no GPU nodes stand after this phase: nothing is rendered for Slurm",
            )
        return None, service_hosts
    owner = _scheduler_phase(spec, gpu_pods) or gpu_pods[0].phase
    controllers = controller_hosts(owner, allocations)
    groups = _groups(ctx, gpu_pods)
    blocks = _blocks(ctx, gpu_pods)
    domains = [g.size for g in blocks if g.rack_scale]
    base = min(domains) if domains else min(g.size for g in blocks)
    topology = sched.topology or ("block" if domains else "tree")
    block_sizes = _block_sizes(ctx, blocks, base)
    segment, top = _segment(ctx, base)
    qos, accounts = _accounts(ctx)
    if sched.imex == "per-job" and not domains:
        ctx.finding(
            Level.INFO,
            "scheduler.imex",
            ("imex",),
            "imex: per-job has no effect here: no rack-scale NVLink domain stands, so there is no IMEX to hand out",
        )
    plan = SlurmPlan(
        cluster_name=sched.cluster_name or cluster_name(spec.campus.name),
        controllers=[h.name for h in controllers],
        controller_phase=owner,
        accounting=sched.accounting,
        topology=topology,
        imex=sched.imex if domains else "none",
        block_size=base,
        block_sizes=block_sizes,
        segment=segment,
        segment_max=top,
        node_groups=groups,
        block_groups=blocks,
        switches=_tree(gpu_pods, spec),
        partitions=_partitions(ctx, gpu_pods),
        qos=qos,
        accounts=accounts,
    )
    return plan, [*service_hosts, *controllers]
