# Rendered by Kasbah into build/<phase>/inventory_plugins/: do not edit there.
"""Kasbah's inventory plugin: loads a phase's hosts from the compact per-pod host tables `kasbah render` writes.

Why a plugin: a static YAML inventory of 70,000 hosts takes minutes to load. Here every host joins exactly one
group (its pod) and gets one variable (its address); hall, phase, SKU and role membership is expressed once per
group as group children, and everything else lives in group_vars. Stdlib only, so any controller or execution
environment can run it.
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleParserError
from ansible.inventory.host import Host
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: kasbah_inventory
short_description: Hosts of one Kasbah phase, from the host tables kasbah render writes
description:
  - Reads C(inventory.json) (groups and their children, routers, services) and one tab-separated host table per pod.
options:
  plugin:
    description: The name of this plugin.
    required: true
    choices: [kasbah_inventory]
  data:
    description: Path of the inventory description, relative to this file.
    required: true
    type: str
"""


class InventoryModule(BaseInventoryPlugin):
    NAME = "kasbah_inventory"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and os.path.basename(path) == "kasbah.yml"

    def parse(self, inventory, loader, path, cache=True):  # type: ignore[no-untyped-def]
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        base = os.path.dirname(path)
        data_path = os.path.normpath(os.path.join(base, config.get("data")))
        try:
            with open(data_path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise AnsibleParserError(f"kasbah_inventory: cannot read {data_path}: {exc}") from exc
        inv = self.inventory
        # Roles read the rendered files next to the inventory; one variable on `all` instead of the per-host
        # inventory_dir/inventory_file pair add_host would set (it doubles what each host carries).
        inv.set_variable("all", "kasbah_build_dir", os.path.dirname(os.path.dirname(os.path.abspath(path))))
        # Which phase's plan this is, for the phase guard of hosts several phases configure.
        inv.set_variable("all", "kasbah_campus", data["campus"])
        inv.set_variable("all", "kasbah_phase", data["phase"])
        inv.set_variable("all", "kasbah_phase_order", int(data["phase_order"]))
        for group in data["groups"]:
            inv.add_group(group)
        for parent, children in data["children"].items():
            for child in children:
                inv.add_child(parent, child)
        for host in data["hosts"]:
            inv.add_host(host["name"], group=host["group"])
            inv.set_variable(host["name"], "ansible_host", host["address"])
            for key, value in sorted(host.get("vars", {}).items()):
                inv.set_variable(host["name"], key, value)
        tables = os.path.dirname(data_path)
        hosts = inv.hosts
        groups = inv.groups
        for pod in data["pods"]:
            group = groups[pod["group"]]
            table = os.path.join(tables, pod["table"])
            try:
                with open(table, encoding="utf-8") as fh:
                    lines = fh.read().splitlines()
            except OSError as exc:
                raise AnsibleParserError(f"kasbah_inventory: cannot read {table}: {exc}") from exc
            for line in lines:
                name, address = line.split("\t", 2)[:2]
                if name in hosts:
                    raise AnsibleParserError(f"kasbah_inventory: host {name} appears twice ({table})")
                host = Host(name)
                host.vars["ansible_host"] = address
                hosts[name] = host
                group.add_host(host)
        inv._groups_dict_cache = {}  # what InventoryData.add_host does after a membership change
