#!/usr/bin/env python3
"""Times orx against its floors, alternating the three commands so that drift of the machine (disk
write-back, another process) touches all three alike. Each round starts with a
different command and every command starts after a `sync`. Prints medians, and the ratios as medians of
the rounds' own ratios (each round's orx time over the same round's floor), with their quartiles:
the machine's drift between rounds cancels out of those.

Usage: overhead.py RUNS FILES ITEMS COMMANDS -- ORX_CMD... -- FLOOR_CMD... -- MINIMAL_CMD...
"""

import statistics
import subprocess
import sys
import time


def main() -> None:
    runs, files, items, commands = sys.argv[1:5]
    rest = sys.argv[5:]
    groups, cur = [], None
    for a in rest:
        if a == "--":
            cur = []
            groups.append(cur)
        else:
            cur.append(a)
    times = [[] for _ in groups]
    for i in range(int(runs) + 1):
        # Each round starts with a different command, and each command after a `sync`: the
        # write-back of what the previous command wrote is nobody's cost.
        for k in range(len(groups)):
            g = (i + k) % len(groups)
            cmd = groups[g]
            subprocess.run(["sync"], check=False)
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            if i > 0:  # the first round warms the caches
                times[g].append(time.perf_counter() - t0)
    o, f, m = (statistics.median(t) * 1000 for t in times)
    vs_floor = [a / b for a, b in zip(times[0], times[1])]
    vs_min = [a / b for a, b in zip(times[0], times[2])]

    def spread(r: list[float]) -> str:
        q = statistics.quantiles(r, n=4)
        return f"{statistics.median(r):4.2f} [{q[0]:4.2f}-{q[2]:4.2f}]"

    print(
        f"{files:>5} files, {items:>2} items: orx {o:7.1f} ms, floor {f:7.1f} ms ({commands}), "
        f"ratio {spread(vs_floor)}; minimal script {m:6.1f} ms, ratio {spread(vs_min)}"
    )

if __name__ == "__main__":
    main()
