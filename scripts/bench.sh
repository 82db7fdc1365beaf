#!/usr/bin/env bash
# orx benchmarks: prints figures, never fails a test run. BENCHMARKS.md records the results.
# Needs hyperfine, wrk and strace (Debian packages: apt-get install hyperfine wrk strace), GNU time.
# Usage: scripts/bench.sh [cli|overhead|stream|parsers|dashboard|startup|wrk|sessions|all]
# sessions: a fix attempt with and without session reuse, through the real codex, claude and gemini
# (target/agent-clis, installed by .ci/run) against the mock model server.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
cargo build --release -q -p orx-cli
ORX="$PWD/target/release/orx"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Runs in a clean git identity, like the tests.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); orx $("$ORX" --version)"

demo_with_runs() { # $1 = number of runs; prints the repository
  "$ORX" -q demo --into "$work" >/dev/null
  local repo run i id
  repo=$(ls -d "$work"/orx-demo-* | tail -1)
  run=$(ls "$repo/runs" | head -1)
  for i in $(seq 2 "$1"); do
    id=$(printf '20260101_%06d_%08x' "$i" "$i")
    cp -r "$repo/runs/$run" "$repo/runs/$id"
    sed -i "s/$run/$id/g" "$repo/runs/$id/state.json" "$repo/runs/$id/meta.json"
  done
  echo "$repo"
}

if [[ $what == cli || $what == all ]]; then
  echo "== CLI latency (1,000 runs; hyperfine, whole processes)"
  repo=$(demo_with_runs 1000)
  run=$(ls "$repo/runs" | grep -v '^\.' | tail -1)
  hyperfine -N --warmup 3 --runs 40 --style basic \
    "$ORX --help" \
    "$ORX --dir $repo status" \
    "$ORX --dir $repo status --limit 1000" \
    "$ORX --dir $repo status $run" \
    "$ORX --dir $repo run --dry-run 'Add a function add(a, b)'" 2>&1 | grep -E "Benchmark|Time \(mean"
  echo "== orx status as the runs grow (100 / 1,000 / 10,000 runs)"
  for n in 100 1000 10000; do
    repo=$(demo_with_runs "$n")
    run=$(ls "$repo/runs" | grep -v '^\.' | tail -1)
    hyperfine -N --warmup 3 --runs 20 --style basic --export-json "$work/s.json" \
      "$ORX --dir $repo status" "$ORX --dir $repo status $run" "$ORX --dir $repo status --limit $n" \
      >/dev/null 2>&1 || true
    python3 - "$work/s.json" "$n" <<'EOF'
import json, sys
r = [x["mean"] * 1000 for x in json.load(open(sys.argv[1]))["results"]]
print(f"{sys.argv[2]:>6} runs: status {r[0]:.1f} ms, status ID {r[1]:.1f} ms, status --limit all {r[2]:.1f} ms")
EOF
    rm -rf "$repo"
  done
fi

make_repo() { # $1 = files, $2 = items; prints the repository
  local dir="$work/repo-$1-$2" i
  mkdir -p "$dir/src"
  git -C "$dir" init -q -b main
  for i in $(seq 1 "$1"); do echo "line $i" >"$dir/src/f$i.txt"; done
  {
    echo "plan:"
    echo "  - text: the plan"
    echo "spec:"
    echo "  - text: the spec"
    echo "decompose:"
    echo "  - text: |"
    echo "      items:"
    for i in $(seq 1 "$2"); do
      printf '        - id: W%03d\n          title: item %d\n          acceptance: [done]\n' "$i" "$i"
    done
    echo "implement:"
    echo "  - write: { \"{{ item }}.txt\": \"done\\n\" }"
    echo "review:"
    echo "  - text: \"VERDICT: APPROVED\""
    echo "knowledge_update:"
    echo "  - text: nothing to add"
  } >"$dir/scenario.yaml"
  printf 'engine:\n  type: fake\nexecutors:\n  fake:\n    scenario: scenario.yaml\ngates:\n  - name: ok\n    command: "true"\nknowledge:\n  mode: off\n' >"$dir/orx.yaml"
  git -C "$dir" add -A && git -C "$dir" commit -qm init
  echo "$dir"
}

floor_script() { # the git work of a run as a plain script: worktree, per item write+add+diff+commit, final diff
  cat >"$work/floor.sh" <<'EOF'
set -e
repo=$1; items=$2; n=$RANDOM$RANDOM
git -C "$repo" worktree add -q -b "floor/$n" "$repo/.floor/$n" main
wt="$repo/.floor/$n"
for i in $(seq 1 "$items"); do
  printf 'done\n' >"$wt/W$i.txt"
  git -C "$wt" add -A
  git -C "$wt" diff --cached --stat >/dev/null
  git -C "$wt" diff --cached >/dev/null
  git -C "$wt" commit -qm "W$i"
done
git -C "$wt" diff main...HEAD >/dev/null
git -C "$wt" status --porcelain >/dev/null
EOF
}

