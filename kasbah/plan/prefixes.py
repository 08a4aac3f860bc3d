"""Whether the campus's IPv4 prefixes make sense where they are used: what the edge announces, what stands for each
region, the lab's link block and the address plan's supernets.

The schema already makes each one a well-formed network (no host bits, IPv4); these checks look at what it means.
An edge that announces the default route offers every carrier transit through the campus, and its inbound filter
(which drops routes into the campus's own space) then drops every route it learns; a region prefix inside the
campus's supernets is dropped by the same filter and its probe targets a campus address; a prefix two regions claim
gets two preferences; special-purpose space is never routed between networks. Each is an error with what to do,
except the documentation and benchmarking ranges, which the examples use on purpose so the lab can route them: for
region prefixes those are a note, for announced prefixes a warning (only the lab can route them).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Generic, Literal, TypeVar

from kasbah.findings import Finding, Level, Path, format_path
from kasbah.spec.campus import Campus
from kasbah.yamlsource import SourceDoc

Kind = Literal["unusable", "private", "test"]
T = TypeVar("T")


@dataclass(frozen=True)
class Special:
    """One block of the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and the RFCs it names)."""

    network: IPv4Network
    name: str
    kind: Kind
    """unusable: never a unicast destination between networks; private: used inside many networks, never routed
    between them; test: documentation and benchmarking space, routed nowhere (the lab may use it)."""


SPECIAL: tuple[Special, ...] = tuple(
    Special(IPv4Network(net), name, kind)  # type: ignore[arg-type]
    for net, name, kind in (
        ("0.0.0.0/8", "'this network' (RFC 791, RFC 1122)", "unusable"),
        ("10.0.0.0/8", "private space (RFC 1918)", "private"),
        ("100.64.0.0/10", "shared address space for carrier-grade NAT (RFC 6598)", "private"),
        ("127.0.0.0/8", "loopback (RFC 1122)", "unusable"),
        ("169.254.0.0/16", "link-local (RFC 3927)", "unusable"),
        ("172.16.0.0/12", "private space (RFC 1918)", "private"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)", "unusable"),
        ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)", "test"),
        ("192.88.99.0/24", "the deprecated 6to4 relay anycast (RFC 7526)", "unusable"),
        ("192.168.0.0/16", "private space (RFC 1918)", "private"),
        ("198.18.0.0/15", "benchmarking space (RFC 2544)", "test"),
        ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)", "test"),
        ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)", "test"),
        ("224.0.0.0/4", "multicast (RFC 5771)", "unusable"),
        ("240.0.0.0/4", "reserved space and the limited broadcast address (RFC 1112, RFC 919)", "unusable"),
    )
)
"""Hand-listed because `ipaddress.is_private`/`is_global` lump these kinds together (one word for private, test and
loopback space) and changed between Python patch releases (gh-113171); a test checks the list against `ipaddress`."""

SHORTEST_PREFIX = 8
"""A /8 is the largest block IANA ever allocated to one network; a shorter prefix claims other networks' space."""

MAX_ACCEPTED_LENGTH = 24
"""The longest prefix the edge accepts from a carrier (kasbah.render.frr.MAX_ACCEPTED_LENGTH, the common global-table
filter); most networks drop longer announcements too. A test keeps the two equal."""


def special_blocks(net: IPv4Network) -> list[Special]:
    """The special-purpose blocks `net` overlaps (inside one, or covering part of one)."""
    return [s for s in SPECIAL if s.network.overlaps(net)]


