"""Benchmark: `ansible-inventory --list` on a rendered 70,000-host phase, Kasbah's plugin against static YAML.

    .venv/bin/python bench/inventory_bench.py               # 526 MW synthetic phase: 487 pods, 70,128 hosts
    .venv/bin/python bench/inventory_bench.py --size 40     # a smaller phase
    .venv/bin/python bench/inventory_bench.py --json

The synthetic phase comes from bench/plan_bench.py (GB200 NVL72 scalable units filling `size` MW). The script renders
it with `kasbah render`, then loads the same hosts twice in fresh `ansible-inventory --list` processes:

- kasbah: the rendered inventory (the `kasbah_inventory` plugin reading per-pod host tables);
- yaml: a static YAML inventory with the same hosts, groups, group children and addresses, next to the same
  group_vars (what a hand-written or template-generated inventory looks like), with Ansible's default settings:
  the baseline of issue 4 ("about 16 s for 10,000 hosts");
- yaml+cfg: the same YAML under Kasbah's rendered ansible.cfg (facts not injected as variables), which isolates
  what the inventory format alone buys.

It prints wall time, peak RSS (of the child, from wait4) and the ratios. Target (issue 4): kasbah <= 0.25 x yaml.
Never fails on a slow figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from plan_bench import write_specs  # noqa: E402

BIN = Path(sys.executable).parent


def _measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Fork and exec, so wait4 reports this child's own peak RSS (not the parent's high-water mark)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: exec the command with stdout to /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execve(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {os.waitstatus_to_exitcode(status)}")
    return {"seconds": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def static_yaml(build: Path, dest: Path) -> int:
    """The rendered inventory as one static YAML file beside a copy of the same group_vars; returns host count."""
    data = json.loads((build / "inventory" / "inventory.json").read_text())
    groups: dict[str, dict] = {g: {} for g in data["groups"]}
    for parent, children in data["children"].items():
        groups[parent]["children"] = {c: None for c in children}
    hosts = 0
    for h in data["hosts"]:
        groups[h["group"]].setdefault("hosts", {})[h["name"]] = {"ansible_host": h["address"]}
        hosts += 1
    for pod in data["pods"]:
        members = groups[pod["group"]].setdefault("hosts", {})
        for line in (build / "inventory" / pod["table"]).read_text().splitlines():
            name, address = line.split("\t")[:2]
            members[name] = {"ansible_host": address}
            hosts += 1
    dest.mkdir(parents=True)
    (dest / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": groups}}, sort_keys=True))
    shutil.copytree(build / "inventory" / "group_vars", dest / "group_vars")
    return hosts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=float, default=526, help="MW of facility power of the synthetic phase")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kasbah-inv-bench-") as tmp:
        root = Path(tmp)
        ((spec, _),) = write_specs(root, [args.size]).values()
        t0 = time.perf_counter()
        subprocess.run(
            [str(BIN / "kasbah"), "render", str(spec), "--out", str(root / "build")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        render_s = time.perf_counter() - t0
        (build,) = (root / "build").iterdir()
        hosts = static_yaml(build, root / "yaml")
        env = {**os.environ, "ANSIBLE_CONFIG": str(build / "ansible.cfg")}
        kasbah = _measure([str(BIN / "ansible-inventory"), "--list"], env)
        yaml_cmd = [str(BIN / "ansible-inventory"), "-i", str(root / "yaml" / "hosts.yml"), "--list"]
        plain = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        plain["ANSIBLE_CONFIG"] = str(root / "yaml" / "none.cfg")  # no file: Ansible's defaults, not a stray cfg
        static = _measure(yaml_cmd, plain)
        tuned = _measure(yaml_cmd, {**env, "ANSIBLE_INVENTORY_ENABLED": "yaml"})
    result = {
        "size_mw": args.size,
        "hosts": hosts,
        "render_seconds": round(render_s, 2),
        "kasbah": kasbah,
        "yaml": static,
        "yaml+cfg": tuned,
        "ratio": round(kasbah["seconds"] / static["seconds"], 3),
        "ratio_same_cfg": round(kasbah["seconds"] / tuned["seconds"], 3),
        "target_ratio": 0.25,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{hosts:,} hosts ({args.size:g} MW synthetic phase); kasbah render {result['render_seconds']} s")
    print(f"{'inventory':<10} {'seconds':>8} {'peak RSS MB':>12}")
    for name in ("kasbah", "yaml", "yaml+cfg"):
        print(f"{name:<10} {result[name]['seconds']:>8} {result[name]['peak_rss_mb']:>12}")
    print(f"ratio kasbah / yaml: {result['ratio']} (target <= 0.25)")
    print(f"ratio kasbah / yaml under the same ansible.cfg: {result['ratio_same_cfg']}")


if __name__ == "__main__":
    main()
