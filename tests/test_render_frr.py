"""The edge routers' FRR configs rendered from the plan: valid for FRR's parser, faithful to the plan, secret-free.

Goldens of phase 1 live in tests/golden/frr/; regenerate after an intended change with
`KASBAH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_frr.py`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from kasbah import render as render_pkg
from kasbah.plan.derive import Plan
from kasbah.render import frr
from tests.conftest import REPO, plan_of

PHASES = ("phase1", "phase2", "phase3")
GOLDEN = REPO / "tests" / "golden" / "frr"
EXPR = re.compile(r"\{\{ ([A-Za-z_][A-Za-z0-9_]*) \}\}")


@cache
def plan(phase: str) -> Plan:
    p, _ = plan_of(REPO / "stacks" / f"{phase}.yaml")
    assert p is not None, f"{phase} does not plan"
    return p


@cache
def files(phase: str) -> dict[str, str]:
    return frr.render(plan(phase))


def routers(phase: str) -> list[str]:
    return [r.id for r in plan(phase).edge.routers]


def fill(template: str) -> str:
    """The template as Ansible would write it, with dummy passwords."""
    return EXPR.sub(lambda m: "pw-" + m.group(1)[-20:], template)


def blocks(text: str, header: str) -> list[list[str]]:
    """Stanzas starting with a line beginning with `header` and ending at `exit`."""
    out: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(header):
            current = [line]
        elif current is not None:
            if line == "exit":
                out.append(current)
                current = None
            else:
                current.append(line.strip())
    return out


CASES = [(phase, router) for phase in PHASES for router in routers(phase)]


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_vtysh_accepts_every_rendered_config(phase: str, router: str, tmp_path: Path) -> None:
    (tmp_path / "vtysh.conf").write_text("service integrated-vtysh-config\n", encoding="utf-8")
    conf = tmp_path / "frr.conf"
    conf.write_text(fill(files(phase)[f"frr/{router}.conf.j2"]), encoding="utf-8")
    proc = subprocess.run(
        ["vtysh", "--config_dir", str(tmp_path), "-C", "-f", str(conf)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_vtysh_check_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: a config with a typo is refused."""
    (tmp_path / "vtysh.conf").write_text("", encoding="utf-8")
    conf = tmp_path / "frr.conf"
    conf.write_text(fill(files("phase1")["frr/edge1.conf.j2"]).replace("remote-as 64601", "remote-as casablanca"))
    proc = subprocess.run(["vtysh", "--config_dir", str(tmp_path), "-C", "-f", str(conf)], capture_output=True)
    assert proc.returncode != 0


@pytest.mark.parametrize("phase", PHASES)
def test_one_config_and_vars_file_per_router(phase: str) -> None:
    expected = {f"frr/{r}.{ext}" for r in routers(phase) for ext in ("conf.j2", "vars.yml")}
    assert set(files(phase)) == expected


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_passwords_only_as_template_variables(phase: str, router: str) -> None:
    text = files(phase)[f"frr/{router}.conf.j2"]
    r = next(x for x in plan(phase).edge.routers if x.id == router)
    assert sorted(EXPR.findall(text)) == sorted(s.password_var for s in r.sessions)
    for s in r.sessions:
        assert f" neighbor {s.peer_address} password {{{{ {s.password_var} }}}}\n" in text
    assert not any(tok in EXPR.sub("", text) for tok in ("{{", "}}", "{%", "{#"))
    assert [line for line in text.splitlines() if "password" in line] == [
        f" neighbor {s.peer_address} password {{{{ {s.password_var} }}}}" for s in r.sessions
    ]


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_every_session_of_the_plan_is_configured(phase: str, router: str) -> None:
    p = plan(phase)
    text = files(phase)[f"frr/{router}.conf.j2"]
    r = next(x for x in p.edge.routers if x.id == router)
    assert f"router bgp {r.asn}\n bgp router-id {r.loopback.split('/')[0]}\n" in text
    assert "frr defaults traditional\n" in text and "ebgp-requires-policy" not in text
    for s in r.sessions:
        n = f" neighbor {s.peer_address}"
        for line in (
            f"{n} remote-as {s.peer_asn}",
            f"{n} description {s.cable} via {s.landing_station}",
            f"{n} update-source {s.local_address}",
            f"{n} bfd profile {frr.BFD_PROFILE}",
            f" {n} route-map IN-{s.cable} in",
            f" {n} route-map OUT out",
        ):
            assert line + "\n" in text, f"{router} lacks {line.strip()!r}"
    others = [x for x in p.edge.routers if x.id != router]
    for o in others:
        assert f" neighbor {o.loopback.split('/')[0]} remote-as internal\n" in text
    neighbors = set(re.findall(r"^ neighbor (\S+) remote-as", text, re.M))
    assert neighbors == {s.peer_address for s in r.sessions} | {o.loopback.split("/")[0] for o in others}


