"""``engine.probe``: the engine's own job kind, used by its tests and benchmark.

Payload options: ``sleep`` seconds; ``fetch`` URL (through the shared fetcher: URL policy,
politeness, size cap); ``fail`` ("transient" or "permanent") for the first N attempts (``fail_attempts``);
``effects_dir``: a folder where the run writes ``<run_id>`` exactly once per run (a side effect
whose duplication tests can detect) and appends one line per execution to ``executions.log``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from spyglass.core.fetch import PermanentFetchError, TransientFetchError
from spyglass.engine.context import RunContext
from spyglass.engine.kinds import JobKind, PermanentError, RetryPolicy, TransientError, register_kind

PROBE_KIND = "engine.probe"


async def run_probe(ctx: RunContext) -> dict[str, Any]:
    payload = ctx.payload
    effects = Path(str(payload["effects_dir"])) if payload.get("effects_dir") else None
    if effects is not None:
        await asyncio.to_thread(_append, effects / "executions.log", f"{ctx.run_id} {ctx.attempt} {os.getpid()}\n")
    await ctx.progress(10, "started")
    fail = payload.get("fail")
    if fail and ctx.attempt <= int(str(payload.get("fail_attempts", 1))):
        if fail == "permanent":
            raise PermanentError("The probe was told to fail permanently.")
        raise TransientError("The probe was told to fail once.", retry_after=float(str(payload.get("retry_after", 0))))
    stats: dict[str, Any] = {}
    sleep = float(str(payload.get("sleep", 0)))
    steps = max(1, int(sleep / 0.2)) if sleep else 0
    for step in range(steps):
        await asyncio.sleep(sleep / steps)
        await ctx.progress(10 + int(80 * (step + 1) / steps), f"sleeping {step + 1}/{steps}")
    if url := payload.get("fetch"):
        try:
            result = await ctx.services.fetcher.fetch(str(url))
        except TransientFetchError as exc:
            raise TransientError(str(exc), retry_after=exc.retry_after) from exc
        except PermanentFetchError as exc:
            raise PermanentError(exc.message) from exc
        stats["status_code"] = result.status_code
        stats["bytes"] = len(result.content)
    if effects is not None:
        # Written once per run, whatever the number of executions: a re-run overwrites, never duplicates.
        await asyncio.to_thread((effects / str(ctx.run_id)).write_text, f"{ctx.run_id}\n")
    return stats


def _append(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line)


register_kind(
    JobKind(
        name=PROBE_KIND,
        handler=run_probe,
        timeout_seconds=60,
        retry=RetryPolicy(max_attempts=3, base_seconds=0.2, cap_seconds=2),
        description="The engine's own probe kind (tests and benchmark).",
    )
)
