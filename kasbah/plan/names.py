"""Every name Kasbah generates from a spec, checked in the plan for collisions and limits.

Ids are unique in their own list, but the names built from them share name spaces with other objects: an edge
router called `mon1` is the same inventory host as the monitoring server, router `r` on cable `mtwa-north` and router
`r-mtwa` on cable `north` get one vault variable, a pod called `monitoring` would take the monitoring step's trigger.
Ansible merges same-named hosts and groups, a dict keyed by step name keeps the last value, a file written twice
keeps the second: each of these is a wrong deployment, never an error at run time. So the plan enumerates every
generated name with the spec path that produced it, using the functions the renderers and components build the names
with (defined here, or in the plan module that owns the object), and reports each clash naming BOTH sources, and
each name past its limit (DNS label 63, FQDN 253, S3 bucket 3-63 and its character rules).

Comparisons are case-insensitive (`casefold`): DNS is, and so are the file systems of macOS and Windows checkouts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from kasbah.findings import Finding, Level, Path, format_path
from kasbah.monitoring.exporters import internal_zone
from kasbah.plan.edge import password_var
from kasbah.plan.hosts import host_name, nodes_per_rack
from kasbah.plan.lab import CAMPUS_NODE, hub_node, ls_node
from kasbah.plan.services import MONITORING_HOST
from kasbah.yamlsource import SourceDoc

if TYPE_CHECKING:
    from kasbah.plan.derive import Plan
    from kasbah.spec.load import LoadedSpec

# -- the name builders (one source each; renderers, scopes and components call these) ---------------------------------

ROLE_GROUPS: tuple[str, ...] = (
    "gpu_nodes",
    "edge_routers",
    "monitoring",
    "subnet_managers",
    "fabric_switches",
    "slurm_controllers",
)
"""Inventory groups by role, besides the per-object groups `pod_*`, `hall_*`, `phase_*`, `sku_*`."""

ANSIBLE_GROUPS: tuple[str, ...] = ("all", "ungrouped")
"""Groups every Ansible inventory has: a host of that name would be matched by `--limit all`."""

STEP_MONITORING = "monitoring"
STEP_SLURM = "slurm"


def group_name(kind: str, ident: str) -> str:
    """Ansible group names must be identifiers: `pod_h1_su001` ('-' and '.' become '_')."""
    return f"{kind}_{ident}".replace("-", "_").replace(".", "_")


def domain_dir(phase: str, switch: str, domain: int) -> str:
    """Where one InfiniBand domain's subnet manager files are rendered."""
    return f"fabric/{phase}/{switch}-d{domain}"


def imex_dir(pod: str) -> str:
    """A pod's IMEX peer files: a directory of its own, so no other pod's files share its path prefix."""
    return f"gpu/imex/{pod}/"


def imex_path(pod: str, rack: int) -> str:
    """The IMEX peer list of one rack (one NVLink domain): `gpu/imex/h1-su001/r03.cfg`."""
    return f"{imex_dir(pod)}r{rack:02d}.cfg"


def step_names(plan: Plan, phase: str) -> list[tuple[str, str, str]]:
    """The on-premises steps the stack of `phase` registers, as (step name, kind, key), clashes included.

    The names `components.phase_deployment.step_triggers` keys its triggers by (and names the components): the
    phase's fabric `fabric-<phase>`, each pod it adds by its id, every edge router of the cumulative plan by its id
    (one step per host and concern), `monitoring`, and `slurm` where the plan runs the scheduler.
    """
    out: list[tuple[str, str, str]] = []
    if any(f.phase == phase for f in plan.fabrics):
        out.append((f"fabric-{phase}", "fabric", phase))
    out += [(pod.id, "pod", pod.id) for pod in plan.pods if pod.phase == phase]
    out += [(router.id, "router", router.id) for router in plan.edge.routers]
    out.append((STEP_MONITORING, "monitoring", ""))
    if plan.slurm is not None:
        out.append((STEP_SLURM, "slurm", ""))
    return out


