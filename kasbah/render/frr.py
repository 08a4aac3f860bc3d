"""FRR configs of the campus edge routers: one Ansible template per router, rendered from `plan.edge`.

`frr/<router>.conf.j2` is a complete integrated FRR config whose only template variables are the session passwords
(`{{ vault_bgp_password_<router>_<cable> }}`), so no secret is ever in `build/`: the WAN edge role fills them in from
vault or extra vars (with no_log) on the way to the router. `frr/<router>.vars.yml` lists what the role needs to know
about the router besides the config: the password variables to check before templating and the eBGP peers to wait for.

Routing policy (each a policy choice, written here once; the figures come from the plan):

- `frr defaults traditional`, not `datacenter`: these are eBGP sessions to other operators' landing stations, so the
  safe internet-edge defaults apply (RFC 8212 `ebgp-requires-policy` stays on: a missing route-map means nothing is
  accepted or sent, never everything), and BFD (the plan's interval x multiplier) gives fast failure detection, so
  the datacenter profile's aggressive 3/9 s BGP timers are not needed.
- Outbound: only the plan's `edge.announce` prefixes, exactly (no transit between landing stations).
- Inbound, per session, in this order: deny our own space (the announce prefixes and every supernet of the address
  plan, any length); deny anything longer than /24 (`MAX_ACCEPTED_LENGTH`, the limit most networks filter the
  global table at); for each region the cable reaches, permit its prefixes (up to /24) with that cable's local-pref
  from `edge.regions` (best latency floor highest, so each region prefers its lowest-floor cable and falls back in
  order); deny a region's prefixes on a cable the plan found no path to that region over; deny bogons (`BOGONS`);
  permit the rest at BGP's default local-pref (100, below every planned one). Region prefixes come before the bogon
  filter on purpose: the example specs use the RFC 2544 range for them so the lab can announce them.
- `network` statements announce `edge.announce` with import-check on: a prefix is announced only while the router
  has a route to it (the lab puts it on `lo`), so a router cut off from the campus stops attracting traffic.
- iBGP full mesh between the edge routers over their loopbacks (update-source lo, next-hop-self): the local-pref set
  by the router that holds a cable travels with the route, so every edge router ranks all cables of the campus the
  same way. Each iBGP session has multihop BFD (`IBGP_BFD_PROFILE`, the plan's `edge.ibgp_bfd`: slower than a link's,
  so one interconnect link's failure never drops it; a dead peer router does).
- The loopbacks are reached over the planned interconnect (`edge.interconnects`, point-to-point /31s named `ic<k>`)
  with OSPF: one area, point-to-point network type (no DR election, adjacency in one hello), BFD on every link at the
  plan's timers (a silent link failure is noticed in interval x multiplier, not OSPF's 40 s dead interval), the
  loopback passive and advertised. OSPF rather than static routes: with static routes a silently failed link would
  keep attracting the loopback traffic (the interface stays up), and a third router could never be used as a detour.
  Only the interconnect runs OSPF: the circuits to the landing stations are other operators' links.
- The addresses the routers' own routing stands on are in the config: the loopback (iBGP's source, OSPF's router id)
  and each interconnect port's /31, so zebra puts them on the ports the plan names and keeps them there across a
  reboot; nothing else has to agree with the plan for the edge to come up. The circuits' addresses are on ports the
  plan does not name yet (the carrier's hand-off port): the host's network config puts them there.
- The config needs ospfd besides zebra, bgpd and bfdd (`DAEMONS`); `frr/<router>.vars.yml` lists them
  (`wan_edge_daemons`) and the role enables them in FRR's `daemons` file.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, collapse_addresses, ip_network

from kasbah.monitoring.exporters import FRR_EXPORTER_PORT
from kasbah.plan.derive import Plan
from kasbah.plan.edge import BgpSession, EdgePlan, EdgeRouter
from kasbah.render.escape import frr_word, jinja_literal, yaml_dump
from kasbah.render.templating import render_template

MAX_ACCEPTED_LENGTH = 24
"""Policy: the longest IPv4 prefix accepted from a peer (the common global-table filter; longer is a leak or noise)."""

BOGONS: tuple[str, ...] = (
    "0.0.0.0/8",  # RFC 1122 "this network"
    "10.0.0.0/8",  # RFC 1918
    "100.64.0.0/10",  # RFC 6598 shared address space
    "127.0.0.0/8",  # RFC 1122 loopback
    "169.254.0.0/16",  # RFC 3927 link local
    "172.16.0.0/12",  # RFC 1918
    "192.0.0.0/24",  # RFC 6890 IETF protocol assignments
    "192.0.2.0/24",  # RFC 5737 TEST-NET-1
    "192.168.0.0/16",  # RFC 1918
    "198.18.0.0/15",  # RFC 2544 benchmarking
    "198.51.100.0/24",  # RFC 5737 TEST-NET-2
    "203.0.113.0/24",  # RFC 5737 TEST-NET-3
    "224.0.0.0/4",  # RFC 5771 multicast
    "240.0.0.0/4",  # RFC 1112 reserved (includes 255.255.255.255/32)
)
"""Special-purpose IPv4 blocks never routed on the internet (RFC 6890 registry), denied at any length."""

BFD_PROFILE = "kasbah-wan"
IBGP_BFD_PROFILE = "kasbah-ibgp"
DAEMONS: tuple[str, ...] = ("zebra", "bgpd", "ospfd", "bfdd")
"""The FRR daemons a rendered config needs (zebra first: the others connect to it)."""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOLE = "\0password{}\0"
"""Stands for a password expression while the rest of the config is made literal for Jinja (NUL: no plan text
survives FRR escaping with one)."""


def _password_expr(session: BgpSession) -> str:
    """`{{ var }}` for Ansible; the name is checked so the template cannot carry anything else."""
    if not _IDENT.match(session.password_var):
        raise ValueError(f"password variable {session.password_var!r} of {session.cable} is not an identifier")
    return "{{ " + session.password_var + " }}"


def _own_prefixes(plan: Plan) -> list[str]:
    # The supernets, not the blocks carved from them: any route into campus space is bogus, and the filter stays the
    # same when a pod grows (so the edge routers' Pulumi step does not re-run for it).
    nets = [ip_network(u.cidr) for u in plan.addresses.supernets]
    nets += [ip_network(p) for p in plan.edge.announce]
    return [str(n) for n in collapse_addresses(n for n in nets if isinstance(n, IPv4Network))]


def _le(prefix: str) -> str:
    """`le 24` when the prefix is shorter than /24 (FRR rejects le below the prefix's own length)."""
    length = ip_network(prefix).prefixlen
    return f" le {MAX_ACCEPTED_LENGTH}" if length < MAX_ACCEPTED_LENGTH else ""


def _port_key(ifname: str) -> tuple[str, int]:
    """`ic2` before `ic10`."""
    stem = ifname.rstrip("0123456789")
    return stem, int(ifname[len(stem) :] or 0)


def _inbound(edge: EdgePlan, session: BgpSession) -> list[dict[str, object]]:
    """The region entries of one session's inbound route-map: (region, local-pref or None for deny), plan order."""
    out: list[dict[str, object]] = []
    for region in edge.regions:
        if not region.prefixes:
            continue
        pref = next((p.local_pref for p in region.preference if p.cable == session.cable), None)
        out.append({"region": region.region, "local_pref": pref})
    return out


def router_config(plan: Plan, router: EdgeRouter) -> str:
    edge = plan.edge
    sessions = [
        {
            "s": s,
            "password": _HOLE.format(i),
            "route_map_in": frr_word(f"IN-{s.cable}"),
            "regions": _inbound(edge, s),
        }
        for i, s in enumerate(router.sessions)
    ]
    ibgp = [r for r in edge.routers if r.id != router.id and r.loopback]
    interconnect = []
    for link in edge.interconnects_of(router.id):
        mine = link.a == router.id
        interconnect.append(
            {
                "ifname": link.a_if if mine else link.b_if,
                "address": link.a_address if mine else link.b_address,
                "peer": link.b if mine else link.a,
                "peer_if": link.b_if if mine else link.a_if,
                "link": link,
            }
        )
    interconnect.sort(key=lambda x: _port_key(x["ifname"]))
    text = render_template(
        "frr/router.conf.j2",
        plan=plan,
        edge=edge,
        router=router,
        router_id=router.loopback.split("/")[0],
        sessions=sessions,
        ibgp=[{"id": r.id, "address": r.loopback.split("/")[0]} for r in ibgp],
        own=_own_prefixes(plan),
        bogons=BOGONS,
        max_len=MAX_ACCEPTED_LENGTH,
        le=_le,
        bfd_profile=BFD_PROFILE,
        ibgp_bfd_profile=IBGP_BFD_PROFILE,
        interconnect=interconnect,
        regions=[r for r in edge.regions if r.prefixes],
    )
    # Ansible templates this file again: everything but the password expressions must come out as written.
    text = jinja_literal(text)
    for i, s in enumerate(router.sessions):
        text = text.replace(_HOLE.format(i), _password_expr(s))
    return text


def router_vars(plan: Plan, router: EdgeRouter) -> str:
    """What the wan_edge role reads besides the config, through the YAML emitter (a cable `yes` stays a string)."""
    peers = [
        {"address": s.peer_address, "asn": s.peer_asn, "cable": s.cable, "landing_station": s.landing_station}
        for s in router.sessions
    ]
    return yaml_dump(
        {
            "wan_edge_password_vars": [s.password_var for s in router.sessions],
            "wan_edge_ebgp_peers": peers,
            "wan_edge_daemons": [d for d in DAEMONS if d != "zebra"],
            "wan_edge_exporter_listen": f"{router.loopback.split('/')[0]}:{FRR_EXPORTER_PORT}",
        },
        header=f"{router.id}: rendered by kasbah from the plan of {plan.phase}; read by the wan_edge role. "
        "Do not edit.",
    )


def render(plan: Plan) -> dict[str, str]:
    files: dict[str, str] = {}
    for router in plan.edge.routers:
        files[f"frr/{router.id}.conf.j2"] = router_config(plan, router)
        files[f"frr/{router.id}.vars.yml"] = router_vars(plan, router)
    return files