class PrefixIndex(Generic[T]):
    """IPv4 prefixes with a payload each, answering "which overlap this one?" without comparing every pair.

    Two CIDR blocks overlap only when one holds the other: the ones holding a prefix are found by looking up its (at
    most 33) covering blocks, the ones inside it by the sorted start addresses. So checking n prefixes against each
    other costs about n log n, not n squared (a spec may list thousands)."""

    def __init__(self) -> None:
        self._by_block: dict[tuple[int, int], list[tuple[IPv4Network, T]]] = {}
        self._starts: list[int] = []
        self._at_start: dict[int, list[tuple[IPv4Network, T]]] = {}

    def add(self, net: IPv4Network, item: T) -> None:
        start = int(net.network_address)
        self._by_block.setdefault((start, net.prefixlen), []).append((net, item))
        if start not in self._at_start:
            insort(self._starts, start)
            self._at_start[start] = []
        self._at_start[start].append((net, item))

    def overlapping(self, net: IPv4Network) -> Iterator[tuple[IPv4Network, T]]:
        """Every (prefix, item) overlapping `net`: the same block and those holding it first, then those inside."""
        start, end = int(net.network_address), int(net.broadcast_address)
        for length in range(net.prefixlen, -1, -1):
            mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
            yield from self._by_block.get((start & mask, length), ())
        i = bisect_left(self._starts, start)
        while i < len(self._starts) and self._starts[i] <= end:
            for other, item in self._at_start[self._starts[i]]:
                if other.prefixlen > net.prefixlen:
                    yield other, item
            i += 1


def _in_file(doc: SourceDoc, path: Path) -> bool:
    """Whether the spec writes `path` (a default is not in the file, so a finding there has no line to point at)."""
    node: object = doc.data
    for part in path:
        found = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not found:
            return False
        node = node[part]  # type: ignore[index]
    return True


def _relation(net: IPv4Network, s: Special) -> str:
    """`lies in 10.0.0.0/8, private space (RFC 1918)` or `covers ...` (two CIDR blocks that overlap nest)."""
    verb = "is" if net == s.network else "lies in" if net.subnet_of(s.network) else "covers"
    return f"{verb} {s.network}, {s.name}"


def _first_host(net: IPv4Network) -> str:
    return str(next(iter(net.hosts()), net.network_address))


