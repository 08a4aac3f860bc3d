#!/usr/bin/env bash
# Kasbah's main job on the embedded default: phase 1 rehearsed in the lab on this machine, its status, a check
# against the plan, the cable-cut drill on the cable Europe prefers, then the lab taken down (also on failure).
# Needs root, Linux network namespaces and Debian (.ci/setup installs the packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
kasbah=.venv/bin/kasbah
trap '$kasbah lab down' EXIT
$kasbah lab up stacks/phase1.yaml
$kasbah lab status
$kasbah verify stacks/phase1.yaml --lab
$kasbah lab drill
