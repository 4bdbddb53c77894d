#!/usr/bin/env bash
# System packages two test modules need beyond the Python ones:
#   slurm-wlm + munge  tests/test_slurm.py starts a throw-away one-node Slurm cluster from them
#   chromium           tests/test_report.py renders the Snakemake report in headless Chromium
# Installed with apt-get on Debian/Ubuntu when run as root (as CI does). Anywhere else this says what
# is missing and exits 0: those tests then skip, unless NOISYPRUNE_REQUIRE_SLURM=1 /
# NOISYPRUNE_REQUIRE_BROWSER=1 (set by .ci/run) turn a skip into a failure.
set -euo pipefail
PACKAGES=(slurm-wlm munge chromium)
NEEDED=(slurmctld slurmd munged chromium)

missing=()
for tool in "${NEEDED[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
else
    echo "tests/system-packages.sh: missing ${missing[*]}; install ${PACKAGES[*]} (as root: apt-get install" \
         "${PACKAGES[*]}) to run the Slurm and browser tests, which skip without them" >&2
fi