if [[ $what == overhead || $what == all ]]; then
  echo "== orchestration overhead: standard pipeline, fake agent, 'true' gate"
  echo "   floor = the same commands orx ran (traced, replayed by bash); minimal = a hand-written git script"
  floor_script
  for spec in "200 3" "5000 3" "200 1" "200 5" "200 20"; do
    set -- $spec
    repo=$(make_repo "$1" "$2")
    # One traced run gives the floor: every command orx started, replayed in order by bash.
    strace -f -qq -s 65536 -e trace=execve,chdir,openat -e signal=none -o "$work/trace.txt" \
      "$ORX" --dir "$repo" -q run 'bench task' >/dev/null
    python3 scripts/replay-floor.py "$work/trace.txt" "$work/replay.sh" 2>"$work/replay.count"
    # Medians of 15 rounds, the three commands alternating.
    python3 scripts/overhead.py 15 "$1" "$2" "$(cat "$work/replay.count")" \
      -- "$ORX" --dir "$repo" -q run 'bench task' -- bash "$work/replay.sh" -- bash "$work/floor.sh" "$repo" "$2"
  done
fi

if [[ $what == stream || $what == all ]]; then
  echo "== peak RSS of orx run while the agent streams 500 MB"
  repo=$(make_repo 10 1)
  cat >"$work/streamer.sh" <<'EOF'
#!/bin/sh
line='{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"'$(head -c 300 /dev/zero | tr '\0' x)'"}]},"session_id":"s"}'
yes "$line" | head -n 1500000
echo '{"type":"result","subtype":"success","is_error":false,"result":"the plan","session_id":"s"}'
EOF
  chmod +x "$work/streamer.sh"
  printf 'engine:\n  type: cursor\nexecutors:\n  cursor:\n    bin: %s\n' "$work/streamer.sh" >"$repo/orx.yaml"
  git -C "$repo" commit -qam cursor
  /usr/bin/time -v "$ORX" --dir "$repo" -q run --pipeline plan_only "stream" 2>"$work/time.txt" >/dev/null || true
  size=$(du -sm "$repo"/runs/*/logs | awk '{s+=$1} END {print s}')
  echo "agent log: ${size} MB; $(grep -E 'Maximum resident|Elapsed' "$work/time.txt" | sed 's/^\s*//' | paste -sd';')"
fi

if [[ $what == parsers || $what == all ]]; then
  echo "== stream parsing (100 MB per format)"
  cargo bench -q -p orx-core --bench parsers 2>/dev/null | grep -v '^$'
fi

if [[ $what == dashboard || $what == all ]]; then
  echo "== dashboard: 100 / 1,000 / 10,000 runs (in-process server, sequential requests)"
  cargo bench -q -p orx-dashboard --bench dashboard 2>/dev/null | grep -v '^$'
fi

if [[ $what == startup || $what == dashboard || $what == all ]]; then
  echo "== orx dashboard start-up at 10,000 runs: from the command to the first runs page"
  repo=$(demo_with_runs 10000)
  startup() { # $1 = label
    local t0 url ms
    t0=$(date +%s%N)
    "$ORX" --dir "$repo" dashboard --port 0 >"$work/start.out" 2>/dev/null &
    local pid=$!
    for _ in $(seq 1 2000); do grep -q http "$work/start.out" 2>/dev/null && break; sleep 0.005; done
    url=$(grep -o 'http://[^ ]*' "$work/start.out" | head -1)
    curl -s -o /dev/null "$url"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "$1: first runs page after $ms ms"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  }
  startup "warm cache"
  if sync && echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then
    startup "cold cache (page cache dropped)"
  fi
fi

if [[ $what == wrk || $what == dashboard || $what == all ]]; then
  echo "== dashboard under wrk (10,000 runs, 2 threads, 16 connections, 5 s each)"
  repo=$(demo_with_runs 10000)
  run=$(ls "$repo/runs" | grep -v '^\.' | tail -1)
  "$ORX" --dir "$repo" dashboard --port 0 >"$work/dash.out" 2>/dev/null &
  dash=$!
  for _ in $(seq 1 100); do grep -q http "$work/dash.out" 2>/dev/null && break; sleep 0.05; done
  url=$(grep -o 'http://[^ ]*' "$work/dash.out" | head -1)
  for path in "" "api/runs" "runs/$run"; do
    wrk -t2 -c16 -d5s --latency "$url$path" 2>&1 |
      awk -v p="/$path" '/Requests\/sec/ {r=$2} /^ +50%/ {a=$2} /^ +99%/ {b=$2} END {printf "%-40s %8s req/s, p50 %s, p99 %s\n", p, r, a, b}'
  done
  echo "dashboard RSS after the load: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$dash/status)"
  kill "$dash"
fi

if [[ $what == sessions || $what == all ]]; then
  echo "== fix attempts with and without session reuse (real codex and claude, mock model server)"
  export ORX_AGENT_BIN_DIR="${ORX_AGENT_BIN_DIR:-$PWD/target/agent-clis/node_modules/.bin}"
  cargo test -q -p orx-cli --test it real_agents::a_fix_continues -- --nocapture 2>&1 |
    grep -E "^session reuse" || echo "the agent CLIs are not installed (bash .ci/run installs them)"
fi
