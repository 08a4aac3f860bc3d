#!/usr/bin/env bash
# Build the Debian 13 (trixie) root the lab runs Slurm 24.11 in: Debian 12 ships Slurm 22.05, which has no
# topology/block nor --segment. Runs as root; idempotent (a finished root carries a stamp and is left alone).
# Built into a temporary directory beside the target and renamed at the end, so an interrupted build never leaves a
# half root that looks finished. Needs deb.debian.org (a package registry) only.
# Usage: scripts/slurm-root.sh [ROOT]   (default /var/lib/kasbah/slurm-root, or $KASBAH_SLURM_ROOT)
set -euo pipefail
root="${1:-${KASBAH_SLURM_ROOT:-/var/lib/kasbah/slurm-root}}"
stamp="$root/.kasbah-slurm-root"
# Every daemon the lab runs; a root built before one was added is rebuilt.
daemons=(slurmctld slurmd slurmdbd munged)
built=1
for d in "${daemons[@]}"; do [[ -e "$root/usr/sbin/$d" ]] || built=0; done
if [[ -f "$stamp" && $built == 1 ]]; then
  echo "slurm root: $root already built ($(cat "$stamp"))"
  exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
mkdir -p "$(dirname "$root")"
tmp="$root.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mmdebstrap --quiet --variant=apt --include=slurmctld,slurmd,slurmdbd,slurm-client,munge,procps \
  trixie "$tmp" http://deb.debian.org/debian
version="$(chroot "$tmp" dpkg-query -W -f '${Version}' slurmctld)"
mkdir -p "$tmp/etc/slurm-lab"  # the lab binds its overrides here, and its own hosts file
touch "$tmp/etc/hosts"
echo "debian trixie, slurmctld $version" >"$tmp/.kasbah-slurm-root"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
echo "slurm root: built $root (slurmctld $version)"
