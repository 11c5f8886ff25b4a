#!/usr/bin/env bash
# Installs, when missing, what make test and make demo need beside Go:
# Debian's ZooKeeper and a Java runtime (the real ensembles), promtool and
# Prometheus, amtool and Alertmanager (rules and the end-to-end test),
# systemd-analyze (the unit file check), nft (nftables: the partition test).
# Needs root (or sudo) only when something is missing.
# Usage: scripts/deps.sh [test|demo]
set -euo pipefail
want=${1:-test}
need=()
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
command -v java >/dev/null || need+=(default-jre-headless)
if [ "$want" = test ]; then
  { command -v promtool >/dev/null && command -v prometheus >/dev/null; } || need+=(prometheus)
  { command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null; } || need+=(prometheus-alertmanager)
  command -v systemd-analyze >/dev/null || need+=(systemd)
  # nft: the partition test cuts the link between two "data centres".
  command -v nft >/dev/null || need+=(nftables)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps: installing ${need[*]} (Debian packages)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: missing ${need[*]}; run as root or install them" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
