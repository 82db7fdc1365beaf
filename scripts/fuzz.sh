#!/usr/bin/env bash
# Coverage-guided fuzzing of orx's input parsers with cargo-fuzz (libFuzzer), a bounded time per
# target. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 60).
# Targets (fuzz/fuzz_targets/): config (the orx.yaml loader), backlog (the extractor, validator
# and ordering of a decompose reply), streams (the five agent stream parsers; the first byte of
# an input picks the format). Seeds come from crates/orx-core/tests/{corpus,fixtures}.
# A crash stops the script with its input saved under fuzz/artifacts/<target>/ (replay it with
# `cargo fuzz run -s none <target> <file>` in fuzz/). Prints libFuzzer's final coverage line per target.
#
# The machine's toolchain is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its flags, and
# `-s none` builds without a sanitizer (safe Rust; what is hunted is panics, overflows and hangs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tests=crates/orx-core/tests
mkdir -p "$work/config" "$work/backlog" "$work/streams"
cp "$tests"/corpus/config/* "$tests"/fixtures/seed-readme-orx.yaml "$work/config/"
cp "$tests"/corpus/backlog/* "$work/backlog/"
i=0
for kind in codex claude gemini copilot cursor; do
  for f in "$tests"/fixtures/agents/"$kind"*stdout* "$tests"/corpus/streams/"$kind"/*; do
    [ -f "$f" ] || continue
    { printf "\\$(printf '%03o' "$i")"; cat "$f"; } >"$work/streams/$kind-$(basename "$f")"
  done
  i=$((i + 1))
done
cd fuzz
cargo fuzz build -s none -O 2>&1 | tail -1
status=0
for target in config backlog streams; do
  # -timeout: an input that takes a second is a hang worth reporting.
  if ! cargo fuzz run -s none -O "$target" "$work/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$work/$target.log" 2>&1; then
    status=1
    echo "fuzz $target: FAILED"
    grep -E "panicked|ERROR|Test unit written|SUMMARY" "$work/$target.log" | head -20
  fi
  final=$(grep -E "DONE|Done [0-9]+ runs" "$work/$target.log" | tail -2 | tr '\n' ' ')
  echo "fuzz $target: ${final:-no final line}"
done
exit "$status"
