"""Controller settings for a phase: ansible.cfg, collection requirements, the execution environment and the plan.

ansible.cfg sits in build/<phase>/ so its relative paths (inventory, plugins, fact cache) resolve there whoever runs
it: `kasbah apply`, an operator with ANSIBLE_CONFIG, or AWX from the execution environment.
"""

from __future__ import annotations

import json

from kasbah.plan.derive import Plan
from kasbah.render import Files
from kasbah.render.escape import ini_comment, yaml_comment

ANSIBLE_CFG = """\
# Rendered by Kasbah for {campus} {phase}. Point ANSIBLE_CONFIG here (kasbah apply does).
[defaults]
inventory = inventory/kasbah.yml
inventory_plugins = inventory_plugins
forks = 50
gathering = smart
fact_caching = jsonfile
fact_caching_connection = .facts
fact_caching_timeout = 86400
interpreter_python = auto_silent
# Facts stay under ansible_facts[...]: injecting them as top-level variables is deprecated, and at 70,000 hosts
# cleaning them for every host is most of the cost of building host variables.
inject_facts_as_vars = False
retry_files_enabled = False
stdout_callback = default
bin_ansible_callbacks = True

[vars_host_group_vars]
# group_vars/host_vars sit beside the inventory: read them once when it loads, not again for every host.
stage = inventory

[inventory]
# kasbah_inventory reads the rendered host tables; yaml reads overlays given with `kasbah apply --inventory`.
enable_plugins = kasbah_inventory, yaml
unparsed_is_failed = True

[ssh_connection]
pipelining = True
# No ControlPersist: a persistent `ssh [mux]` process outlives the run (and keeps a lab namespace alive).
ssh_args = -o ControlMaster=no -o ControlPersist=no -o ServerAliveInterval=15
"""

REQUIREMENTS = """\
---
# Collections the playbooks need. The roles use only ansible.builtin (shipped with ansible-core), so the list is
# empty; a site adding its own tasks pins their collections here and `ansible-galaxy install -r` reads this file.
collections: []
"""

EXECUTION_ENVIRONMENT = """\
---
# ansible-builder definition: `ansible-builder build -f execution-environment.yml -t kasbah-ee:{phase}` gives AWX or
# Ansible Automation Platform the same ansible-core and collections kasbah apply uses on one controller.
version: 3
images:
  base_image:
    name: quay.io/fedora/fedora:41
dependencies:
  python_interpreter:
    package_system: python3.11
    python_path: /usr/bin/python3.11
  ansible_core:
    package_pip: ansible-core>=2.17,<2.20
  ansible_runner:
    package_pip: ansible-runner>=2.4,<3
  galaxy: requirements.yml
  system:
    - frr [platform:rpm]
    - iproute [platform:rpm]
"""


def render(plan: Plan) -> Files:
    return {
        "ansible.cfg": ANSIBLE_CFG.format(campus=ini_comment(plan.campus), phase=ini_comment(plan.phase)),
        "requirements.yml": REQUIREMENTS,
        "execution-environment.yml": EXECUTION_ENVIRONMENT.format(phase=yaml_comment(plan.phase)),
        "plan.json": json.dumps(plan.model_dump(mode="json"), indent=1, sort_keys=True) + "\n",
    }