@pytest.mark.parametrize("phase", PHASES)
def test_bfd_profile_uses_the_plan_timers(phase: str) -> None:
    bfd = plan(phase).edge.bfd
    for router in routers(phase):
        text = files(phase)[f"frr/{router}.conf.j2"]
        assert (
            f" profile {frr.BFD_PROFILE}\n  detect-multiplier {bfd.multiplier}\n"
            f"  receive-interval {bfd.interval_ms}\n  transmit-interval {bfd.interval_ms}\n"
        ) in text


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_outbound_announces_exactly_the_plan_prefixes(phase: str, router: str) -> None:
    p = plan(phase)
    text = files(phase)[f"frr/{router}.conf.j2"]
    announce = re.findall(r"^ip prefix-list ANNOUNCE seq \d+ permit (\S+)$", text, re.M)
    assert announce == p.edge.announce
    assert re.findall(r"^  network (\S+)$", text, re.M) == p.edge.announce
    assert blocks(text, "route-map OUT ") == [["route-map OUT permit 10", "match ip address prefix-list ANNOUNCE"]]


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_inbound_route_maps_set_the_planned_local_prefs(phase: str, router: str) -> None:
    p = plan(phase)
    text = files(phase)[f"frr/{router}.conf.j2"]
    r = next(x for x in p.edge.routers if x.id == router)
    for region in p.edge.regions:
        listed = re.findall(rf"^ip prefix-list REGION-{region.region} seq \d+ permit (\S+) le 24$", text, re.M)
        assert listed == region.prefixes
    for s in r.sessions:
        stanzas = blocks(text, f"route-map IN-{s.cable} ")
        got = {}
        for st in stanzas:
            match = next((x.rsplit(" ", 1)[1] for x in st if x.startswith("match ")), None)
            setting = next((int(x.rsplit(" ", 1)[1]) for x in st if x.startswith("set local-preference")), None)
            got[match] = (st[0].split()[2], setting)
        # deny own space, then too-specific, before any region; bogons after the regions; the rest accepted last
        order = [next((x.rsplit(" ", 1)[1] for x in st if x.startswith("match ")), None) for st in stanzas]
        assert order[:2] == ["OWN", "TOO-SPECIFIC"] and order[-2:] == ["BOGONS", None]
        assert (
            got["OWN"] == ("deny", None) and got["TOO-SPECIFIC"] == ("deny", None) and got["BOGONS"] == ("deny", None)
        )
        for region in p.edge.regions:
            planned = next((c.local_pref for c in region.preference if c.cable == s.cable), None)
            expected = ("permit", planned) if planned is not None else ("deny", None)
            assert got[f"REGION-{region.region}"] == expected, f"{router} {s.cable} {region.region}"


@pytest.mark.parametrize("phase", PHASES)
def test_each_region_is_best_over_its_planned_cable(phase: str) -> None:
    """Across all routers, the cable whose route-map sets a region's highest local-pref is the plan's first choice."""
    p = plan(phase)
    prefs: dict[str, dict[str, int]] = {}
    for router in routers(phase):
        text = files(phase)[f"frr/{router}.conf.j2"]
        for m in re.finditer(
            r"^route-map IN-(\S+) permit \d+\n match .* REGION-(\S+)\n set local-preference (\d+)$", text, re.M
        ):
            prefs.setdefault(m.group(2), {})[m.group(1)] = int(m.group(3))
    for region in p.edge.regions:
        ranked = sorted(prefs[region.region], key=lambda c: -prefs[region.region][c])
        assert ranked == [c.cable for c in region.preference]


def test_own_space_and_bogons_are_filtered(tmp_path: Path) -> None:
    text = files("phase1")["frr/edge1.conf.j2"]
    own = re.findall(r"^ip prefix-list OWN seq \d+ permit (\S+)", text, re.M)
    # Every supernet of the address plan (not just its allocated blocks) is refused from the peers.
    nets = [ipaddress.ip_network(o) for o in own]
    for supernet in plan("phase1").addresses.supernets:
        assert any(ipaddress.ip_network(supernet.cidr).subnet_of(n) for n in nets), supernet.cidr
    assert "10.68.0.0/16" in own
    assert re.findall(r"^ip prefix-list BOGONS seq \d+ permit (\S+) le 32$", text, re.M) == list(frr.BOGONS)
    assert "ip prefix-list TOO-SPECIFIC seq 10 permit 0.0.0.0/0 ge 25\n" in text


