#!/usr/bin/env bash
# Crash anywhere: SIGKILL orx at N seeded random instants spread over a whole run (two items, a fix
# loop, review, ship, knowledge update), resume each, and compare the branch, the backlog and the
# metrics with an uninterrupted run; every JSON file of the run folder must parse.
# Usage: scripts/crash-campaign.sh [INSTANTS=100] [SEED=42]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORX_CRASH_INSTANTS="${1:-100}" ORX_CRASH_SEED="${2:-42}"
cargo test -p orx-cli --test it resume::a_sigkill_at_random_instants -- --nocapture 2>&1 |
  grep -E "crash campaign|test result|panicked|left|right"