# -- limits ----------------------------------------------------------------------------------------------------------

DNS_LABEL_MAX = 63
FQDN_MAX = 253
_LDH = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", re.IGNORECASE)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")


def label_problem(label: str) -> str | None:
    """Why `label` is not a DNS label (RFC 1035 letters, digits and hyphens, RFC 1123 length), or None."""
    if len(label) > DNS_LABEL_MAX:
        return f"is {len(label)} characters, over the {DNS_LABEL_MAX} a DNS label may have"
    if not _LDH.match(label):
        return "is not a DNS label (letters, digits and '-', starting and ending with a letter or digit)"
    if label[2:4] == "--" and not label.lower().startswith("xn--"):
        return "has '--' in its third and fourth characters, which DNS reserves for encoded names (RFC 5891)"
    return None


def fqdn_problem(name: str) -> str | None:
    """Why `name` is not a usable host name (every label, and at most 253 characters in all), or None."""
    if len(name) > FQDN_MAX:
        return f"is {len(name)} characters, over the {FQDN_MAX} a DNS name may have"
    try:
        IPv4Address(name)
        return None
    except ValueError:
        pass
    for label in name.split("."):
        problem = label_problem(label)
        if problem:
            return f"has a label '{label}' that {problem}"
    return None


def bucket_problem(name: str) -> str | None:
    """Why `name` breaks the S3 bucket naming rules, or None (AWS 'General purpose bucket naming rules')."""
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters; an S3 bucket name has 3 to 63"
    if not _BUCKET.match(name):
        return "may hold only lower-case letters, digits, '.' and '-', and must start and end with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "may not have two periods in a row, nor a period next to a hyphen"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "may not be shaped like an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"may not start with '{prefix}'"
    for suffix in ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"):
        if name.endswith(suffix):
            return f"may not end with '{suffix}'"
    return None


# -- sources and name spaces -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What produced a name: an object of the spec at `path` in `doc`, or (doc None) a name Kasbah fixes."""

    what: str
    doc: SourceDoc | None = field(default=None, compare=False)
    path: Path = ()
    file: str = ""

    @staticmethod
    def at(what: str, doc: SourceDoc, path: Path) -> Source:
        return Source(what, doc, path, doc.file)

    def describe(self) -> str:
        if self.doc is None:
            return f"{self.what} (a name Kasbah fixes)"
        line, _ = self.doc.locate(self.path)
        where = f"{self.file}:{line}" if line else self.file
        return f"{self.what} ({where} {format_path(self.path)})"


@dataclass
class Space:
    """One name space: names that must differ, compared by `key` (case-insensitive unless told otherwise)."""

    kind: str
    consequence: str
    within: str = ""
    """Where the names must differ when not everywhere, e.g. " in stack 'phase1'"."""
    key: Callable[[str], str] = str.casefold
    names: dict[str, tuple[str, Source]] = field(default_factory=dict)
    clashes: list[tuple[str, Source, str, Source]] = field(default_factory=list)

    def add(self, name: str, source: Source) -> None:
        k = self.key(name)
        seen = self.names.get(k)
        if seen is None:
            self.names[k] = (name, source)
        elif seen[1] != source:
            self.clashes.append((seen[0], seen[1], name, source))

    def __contains__(self, name: str) -> bool:
        return self.key(name) in self.names

    def get(self, name: str) -> tuple[str, Source] | None:
        return self.names.get(self.key(name))


