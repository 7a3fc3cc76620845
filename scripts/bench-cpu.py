#!/usr/bin/env python3
"""The CPU split of an `interlude dev` load: runs the command and reports the CPU seconds used
while it ran by the command itself (the `dev` process: load driver and mock Kafka cluster), its
worker processes, and the PostgreSQL server of .interlude/pg/data (CPU_SPLIT_PGDATA) with its
backends. Samples /proc every 0.2 s and keeps each process's last utime+stime, so processes
that exit before the end still count. Start-up and shutdown are included.

    scripts/bench-cpu.py .build/release/interlude dev --auto-approve 2000 --workers 2 --partitions 8
"""
import os, subprocess, sys, time

HZ = os.sysconf("SC_CLK_TCK")

def processes():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        yield int(pid), int(fields[1]), cmd, (int(fields[11]) + int(fields[12])) / HZ

def postmaster(data):
    """The pid of the server of `data` (first line of postmaster.pid), or None."""
    try:
        with open(os.path.join(data, "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None

def main():
    data = os.environ.get("CPU_SPLIT_PGDATA", ".interlude/pg/data")
    command = sys.argv[1:]
    before = {pid: cpu for pid, _, _, cpu in processes()}
    start = time.time()
    child = subprocess.Popen(command)
    seen = {}
    while child.poll() is None:
        server = postmaster(data)
        for pid, ppid, cmd, cpu in processes():
            if pid == child.pid or ppid == child.pid or (server is not None and server in (pid, ppid)):
                # The command line is empty once a process exited: keep the one seen first.
                name = seen[pid][0] if pid in seen and seen[pid][0].strip() else cmd
                seen[pid] = (name, cpu - before.get(pid, 0.0) if pid in before else cpu)
        time.sleep(0.2)
    wall = time.time() - start
    groups = {}
    for pid, (cmd, cpu) in seen.items():
        if cpu <= 0:
            continue
        if pid == child.pid:
            name = "dev (driver + mock Kafka)"
        elif " worker" in cmd:
            name = "workers"
        elif "postgres" in cmd or "postmaster" in cmd:
            name = "postgres"
        else:
            name = "other (" + cmd.split(" ")[0].rsplit("/", 1)[-1] + ")"
        groups[name] = groups.get(name, 0.0) + cpu
    print(f"cpu-split: wall {wall:.1f} s; " + "; ".join(f"{k} {v:.1f} s" for k, v in sorted(groups.items())), flush=True)
    sys.exit(child.returncode)

main()
