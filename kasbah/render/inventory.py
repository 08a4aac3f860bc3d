"""The Ansible inventory of a phase: groups, per-pod host tables, group variables and the plan's /etc/hosts.

Hosts carry one variable (their address) and the few campus-wide values sit on `all`: Ansible merges every group
variable into every host's variables, which at 70,000 hosts is most of the cost of loading an inventory. What a
role needs per pod it reads from the pod's own file under gpu/pods/. The `kasbah_inventory` plugin (rendered next
to it) loads the host tables, because a static YAML inventory of a large phase takes minutes to load.
"""

from __future__ import annotations

import json
from importlib.resources import files as package_files

from kasbah.plan.derive import Plan
from kasbah.plan.hosts import oob_blocks, pod_hosts
from kasbah.plan.names import ROLE_GROUPS, domain_dir, group_name
from kasbah.plan.switches import ethernet_switches
from kasbah.render import Files
from kasbah.render.escape import host_field, yaml_comment, yaml_dump


def _yaml(data: object) -> str:
    """Through the emitter, so ids such as `010` or `yes` stay strings for Ansible (kasbah.render.escape)."""
    return yaml_dump(data)


def render(plan: Plan) -> Files:
    files: Files = {}
    blocks = oob_blocks(plan.addresses.allocations)
    groups: set[str] = set(ROLE_GROUPS)
    children: dict[str, set[str]] = {}
    pods = []
    etc_hosts = [
        f"# Rendered by Kasbah from the plan of {yaml_comment(plan.campus)} {yaml_comment(plan.phase)}: every host, "
        "no lookups.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    for pod in plan.pods:
        pg, hg, ph = group_name("pod", pod.id), group_name("hall", pod.hall), group_name("phase", pod.phase)
        sku = group_name("sku", pod.sku)
        groups |= {pg, hg, ph, sku}
        for parent in (hg, ph, sku, "gpu_nodes"):
            children.setdefault(parent, set()).add(pg)
        members = list(pod_hosts(pod, blocks[pod.id]))
        files[f"inventory/hosts/{pod.id}.tsv"] = "".join(
            f"{host_field(h.name)}\t{h.address}\t{h.rack}\t{h.tray}\n" for h in members
        )
        etc_hosts.extend(f"{h.address}\t{h.name}" for h in members)
        pods.append({"group": pg, "table": f"hosts/{pod.id}.tsv"})
    hosts = [{"name": r.id, "group": "edge_routers", "address": r.loopback.split("/")[0]} for r in plan.edge.routers]
    for svc in plan.service_hosts:
        if svc.role == "monitoring":
            hosts.append({"name": svc.name, "group": "monitoring", "address": svc.address})
        elif svc.role == "scheduler":
            hosts.append({"name": svc.name, "group": "slurm_controllers", "address": svc.address})
        else:
            assert svc.fabric_switch is not None and svc.fabric_domain is not None
            directory = domain_dir(svc.phase, svc.fabric_switch, svc.fabric_domain)
            hosts.append(
                {
                    "name": svc.name,
                    "group": "subnet_managers",
                    "address": svc.address,
                    "vars": {"kasbah_fabric_dir": directory, "kasbah_sm_priority": svc.priority},
                }
            )
    for sw in ethernet_switches(plan):
        hosts.append(
            {
                "name": sw.name,
                "group": "fabric_switches",
                "address": sw.loopback,
                "vars": {"kasbah_switch_config": f"fabric/{sw.phase}/switches/{sw.name}.conf"},
            }
        )
    etc_hosts.extend(f"{host_field(h['address'])}\t{host_field(h['name'])}" for h in hosts)
    data = {
        "campus": plan.campus,
        "phase": plan.phase,
        # 1-based place of the phase in the campus's chain: hosts several phases configure record it, so an older
        # phase's run can tell it would downgrade them (playbooks/roles/phase_guard).
        "phase_order": [p.id for p in plan.phases].index(plan.phase) + 1,
        "groups": sorted(groups),
        "children": {k: sorted(v) for k, v in sorted(children.items())},
        "hosts": hosts,
        "pods": pods,
    }
    files["inventory/inventory.json"] = json.dumps(data, indent=1, sort_keys=True) + "\n"
    files["inventory/kasbah.yml"] = _yaml({"plugin": "kasbah_inventory", "data": "inventory.json"})
    files["inventory/etc_hosts"] = "\n".join(etc_hosts) + "\n"
    files["inventory_plugins/kasbah_inventory.py"] = (
        package_files("kasbah.render").joinpath("files/kasbah_inventory.py").read_text(encoding="utf-8")
    )
    files["inventory/group_vars/all.yml"] = (
        f"---\n# {yaml_comment(plan.campus)} {yaml_comment(plan.phase)}. Whatever is set here, every host carries "
        "(70,000 copies in a large\n"
        "# phase): keep it short. kasbah_build_dir comes from the inventory plugin; the plan is in plan.json.\n{}\n"
    )
    files["inventory/group_vars/edge_routers.yml"] = _yaml(
        {"kasbah_edge_asn": plan.edge.asn, "kasbah_edge_announce": plan.edge.announce}
    )
    return files