class _Checker:
    def __init__(self, campus: Campus, doc: SourceDoc):
        self.campus = campus
        self.doc = doc
        self.out: list[Finding] = []
        self.supernets: list[tuple[Path, IPv4Network]] = [
            (("addressing", name), net) for name, net in campus.addressing.model_dump().items()
        ]
        self.explicit_announce = bool(campus.wan.announce)
        self.announce: list[tuple[Path, IPv4Network]] = (
            [(("wan", "announce", i), net) for i, net in enumerate(campus.wan.announce)]
            if campus.wan.announce
            else [(("addressing", "services"), campus.addressing.services)]
        )
        self.region_prefixes: list[tuple[Path, str, IPv4Network]] = [
            (("wan", "regions", ri, "prefixes", pi), region.id, net)
            for ri, region in enumerate(campus.wan.regions)
            for pi, net in enumerate(region.prefixes)
        ]

    def add(self, level: Level, code: str, path: Path, message: str, hint: str | None = None) -> None:
        self.out.append(self.doc.finding(level, code, path, message, hint))

    # -- what each prefix is -----------------------------------------------------------------------------------
    def _length(self, path: Path, net: IPv4Network, what: str) -> bool:
        """Errors for the default route and very short prefixes; True when the prefix is usable enough to go on."""
        where = format_path(path)
        if net.prefixlen == 0:
            consequence = (
                "the edge would offer every carrier a route to the whole Internet through the campus, and its "
                "inbound filter, which drops routes into the campus's own prefixes, would then drop every route "
                "it learns"
                if what == "announce"
                else "every route a carrier sends would count as this region's and get its preference, and its "
                "probe would target 0.0.0.1"
            )
            hint = (
                "announce only the campus's own public prefixes (the blocks its RIR or carriers assigned to it)"
                if what == "announce"
                else "list the region's destination prefixes (e.g. its cloud and IX blocks), /8 to /24 each"
            )
            message = f"{where} is 0.0.0.0/0, the default route: {consequence}"
            self.add(Level.ERROR, "wan.prefix-default", path, message, hint)
            return False
        if net.prefixlen < SHORTEST_PREFIX:
            self.add(
                Level.ERROR,
                "wan.prefix-too-short",
                path,
                f"{where} is {net}, shorter than /{SHORTEST_PREFIX} (the largest block IANA ever allocated to one "
                f"network): it covers {net.num_addresses:,} addresses of other networks",
                "use the exact prefixes the campus holds (announce) or the region's destinations (regions), "
                f"/{SHORTEST_PREFIX} to /{MAX_ACCEPTED_LENGTH} each",
            )
            return False
        return True

    def _announce(self) -> None:
        services = self.campus.addressing.services
        if self.explicit_announce and not any(services.subnet_of(net) for _, net in self.announce):
            self.add(
                Level.WARNING,
                "wan.prefix-misses-probes",
                ("wan", "announce"),
                f"no prefix in wan.announce covers addressing.services ({services}), where the monitoring host "
                "sends the WAN probes from: their replies have no route back, so every region probe fails (in the "
                "lab always: it has no NAT)",
                "announce a block that holds addressing.services (give services public space), or source-NAT the "
                "probes at the edge",
            )
        seen: dict[IPv4Network, Path] = {}
        for path, net in self.announce:
            where = format_path(path)
            if self.explicit_announce and net in seen:
                self.add(
                    Level.WARNING,
                    "wan.prefix-duplicate",
                    path,
                    f"{where} ({net}) is listed twice (also {format_path(seen[net])})",
                    "list each prefix once",
                )
                continue
            seen.setdefault(net, path)
            if not self._length(path, net, "announce"):
                continue
            if not self.explicit_announce:
                where = f"wan.announce is empty, so the edge announces addressing.services ({net}), which"
            else:
                where = f"{where} ({net})"
            for s in special_blocks(net):
                if s.kind == "unusable" or (s.kind == "private" and self.explicit_announce):
                    self.add(
                        Level.ERROR,
                        "wan.prefix-special",
                        path,
                        f"{where} {_relation(net, s)}, never routed between networks: carriers drop it and "
                        "the campus stays unreachable",
                        "announce the campus's public prefixes (the blocks its RIR or carriers assigned to it)",
                    )
                else:
                    level = Level.WARNING if self.explicit_announce else Level.INFO
                    self.add(
                        level,
                        "wan.prefix-special",
                        path,
                        f"{where} {_relation(net, s)}: carriers drop it, so only the lab can route it",
                        "set wan.announce to the campus's public prefixes before the edge peers with real carriers",
                    )
            if net.prefixlen > MAX_ACCEPTED_LENGTH:
                self.add(
                    Level.WARNING,
                    "wan.prefix-too-long",
                    path,
                    f"{where} is longer than /{MAX_ACCEPTED_LENGTH}: most networks drop such routes, so few will "
                    "reach the campus through it",
                    f"announce a covering /{MAX_ACCEPTED_LENGTH} or shorter prefix the campus holds",
                )

    def _regions(self) -> None:
        claimed: PrefixIndex[tuple[Path, str]] = PrefixIndex()
        own: PrefixIndex[Path] = PrefixIndex()
        for own_path, own_net in self.supernets + (self.announce if self.explicit_announce else []):
            own.add(own_net, own_path)
        for path, region, net in self.region_prefixes:
            where = f"{format_path(path)} ({net}, region '{region}')"
            duplicate = shared = None
            for other, (other_path, other_region) in claimed.overlapping(net):
                if other_region != region:
                    shared = (other_path, other_region, other)
                    break
                if other == net and duplicate is None:
                    duplicate = other_path
            claimed.add(net, (path, region))
            if duplicate is not None and shared is None:
                self.add(
                    Level.WARNING,
                    "wan.prefix-duplicate",
                    path,
                    f"{where} is listed twice (also {format_path(duplicate)})",
                    "list each prefix once",
                )
                continue
            if shared is not None:
                other_path, other_region, other = shared
                same = "is also" if other == net else f"overlaps {other}, which is"
                self.add(
                    Level.ERROR,
                    "wan.region-prefix-shared",
                    path,
                    f"{where} {same} claimed by region '{other_region}' ({format_path(other_path)}): the edge "
                    "cannot prefer one region's best cable for the same destinations",
                    "give each destination prefix to one region only",
                )
            if not self._length(path, net, "region"):
                continue
            for s in special_blocks(net):
                if s.kind == "test":
                    self.add(
                        Level.INFO,
                        "wan.prefix-test-range",
                        path,
                        f"{where} {_relation(net, s)}: fine for the lab, but no carrier routes it, so in "
                        "production the region's preference applies to nothing",
                        "replace it with the region's real destination prefixes before going live",
                    )
                else:
                    self.add(
                        Level.ERROR,
                        "wan.prefix-special",
                        path,
                        f"{where} {_relation(net, s)}: no carrier routes it to a region, and a route to it "
                        "from one is a leak",
                        "list the region's public destination prefixes (e.g. its cloud and IX blocks)",
                    )
            if net.prefixlen > MAX_ACCEPTED_LENGTH:
                self.add(
                    Level.ERROR,
                    "wan.prefix-too-long",
                    path,
                    f"{where} is longer than /{MAX_ACCEPTED_LENGTH}: the edge accepts no route longer than "
                    f"/{MAX_ACCEPTED_LENGTH} from a carrier, so the region's preference never applies",
                    f"use the region's covering /{MAX_ACCEPTED_LENGTH} or shorter prefix",
                )
            hits = sorted(own.overlapping(net), key=lambda hit: hit[1])
            if hits:
                own_net, own_path = hits[0]
                more = f" (and {len(hits) - 1} more of the campus's prefixes)" if len(hits) > 1 else ""
                self.add(
                    Level.ERROR,
                    "wan.region-prefix-own",
                    path,
                    f"{where} overlaps {format_path(own_path)} ({own_net}){more}, the campus's own space: the edge "
                    "drops routes into it, so the region is unreachable, and its probe would target "
                    f"{_first_host(net)}, a campus address",
                    "region prefixes are destinations outside the campus; move one of the two",
                )

    # -- the lab and the address plan ----------------------------------------------------------------------------
    def _supernets(self) -> None:
        for path, net in self.supernets:
            for s in special_blocks(net):
                if s.kind == "unusable":
                    self.add(
                        Level.ERROR,
                        "addresses.unusable",
                        path,
                        f"{format_path(path)} ({net}) {_relation(net, s)}: hosts cannot use those addresses",
                        "use private space (RFC 1918: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or the campus's "
                        "public blocks",
                    )

    def _lab(self) -> None:
        links = self.campus.lab.links
        explicit = _in_file(self.doc, ("lab", "links"))
        for s in special_blocks(links):
            if s.kind == "unusable":
                self.add(
                    Level.ERROR,
                    "addresses.lab-links-unusable",
                    ("lab", "links"),
                    f"lab.links ({links}) {_relation(links, s)}: the lab's link interfaces cannot use those addresses",
                    "use a block no network routes, such as the default 198.51.100.0/24 (TEST-NET-2, RFC 5737)",
                )
        others = self.supernets + self.announce + [(p, n) for p, _, n in self.region_prefixes]
        for path, net in others:
            if not links.overlaps(net):
                continue
            if explicit:
                self.add(
                    Level.ERROR,
                    "addresses.lab-links-overlap",
                    ("lab", "links"),
                    f"lab.links ({links}) overlaps {format_path(path)} ({net}): the lab's emulated carrier links "
                    "would take campus or region addresses, and its routing would not be the campus's",
                    "give lab.links a block of its own, outside the campus and the regions",
                )
            else:
                self.add(
                    Level.ERROR,
                    "addresses.lab-links-overlap",
                    path,
                    f"{format_path(path)} ({net}) overlaps lab.links ({links}, the default): the lab's emulated "
                    "carrier links would take these addresses",
                    "set lab.links to a block of its own outside the campus and the regions, or move this prefix",
                )

    def run(self) -> list[Finding]:
        self._supernets()
        self._announce()
        self._regions()
        self._lab()
        return self.out


def prefix_findings(campus: Campus, doc: SourceDoc) -> list[Finding]:
    """Every finding about the campus's prefixes, in spec order."""
    return _Checker(campus, doc).run()