def clash_finding(space: Space, first: tuple[str, Source], second: tuple[str, Source], fallback: SourceDoc) -> Finding:
    """An error located at the spec source of the clash (the second when both are in the spec) naming both."""
    (name_a, a), (name_b, b) = first, second
    # Point at the object whose own id is the name (router 'mon1', pod 'monitoring'): renaming it is the fix; a
    # name derived from something else (a tray from its pod, a step from its cable) is the other side. Else the later.
    at = b if b.doc is not None else a
    if a.doc is not None and a.what.endswith(f"'{name_a}'") and not b.what.endswith(f"'{name_b}'"):
        at = a
    other = a if at is b else b
    same = name_a == name_b
    names = f"'{name_b}'" if same else f"'{name_a}' and '{name_b}' (equal ignoring case)"
    message = (
        f"{at.describe()} and {other.describe()} both give {space.kind} {names}{space.within}: {space.consequence}"
        if same
        else f"{at.describe()} and {other.describe()} give {space.kind}s {names}{space.within}: {space.consequence}"
    )
    hint = f"rename {at.what}" + ("" if other.doc is None else f" or {other.what}") + " so the names differ"
    if at.doc is None:  # two fixed names: a bug in Kasbah, still reported where the user looks first
        return Finding(Level.ERROR, "names.collision", "", message, hint, fallback.file, 1, 1)
    return at.doc.finding(Level.ERROR, "names.collision", at.path, message, hint)


def limit_finding(code: str, what: str, name: str, problem: str, source: Source, fallback: SourceDoc, hint: str):
    doc, path = (source.doc, source.path) if source.doc is not None else (fallback, ())
    return doc.finding(Level.ERROR, code, path, f"{what} '{name}' of {source.describe()} {problem}", hint)


# -- where each object of the plan was written in the spec -----------------------------------------------------------


class _Origins:
    """Spec paths of the objects names are built from: the first place each is written (its builder)."""

    def __init__(self, spec: LoadedSpec) -> None:
        self.campus_doc = spec.campus_doc
        self.phases: dict[str, Source] = {}
        self.pods: dict[str, Source] = {}
        self.halls: dict[str, Source] = {}
        self.skus: dict[str, Source] = {}
        self.compute: dict[str, Source] = {}
        self.hall_telemetry: dict[str, Source] = {}
        self.fabric_telemetry: dict[str, Source] = {}
        self.routers: dict[str, Source] = {}
        self.uplinks: dict[tuple[str, str, str], Source] = {}
        for lp in spec.phases:
            doc, ph = lp.doc, lp.phase
            self.phases.setdefault(ph.id, Source.at(f"phase '{ph.id}'", doc, ("id",)))
            if ph.networks is not None:
                self.compute.setdefault(
                    ph.id, Source.at(f"the compute fabric of phase '{ph.id}'", doc, ("networks", "compute", "switch"))
                )
                if ph.networks.compute.telemetry:
                    self.fabric_telemetry[ph.id] = Source.at(
                        f"the UFM telemetry of phase '{ph.id}'", doc, ("networks", "compute", "telemetry")
                    )
            for hi, hall in enumerate(ph.halls):
                self.halls.setdefault(hall.id, Source.at(f"hall '{hall.id}'", doc, ("halls", hi, "id")))
                if hall.telemetry:
                    self.hall_telemetry[hall.id] = Source.at(
                        f"the telemetry of hall '{hall.id}'", doc, ("halls", hi, "telemetry")
                    )
                for pi, pod in enumerate(hall.pods):
                    path: Path = ("halls", hi, "pods", pi)
                    self.pods.setdefault(pod.id, Source.at(f"pod '{pod.id}'", doc, (*path, "id")))
                    self.skus.setdefault(pod.sku, Source.at(f"SKU '{pod.sku}'", doc, (*path, "sku")))
            for i, up in enumerate(ph.wan_uplinks):
                self.routers.setdefault(
                    up.edge_router,
                    Source.at(f"edge router '{up.edge_router}'", doc, ("wan_uplinks", i, "edge_router")),
                )
                self.uplinks[(ph.id, up.edge_router, up.cable)] = Source.at(
                    f"the uplink of router '{up.edge_router}' on cable '{up.cable}'", doc, ("wan_uplinks", i)
                )
        self.campus = Source.at(f"campus '{spec.campus.name}'", spec.campus_doc, ("name",))

    def of(self, table: dict[str, Source], key: str, what: str) -> Source:
        """The source of `key`, or a campus-level stand-in (never expected: every plan object comes from the spec)."""
        return table.get(key) or Source.at(what, self.campus_doc, ())