@pytest.mark.parametrize("phase", PHASES)
def test_vars_file_lists_passwords_and_peers(phase: str) -> None:
    for r in plan(phase).edge.routers:
        data = yaml.safe_load(files(phase)[f"frr/{r.id}.vars.yml"])
        assert data["wan_edge_password_vars"] == [s.password_var for s in r.sessions]
        assert data["wan_edge_ebgp_peers"] == [
            {"address": s.peer_address, "asn": s.peer_asn, "cable": s.cable, "landing_station": s.landing_station}
            for s in r.sessions
        ]
        # every protocol block of the config has its daemon enabled by the role (zebra always runs)
        text = files(phase)[f"frr/{r.id}.conf.j2"]
        needed = {f"{m}d" for m in re.findall(r"^router (bgp|ospf)\b", text, re.M)}
        needed |= {"bfdd"} if re.search(r"^bfd$", text, re.M) else set()
        assert needed == {"bgpd", "ospfd", "bfdd"}
        assert set(data["wan_edge_daemons"]) == needed


@pytest.mark.parametrize("phase", PHASES)
def test_byte_identical_across_renders(phase: str) -> None:
    again, _ = plan_of(REPO / "stacks" / f"{phase}.yaml")
    assert again is not None
    assert frr.render(again) == files(phase)


def test_renderer_is_wired_into_kasbah_render() -> None:
    assert frr.render in render_pkg.renderers()


def test_a_password_variable_that_is_not_a_name_is_refused() -> None:
    p = plan("phase1")
    r = p.edge.routers[0]
    bad = r.sessions[0].model_copy(update={"password_var": "x }}{{ lookup('pipe', 'id') }}"})
    router = r.model_copy(update={"sessions": [bad, *r.sessions[1:]]})
    p = p.model_copy(update={"edge": p.edge.model_copy(update={"routers": [router, *p.edge.routers[1:]]})})
    with pytest.raises(ValueError, match="not an identifier"):
        frr.render(p)


