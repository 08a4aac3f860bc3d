"""Compute fabric configuration: for InfiniBand the subnet manager's settings and partitions per phase and domain,
for Ethernet (Spectrum-X) one FRR configuration per switch: BGP unnumbered leaf/spine, an AS per switch.

The fat tree the planner sized is routed by OpenSM's `ftree` engine, which needs to know which switches are roots
(the top tier) and which ports face compute nodes; a subnet manager discovers the GUIDs, so the rendered file names
the engine and the partition layout, and the role gives the GUID files to OpenSM on the SM hosts. One partition per
phase keeps tenants of different phases apart while the default partition carries management traffic.
"""

from __future__ import annotations

from kasbah.plan.derive import Plan
from kasbah.plan.names import domain_dir
from kasbah.plan.switches import FabricSwitch, ethernet_switches
from kasbah.render import Files
from kasbah.render.escape import frr_comment, jinja_literal
from kasbah.render.templating import render_template

MAX_PATHS = 64
"""ECMP width: FRR's default build takes up to 64 equal paths."""


def bgp_ports(sw: FabricSwitch) -> list[int]:
    """Fabric-facing ports (swpN, from 1): a leaf's uplinks (its downlinks face GPUs), every port above the leaf."""
    if sw.tier == "leaf":
        return list(range(sw.ports_down + 1, sw.ports_down + sw.ports_up + 1))
    return list(range(1, sw.ports_down + sw.ports_up + 1))


def render(plan: Plan) -> Files:
    files: Files = {}
    for fabric in plan.fabrics:
        for compute in fabric.compute:
            if not compute.kind.startswith("infiniband"):
                continue
            for domain in compute.domains:
                base = domain_dir(fabric.phase, compute.switch, domain.index)
                tiers = ", ".join(f"{t.name} {t.switches}" for t in domain.tiers)
                # Ansible templates this file (for sm_priority): plan text in it must come out as written.
                head = (
                    f"Rendered by Kasbah: {plan.campus} {fabric.phase}, {compute.kind} domain {domain.index}",
                    f"{domain.nodes:,} nodes, {domain.endpoints:,} endpoints on {compute.rails} rails; "
                    f"switches: {tiers} ({compute.switch}, {compute.oversubscription})",
                )
                files[f"{base}/opensm.conf.j2"] = (
                    "".join(f"# {jinja_literal(frr_comment(line))}\n" for line in head) + "routing_engine ftree\n"
                    "root_guid_file /etc/opensm/root_guids.conf\n"
                    "cn_guid_file /etc/opensm/cn_guids.conf\n"
                    "partition_config_file /etc/opensm/partitions.conf\n"
                    "log_file /var/log/opensm.log\n"
                    "# the pair's priorities come from the inventory: the higher one is master\n"
                    "sm_priority {{ kasbah_sm_priority }}\n"
                )
                pkey = fabric.partition_key
                files[f"{base}/partitions.conf"] = (
                    f"# Rendered by Kasbah: partitions of {frr_comment(fabric.phase)}, domain {domain.index}\n"
                    "Default=0x7fff, ipoib, mtu=5 : ALL=limited, SELF=full ;\n"
                    f"{fabric.phase.replace('-', '_')}=0x{pkey:04x}, ipoib, mtu=5 : ALL_CAS=full, ALL_SWITCHES=full ;\n"
                )
    nets = {u.network: u.cidr for u in plan.addresses.supernets}
    for sw in ethernet_switches(plan):
        files[f"fabric/{sw.phase}/switches/{sw.name}.conf"] = render_template(
            "fabric/switch.conf.j2",
            campus=plan.campus,
            sw=sw,
            ports=bgp_ports(sw),
            max_paths=MAX_PATHS,
            loopbacks=nets["loopbacks"],
            compute=nets["compute_fabric"],
        )
    return files
