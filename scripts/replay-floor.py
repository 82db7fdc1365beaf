#!/usr/bin/env python3
"""Turns an strace of one `orx run` into the shell script that runs the same commands.

Usage: replay-floor.py STRACE_FILE OUT_SCRIPT

The strace must come from `strace -f -s 65536 -e trace=execve,chdir,openat`. Every program orx
started itself (git, gates) is replayed in order, in the directory it ran in, with the run id
replaced by a fresh one per replay; programs those started (git's own helpers) are not, since the
replayed commands start them again. Files the built-in agent wrote into the worktree are written
again at the same point, so the replayed adds, diffs and commits have the same work to do.
The script is the floor of `scripts/bench.sh overhead`: the git work of a run with nothing of
orx's own around it.
"""

import codecs
import re
import shlex
import sys

LINE = re.compile(r"^(\d+) +(execve|chdir|openat)\((.*)\) += (-?\d+)")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
RUN_ID = re.compile(r"\d{8}_\d{6}_[0-9a-f]{8}")


def unquote(s: str) -> str:
    return codecs.escape_decode(s.encode())[0].decode("utf-8", "surrogateescape")


def main() -> None:
    trace, out = sys.argv[1], sys.argv[2]
    cwd: dict[str, str] = {}
    exec_pids: set[str] = set()
    root_pid = None
    worktree = None
    steps: list[str] = []
    for raw in open(trace, encoding="utf-8", errors="surrogateescape"):
        m = LINE.match(raw)
        if not m or m.group(4).startswith("-"):
            continue
        pid, call, args = m.group(1), m.group(2), m.group(3)
        if root_pid is None:
            root_pid = pid
            continue
        if call == "chdir":
            cwd[pid] = unquote(STRING.search(args).group(1))
        elif call == "execve":
            exec_pids.add(pid)
            strings = [unquote(s) for s in STRING.findall(args.split("], ")[0])]
            path, argv = strings[0], strings[1:]
            if argv and argv[0].startswith("/"):
                continue  # started by git itself
            argv[0] = path
            if len(argv) > 3 and argv[1:3] == ["worktree", "add"] and worktree is None:
                worktree = next(a for a in argv if "/.worktrees/" in a)
            steps.append(f"cd {quote(cwd.get(pid, '.'))}; {' '.join(quote(a) for a in argv)}")
        elif call == "openat" and pid not in exec_pids and "O_CREAT" in args:
            path = unquote(STRING.search(args).group(1))
            if worktree and path.startswith(worktree + "/") and "/.git" not in path:
                steps.append(f"printf 'done\\n' > {quote(path)}")
    with open(out, "w") as f:
        f.write("set -u\nexport GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0 LC_ALL=C\n")
        f.write('id="$(date +%Y%m%d_%H%M%S)_$(printf %08x $RANDOM$RANDOM | cut -c1-8)"\n')
        for s in steps:
            f.write(s + " >/dev/null 2>&1\n")
    print(f"{len([s for s in steps if not s.startswith('printf')])} commands", file=sys.stderr)


def quote(s: str) -> str:
    q = "'" + s.replace("'", "'\\''") + "'"
    # The run id becomes the replay's own, so each replay makes a new worktree and branch.
    return RUN_ID.sub("'\"$id\"'", q)


if __name__ == "__main__":
    main()
