"""Run Spyglass as a cluster of real processes on loopback: PostgreSQL, Redis, nginx, web processes, workers.

Used by ``scripts/cluster-test`` (scenario and chaos), ``bench/loadtest`` and ``tests/cluster/``.
"""