@pytest.mark.parametrize("name", sorted(files("phase1")))
def test_phase1_matches_golden(name: str) -> None:
    golden = GOLDEN / Path(name).name
    text = files("phase1")[name]
    if os.environ.get("KASBAH_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden {golden.name}; generate it with KASBAH_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{name} changed; review and regenerate {golden.name}"


def _vtysh_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "vtysh.conf").write_text("service integrated-vtysh-config\n", encoding="utf-8")
    conf = tmp_path / "frr.conf"
    conf.write_text(fill(text), encoding="utf-8")
    return subprocess.run(
        ["vtysh", "--config_dir", str(tmp_path), "-C", "-f", str(conf)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_every_ebgp_session_has_its_maximum_prefix(phase: str, router: str) -> None:
    text = files(phase)[f"frr/{router}.conf.j2"]
    r = next(x for x in plan(phase).edge.routers if x.id == router)
    limits = dict(re.findall(r"^  neighbor (\S+) maximum-prefix (\d+(?: warning-only)?)$", text, re.M))
    assert limits == {s.peer_address: str(s.max_prefixes) for s in r.sessions}  # eBGP only, default: drop the session


@pytest.mark.parametrize(("limit", "warning_only"), [(1, True), (1, False), (250_000, True), (10_000_000, False)])
def test_maximum_prefix_from_the_spec_passes_vtysh(limit: int, warning_only: bool, tmp_path: Path) -> None:
    """The per-peer limit and its warning-only switch, as the spec sets them, render to a line FRR accepts."""
    p = plan("phase1")
    r = p.edge.routers[0]
    s = r.sessions[0].model_copy(update={"max_prefixes": limit, "max_prefixes_warning_only": warning_only})
    router = r.model_copy(update={"sessions": [s, *r.sessions[1:]]})
    p = p.model_copy(update={"edge": p.edge.model_copy(update={"routers": [router, *p.edge.routers[1:]]})})
    text = frr.router_config(p, router)
    line = f"  neighbor {s.peer_address} maximum-prefix {limit}" + (" warning-only" if warning_only else "")
    assert line + "\n" in text
    proc = _vtysh_check(text, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_maximum_prefix_is_set_per_peer_in_the_campus_spec(stacks: Path) -> None:
    from tests.conftest import edit

    edit(
        stacks / "campus.yaml",
        "{id: casablanca, peer_asn: 64601}",
        "{id: casablanca, peer_asn: 64601, max_prefixes: 1000, max_prefixes_warning_only: true}",
    )
    p, _ = plan_of(stacks / "phase1.yaml")
    assert p is not None
    text = "".join(frr.render(p)[f"frr/{r.id}.conf.j2"] for r in p.edge.routers)
    for r in p.edge.routers:
        for s in r.sessions:
            want = "1000 warning-only" if s.landing_station == "casablanca" else str(2_000_000)
            assert f"  neighbor {s.peer_address} maximum-prefix {want}\n" in text


@pytest.mark.parametrize("bad", ["0", "10000001", "-5", "1.5", "'many'"])
def test_maximum_prefix_out_of_bounds_is_refused(bad: str, stacks: Path) -> None:
    from kasbah.findings import SpecError
    from kasbah.spec.load import load_spec
    from tests.conftest import edit

    edit(
        stacks / "campus.yaml",
        "{id: casablanca, peer_asn: 64601}",
        f"{{id: casablanca, peer_asn: 64601, max_prefixes: {bad}}}",
    )
    with pytest.raises(SpecError) as info:
        load_spec(stacks / "phase1.yaml")
    assert any("max_prefixes" in f.path for f in info.value.findings)


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_ospf_runs_on_the_planned_interconnect_and_the_loopback_only(phase: str, router: str) -> None:
    p = plan(phase)
    text = files(phase)[f"frr/{router}.conf.j2"]
    mine = sorted(
        (
            (i.a_if, i.b, i.a_address) if i.a == router else (i.b_if, i.a, i.b_address)
            for i in p.edge.interconnects_of(router)
        ),
        key=lambda x: int(x[0][2:]),
    )
    assert mine, f"{router} has no interconnect"
    interfaces = {st[0].split()[1]: st[1:] for st in blocks(text, "interface ")}
    assert list(interfaces) == [ifname for ifname, _, _ in mine] + ["lo"]
    r = next(x for x in p.edge.routers if x.id == router)
    for ifname, peer, address in mine:
        body = interfaces[ifname]
        assert body[0].startswith("description interconnect ") and f" to {peer} " in body[0]
        # the port's /31 is in the config (zebra puts it on the port), the router's own end of the link
        assert body[1:] == [
            f"ip address {address}",
            f"ip ospf area {p.edge.ospf_area}",
            "ip ospf network point-to-point",
            "ip ospf bfd",
            f"ip ospf bfd profile {frr.BFD_PROFILE}",
        ]
    assert interfaces["lo"] == [f"ip address {r.loopback}", f"ip ospf area {p.edge.ospf_area}", "ip ospf passive"]
    # both ends of every link hold distinct addresses of the link's /31
    for i in p.edge.interconnects_of(router):
        a, b = ipaddress.ip_interface(i.a_address), ipaddress.ip_interface(i.b_address)
        assert a.network == b.network == ipaddress.ip_network(i.link_cidr) and a.network.prefixlen == 31 and a != b
    assert blocks(text, "router ospf") == [
        ["router ospf", f"ospf router-id {r.loopback.split('/')[0]}", "log-adjacency-changes"]
    ]
    # no OSPF towards the landing stations: no circuit interface is named anywhere
    circuits = {lk.a_if for lk in p.lab.links if lk.kind == "circuit" and lk.a == router}
    assert not any(re.search(rf"\b{c}\b", text) for c in circuits)


@pytest.mark.parametrize(("phase", "router"), CASES)
def test_ibgp_sessions_have_multihop_bfd_from_the_loopback(phase: str, router: str) -> None:
    p = plan(phase)
    text = files(phase)[f"frr/{router}.conf.j2"]
    r = next(x for x in p.edge.routers if x.id == router)
    me = r.loopback.split("/")[0]
    ibgp = p.edge.ibgp_bfd
    assert (
        f" profile {frr.IBGP_BFD_PROFILE}\n  detect-multiplier {ibgp.multiplier}\n"
        f"  receive-interval {ibgp.interval_ms}\n  transmit-interval {ibgp.interval_ms}\n"
    ) in text
    for o in (x for x in p.edge.routers if x.id != router):
        peer = o.loopback.split("/")[0]
        assert f" peer {peer} multihop local-address {me}\n  profile {frr.IBGP_BFD_PROFILE}\n exit\n" in text
        assert f" neighbor {peer} update-source lo\n neighbor {peer} bfd profile {frr.IBGP_BFD_PROFILE}\n" in text
    # a link's failure is repaired by OSPF (link BFD) before the loopback-to-loopback session could notice it
    assert ibgp.interval_ms * ibgp.multiplier > p.edge.bfd.interval_ms * p.edge.bfd.multiplier
