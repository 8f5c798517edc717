"""Retentio benchmark harness (issue 6): ``python -m bench.run [--quick]``.

- ``bench.books``     builds and caches the demo books (one workspace per size) and their CSV / Parquet exports;
- ``bench.workloads`` the registry of workloads, each run as a whole process (start-up included);
- ``bench.run``       runs every workload on every size, checks the figures agree, prints the table and
                      writes ``bench/results.json`` and ``bench/results.png``.

See docs/benchmarks.md.
"""
