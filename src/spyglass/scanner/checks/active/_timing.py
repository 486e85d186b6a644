"""Time-based proofs with statistical confirmation: one delay is never enough (a slow server or network can
take a second anyway), so the delayed payload and a zero-delay control are sent alternately several times."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from spyglass.scanner.checks.active._inject import inject
from spyglass.scanner.checks.base import CheckContext, Exchange, InjectionPoint


@dataclass(frozen=True)
class Timing:
    """The measurements behind a time-based finding (seconds)."""

    delayed: list[float]
    controls: list[float]
    delay: float
    exchange: Exchange  # the last delayed exchange

    def summary(self, what: str) -> str:
        return (
            f"{len(self.delayed)} requests with {what} took {min(self.delayed):.2f}-{max(self.delayed):.2f} s; "
            f"{len(self.controls)} controls took {min(self.controls):.2f}-{max(self.controls):.2f} s "
            f"(median {statistics.median(self.controls):.2f} s)"
        )


async def confirm_delay(
    ctx: CheckContext,
    point: InjectionPoint,
    payload: str,
    control_payload: str,
    *,
    delay: float,
    rounds: int,
    baseline: float,
) -> Timing | None:
    """Send ``payload`` (asks the server to wait ``delay`` s); when it is slow, alternate ``rounds`` more of it
    with ``control_payload`` (no wait). Proven only when every delayed response is slower than every control
    (and the ``baseline`` response) by at least half the delay."""
    screening = await inject(ctx, point, payload)
    if screening is None or screening.elapsed < delay * 0.8:
        return None
    delayed, controls = [screening.elapsed], [baseline]
    for _ in range(rounds):
        control = await inject(ctx, point, control_payload)
        slow = await inject(ctx, point, payload)
        if control is None or slow is None:
            return None
        controls.append(control.elapsed)
        delayed.append(slow.elapsed)
        screening = slow
    if min(delayed) >= max(controls) + delay / 2:
        return Timing(delayed, controls, delay, screening)
    return None
