"""Tiny launcher: ``python -S launch.py STAT_FILE CMD...`` runs CMD as a child and writes its wall time,
CPU time (user + sys) and peak RSS to STAT_FILE.

Why: on Linux a child's ``ru_maxrss`` starts from the RSS of the process that forked it (the
high-water mark survives fork + exec), so a child of the (large) benchmark driver would
report the driver's memory.  This launcher is a bare interpreter (~10 MB, no site imports),
so the figure it reports is the workload's own peak.
"""
import json
import os
import sys
import time

stat_file, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:  # child
    try:
        os.execv(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(stat_file, "w") as f:
    json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
               "exit": os.waitstatus_to_exitcode(status)}, f)
sys.exit(0)
