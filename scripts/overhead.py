#!/usr/bin/env python3
"""Times orx against its floors, alternating the three commands so that drift of the machine (disk
write-back, another process) touches all three alike. Prints medians.

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
        for g, cmd in enumerate(groups):
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            if i > 0:  # the first round warms the caches
                times[g].append(time.perf_counter() - t0)
    o, f, m = (statistics.median(t) * 1000 for t in times)
    print(
        f"{files:>5} files, {items:>2} items: orx {o:7.1f} ms, floor {f:7.1f} ms ({commands}), "
        f"ratio {o / f:4.2f}; minimal script {m:6.1f} ms, ratio {o / m:4.2f}"
    )


if __name__ == "__main__":
    main()