# -- the check -------------------------------------------------------------------------------------------------------

_NODE = re.compile(r"^(?P<pod>.+)-r(?P<rack>\d{2,})-n(?P<tray>\d{2,})$")


class _Check:
    def __init__(self, spec: LoadedSpec, plan: Plan) -> None:
        self.spec, self.plan = spec, plan
        self.o = _Origins(spec)
        self.out: list[Finding] = []
        self.pods = {p.id: p for p in plan.pods}
        self.switches = self._ethernet_switches()

    def _ethernet_switches(self) -> list:
        """The Ethernet fabric switches, or none when a phase that needs them got no loopback block (the planner
        reported the exhausted supernet; their names and addresses are not settled)."""
        from kasbah.plan.switches import ethernet_switches  # imports the planner: not at module level

        plan = self.plan
        blocks = {a.phase for a in plan.addresses.allocations if a.network == "loopbacks" and a.scope == "phase"}
        if any(f.phase not in blocks for f in plan.fabrics if any(c.kind == "spectrum-x" for c in f.compute)):
            return []
        return list(ethernet_switches(plan))

    def run(self) -> list[Finding]:
        hosts = self._hosts()
        groups = self._groups()
        self._hosts_vs_groups(hosts, groups)
        self._vault()
        self._steps()
        self._files()
        self._lab_nodes()
        self._buckets()
        self._dns(hosts)
        return self.out

    def _report(self, space: Space) -> None:
        for a, sa, b, sb in space.clashes:
            self.out.append(clash_finding(space, (a, sa), (b, sb), self.o.campus_doc))

    def _node_owner(self, name: str) -> Source | None:
        """The pod whose compute tray has this inventory name (pod host names are built by `host_name`)."""
        m = _NODE.match(name.lower())
        if not m:
            return None
        pod = self.pods.get(m["pod"])
        if pod is None:
            return None
        rack, tray = int(m["rack"]), int(m["tray"])
        per_rack = nodes_per_rack(pod)
        exists = 1 <= tray <= per_rack and rack >= 1 and (rack - 1) * per_rack + tray <= pod.nodes
        if not exists or host_name(pod.id, rack, tray) != name.lower():
            return None
        return self.o.of(self.o.pods, pod.id, f"pod '{pod.id}'")

    # -- inventory ----------------------------------------------------------------------------------------------------
    def _hosts(self) -> Space:
        """Inventory host names (also the names in etc_hosts). Compute trays are not enumerated (70,000 of them):
        every other host is matched against the tray names instead (`host_name` is one-to-one)."""
        plan = self.plan
        space = Space("inventory host", "Ansible merges them into one host, so one's configuration goes to the other")
        for r in plan.edge.routers:
            space.add(r.id, self.o.of(self.o.routers, r.id, f"edge router '{r.id}'"))
        for svc in plan.service_hosts:
            if svc.role == "monitoring":
                space.add(svc.name, Source(f"the monitoring server '{MONITORING_HOST}'"))
            elif svc.role == "scheduler":
                src = self.o.of(self.o.phases, svc.phase, f"phase '{svc.phase}'")
                space.add(svc.name, Source(f"Slurm controller '{svc.name}' of {src.what}", src.doc, src.path, src.file))
            else:
                src = self.o.of(self.o.compute, svc.phase, f"phase '{svc.phase}'")
                space.add(svc.name, Source(f"subnet manager '{svc.name}' of {src.what}", src.doc, src.path, src.file))
        for sw in self.switches:
            src = self.o.of(self.o.compute, sw.phase, f"phase '{sw.phase}'")
            space.add(sw.name, Source(f"fabric switch '{sw.name}' of {src.what}", src.doc, src.path, src.file))
        for _, (name, source) in list(space.names.items()):
            owner = self._node_owner(name)
            if owner is not None:
                tray = Source(f"compute tray '{name}' of {owner.what}", owner.doc, owner.path, owner.file)
                space.clashes.append((name, tray, name, source))
        self._report(space)
        return space

    def _groups(self) -> Space:
        space = Space("inventory group", "Ansible merges them into one group, so a step limited to one runs on both")
        for g in (*ANSIBLE_GROUPS, *ROLE_GROUPS):
            space.add(g, Source(f"the inventory group '{g}'"))
        o = self.o
        for ph in self.plan.phases:
            space.add(group_name("phase", ph.id), o.of(o.phases, ph.id, f"phase '{ph.id}'"))
        for h in self.plan.halls:
            space.add(group_name("hall", h.id), o.of(o.halls, h.id, f"hall '{h.id}'"))
        for pod in self.plan.pods:
            space.add(group_name("pod", pod.id), o.of(o.pods, pod.id, f"pod '{pod.id}'"))
            space.add(group_name("sku", pod.sku), o.of(o.skus, pod.sku, f"SKU '{pod.sku}'"))
        self._report(space)
        self._identifiers(
            space, "inventory group", "is not an identifier (letters, digits and '_', not starting with a digit)"
        )
        return space

    def _hosts_vs_groups(self, hosts: Space, groups: Space) -> None:
        space = Space("inventory name", "Ansible takes a host and a group of one name as one pattern (--limit, hosts:)")
        for name, source in groups.names.values():
            space.add(name, source)
        for name, source in hosts.names.values():
            space.add(name, source)
        self._report(space)

    # -- secrets ------------------------------------------------------------------------------------------------------
    def _vault(self) -> None:
        space = Space(  # ignoring case too: each reaches `kasbah apply` as the upper-cased environment variable
            "vault variable", "one secret would be used for both (a BGP session gets another's password)"
        )
        for r in self.plan.edge.routers:
            for s in r.sessions:
                src = self.o.uplinks.get((s.phase, s.edge_router, s.cable)) or Source.at(
                    f"the uplink of router '{s.edge_router}' on cable '{s.cable}'", self.o.campus_doc, ()
                )
                space.add(password_var(s.edge_router, s.cable), src)
        for rec in self.plan.monitoring.receivers:
            if rec.token_var:
                path: Path = ("monitoring", "receivers", rec.owner, "token_var")
                space.add(rec.token_var, Source.at(f"the webhook token of '{rec.owner}'", self.o.campus_doc, path))
        self._report(space)
        self._identifiers(space, "vault variable", "is not an identifier")

    def _identifiers(self, space: Space, what: str, problem: str) -> None:
        """Names Ansible takes as identifiers (groups, variables): a `names.invalid` finding for each that is not."""
        for name, source in space.names.values():
            if not _IDENT.match(name):
                self.out.append(
                    limit_finding(
                        "names.invalid",
                        what,
                        name,
                        problem,
                        source,
                        self.o.campus_doc,
                        "use ids of letters, digits and '-'",
                    )
                )

    # -- Pulumi -------------------------------------------------------------------------------------------------------
    def _steps(self) -> None:
        o = self.o
        for ph in self.plan.phases:
            space = Space(
                "Pulumi step name",
                "the stack keys each step's trigger and component by this name, so one step would run on the "
                "other's trigger",
                key=str,
                within=f" in stack '{ph.id}'",
            )
            for name, kind, key in step_names(self.plan, ph.id):
                if kind == "pod":
                    space.add(name, o.of(o.pods, key, f"pod '{key}'"))
                elif kind == "fabric":
                    space.add(name, o.of(o.compute, key, f"phase '{key}'"))
                elif kind == "router":
                    space.add(name, o.of(o.routers, key, f"edge router '{key}'"))
                elif kind == "slurm":
                    space.add(name, Source("the Slurm step"))
                else:
                    space.add(name, Source("the monitoring step"))
            self._report(space)

    # -- files --------------------------------------------------------------------------------------------------------
    def _files(self) -> None:
        """Rendered paths named after objects: two objects must not write one path (ignoring case), and no path
        may be both a file and a directory."""
        o, plan = self.o, self.plan
        space = Space("rendered file", "one would overwrite the other")
        for pod in plan.pods:
            src = o.of(o.pods, pod.id, f"pod '{pod.id}'")
            for path in (
                f"inventory/hosts/{pod.id}.tsv",
                f"gpu/pods/{pod.id}.yml",
                f"monitoring/file_sd/{pod.id}.json",
                imex_path(pod.id, 1),  # one stands for the pod's IMEX directory: its racks' names differ by number
            ):
                space.add(path, src)
        for r in plan.edge.routers:
            src = o.of(o.routers, r.id, f"edge router '{r.id}'")
            space.add(f"frr/{r.id}.conf.j2", src)
            space.add(f"frr/{r.id}.vars.yml", src)
        for fabric in plan.fabrics:
            src = o.of(o.compute, fabric.phase, f"phase '{fabric.phase}'")
            for compute in fabric.compute:
                if compute.kind.startswith("infiniband"):
                    for d in compute.domains:
                        base = domain_dir(fabric.phase, compute.switch, d.index)
                        what = Source(f"domain {d.index} of {src.what}", src.doc, src.path, src.file)
                        space.add(f"{base}/opensm.conf.j2", what)
                        space.add(f"{base}/partitions.conf", what)
        for sw in self.switches:
            src = o.of(o.compute, sw.phase, f"phase '{sw.phase}'")
            space.add(
                f"fabric/{sw.phase}/switches/{sw.name}.conf",
                Source(f"fabric switch '{sw.name}' of {src.what}", src.doc, src.path, src.file),
            )
        for fixed in ("monitoring/file_sd/site/fabric.json",):
            space.add(fixed, Source("the monitoring site targets"))
        dirs: dict[str, tuple[str, Source]] = {}
        for path, source in space.names.values():
            parts = path.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                dirs.setdefault(space.key(d), (d, source))
        both = Space("rendered path", "a path cannot be both a file and a directory")
        for key, (path, source) in space.names.items():
            if key in dirs:
                both.clashes.append((*dirs[key], path, source))
        self._report(space)
        self._report(both)

    # -- lab ----------------------------------------------------------------------------------------------------------
    def _lab_nodes(self) -> None:
        o, plan = self.o, self.plan
        space = Space("lab node", "the lab would build one network namespace for both", key=str)
        space.add(CAMPUS_NODE, Source(f"the lab's campus node '{CAMPUS_NODE}'"))
        campus = self.spec.campus
        for i, hub in enumerate(campus.wan.hubs):
            space.add(hub_node(hub), Source.at(f"hub '{hub}'", o.campus_doc, ("wan", "hubs", i)))
        lit = {s.cable for r in plan.edge.routers for s in r.sessions}
        for i, cable in enumerate(campus.wan.cables):
            if cable.id in lit:
                space.add(ls_node(cable.id), Source.at(f"cable '{cable.id}'", o.campus_doc, ("wan", "cables", i, "id")))
        for r in plan.edge.routers:
            space.add(r.id, o.of(o.routers, r.id, f"edge router '{r.id}'"))
        self._report(space)

    # -- object storage -----------------------------------------------------------------------------------------------
    def _buckets(self) -> None:
        storage = self.plan.storage
        space = Space("S3 bucket", "both would write one bucket")
        for b in storage.buckets:
            space.add(b.name, Source.at(f"the {b.purpose} bucket of campus '{self.plan.campus}'", *self._campus()))
        space.add(
            storage.state_bucket, Source.at(f"the Pulumi state bucket of campus '{self.plan.campus}'", *self._campus())
        )
        self._report(space)
        reported: set[str] = set()
        for name, source in sorted(space.names.values(), key=lambda ns: -len(ns[0])):
            problem = bucket_problem(name)
            code = "names.too-long" if problem and "characters" in problem else "names.invalid"
            if problem is None or code in reported:
                continue  # one finding per kind of problem: the buckets share the campus name
            reported.add(code)
            hint = (
                f"shorten the campus name to at most {63 - len(name) + len(self.plan.campus)} characters"
                if len(name) > 63
                else "choose a campus name that gives valid S3 bucket names: lower-case letters, digits and single "
                "'-', not starting with 'xn--' or 'sthree-'"
            )
            self.out.append(limit_finding(code, "S3 bucket name", name, problem, source, self.o.campus_doc, hint))

    def _campus(self) -> tuple[SourceDoc, Path]:
        return self.o.campus_doc, ("name",)

    # -- DNS ----------------------------------------------------------------------------------------------------------
    def _dns(self, hosts: Space) -> None:
        """Host names are DNS labels (etc_hosts, the hosts' own names); telemetry endpoints are names in DNS."""
        o = self.o
        for name, source in hosts.names.values():
            self._label(
                "host name",
                name,
                source,
                "shorten the id it is built from (a router's own id; a subnet manager's or switch's phase id)",
            )
        for pod in self.plan.pods:
            per_rack = nodes_per_rack(pod)
            if not per_rack or not pod.nodes:
                continue
            longest = host_name(pod.id, pod.racks, min(per_rack, pod.nodes))
            src = o.of(o.pods, pod.id, f"pod '{pod.id}'")
            tray = Source(f"the compute trays of {src.what}", src.doc, src.path, src.file)
            excess = len(longest) - DNS_LABEL_MAX
            hint = (
                f"shorten the pod id to at most {len(pod.id) - excess} characters"
                if excess > 0
                else "use an id of letters and digits, with single '-' between them"
            )
            self._label("host name", longest, tray, hint)
        mon, campus = self.plan.monitoring, self.spec.campus
        zone = internal_zone(self.plan.campus)
        self._fqdn(zone, o.campus, "the campus's internal DNS zone")
        for hall, target in mon.hall_telemetry.items():
            src = o.hall_telemetry.get(hall) or o.of(o.halls, hall, f"hall '{hall}'")
            self._fqdn(target, src, "the hall's telemetry endpoint", zone if hall not in o.hall_telemetry else "")
        for phase, target in mon.fabric_telemetry.items():
            src = o.fabric_telemetry.get(phase) or o.of(o.phases, phase, f"phase '{phase}'")
            self._fqdn(
                target, src, "the fabric's UFM telemetry endpoint", zone if phase not in o.fabric_telemetry else ""
            )
        if campus.monitoring.energy_telemetry:
            src = Source.at("the energy telemetry", o.campus_doc, ("monitoring", "energy_telemetry"))
            self._fqdn(mon.energy_telemetry, src, "the energy telemetry endpoint")

    def _label(self, what: str, name: str, source: Source, hint: str) -> None:
        problem = label_problem(name)
        if problem:
            code = "names.too-long" if len(name) > DNS_LABEL_MAX else "names.invalid"
            self.out.append(limit_finding(code, what, name, problem, source, self.o.campus_doc, hint))

    def _fqdn(self, target: str, source: Source, what: str, zone: str = "") -> None:
        """A DNS name (a `host:port` target's host). `zone`: the name is a default built as `<label>.<zone>`,
        whose zone is checked on its own (and blamed on the campus name), so only the rest is this source's."""
        host = target.rsplit(":", 1)[0] if re.search(r":\d+$", target) else target
        if zone and host.endswith("." + zone) and fqdn_problem(zone) is not None:
            host_part = host[: -len(zone) - 1]
            problem = fqdn_problem(host_part)
        else:
            problem = fqdn_problem(host)
        if problem:
            code = "names.too-long" if re.search(r"\d+ characters, over", problem) else "names.invalid"
            hint = (
                "shorten the ids its default name is built from, or set the endpoint in the spec"
                if zone
                else "use a DNS name of labels of letters, digits and '-' (each at most 63, all at most 253)"
            )
            self.out.append(limit_finding(code, what, host, problem, source, self.o.campus_doc, hint))


def name_findings(spec: LoadedSpec, plan: Plan) -> list[Finding]:
    """Every collision between generated names, and every name past its limits, as located error findings."""
    return _Check(spec, plan).run()
