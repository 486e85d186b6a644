"""SQL injection: error-based, boolean-based and time-based (with statistical confirmation).

Every payload only reads: quotes that break the syntax, tautologies and contradictions, and a sleep.
Techniques are tried in that order per parameter; the first that proves the injection is reported.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from spyglass.scanner.checks.active._inject import inject, injection_points, original_value, strip_reflections
from spyglass.scanner.checks.active._timing import confirm_delay
from spyglass.scanner.checks.base import CheckContext, Exchange, InjectionPoint
from spyglass.scanner.checks.passive._base import CheckBase
from spyglass.scanner.checks.passive._evidence import mark_match, request_excerpt, response_excerpt, without_query
from spyglass.scanner.contract import Confidence, FindingCandidate

DATABASE_ERRORS = re.compile(
    "|".join(
        (
            r"sqlite3?\.OperationalError|SQLite error|unrecognized token: \"|near \".{0,40}\": syntax error",
            r"You have an error in your SQL syntax|mysql_fetch|MySqlException|Warning: mysqli?_",
            r"PG::SyntaxError|pg_query\(\)|syntax error at or near \"|unterminated quoted string at or near",
            r"ORA-0\d{4}|Oracle error|Unclosed quotation mark after the character string",
            r"Microsoft OLE DB Provider for SQL Server|SQLSTATE\[\w+\]|JDBCException|org\.hibernate\.exception",
        )
    )
)
ERROR_SUFFIXES = ("'", '"', "\\")
BOOLEAN_TEMPLATES = (  # (true, false) with {v} the original value, {a} and {b} two different numbers
    ("{v} AND {a}={a}", "{v} AND {a}={b}"),
    ("{v}' AND '{a}'='{a}", "{v}' AND '{a}'='{b}"),
    ('{v}" AND "{a}"="{a}', '{v}" AND "{a}"="{b}'),
)
TIME_TEMPLATES = (  # {d}: seconds to sleep
    "{v} AND SLEEP({d})",
    "{v}' AND SLEEP({d}) AND '1'='1",
    "{v} AND 1=(SELECT 1 FROM pg_sleep({d}))",
    "{v}' AND 1=(SELECT 1 FROM pg_sleep({d})) AND '1'='1",
)


@dataclass
class _Proof:
    technique: str
    payload: str
    exchange: Exchange
    evidence: str
    confidence: Confidence
    details: dict[str, object]


class SqlInjectionCheck(CheckBase):
    """``delay`` is the sleep the time-based payloads ask for; ``rounds`` how many delayed and control requests
    must all agree (every delayed response slower than every control by at least half the delay)."""

    id = "sql-injection"
    family = "sqli"
    active = True

    def __init__(self, *, delay: float = 3.0, rounds: int = 3) -> None:
        self.delay = delay
        self.rounds = rounds

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            original = await inject(ctx, point, original_value(point))
            if original is None:
                continue
            proof = (
                await self._error_based(ctx, point, original)
                or await self._boolean_based(ctx, point, original)
                or await self._time_based(ctx, point, original)
            )
            if proof is not None:
                await ctx.report(
                    FindingCandidate(
                        type_id="sql-injection",
                        url=without_query(point.url),
                        method=point.method.upper(),
                        parameter=point.parameter,
                        payload=proof.payload,
                        evidence=proof.evidence,
                        request=request_excerpt(proof.exchange, marked=proof.payload),
                        response=response_excerpt(proof.exchange),
                        confidence=proof.confidence,
                        details={"technique": proof.technique, **proof.details},
                    )
                )

    async def _error_based(self, ctx: CheckContext, point: InjectionPoint, original: Exchange) -> _Proof | None:
        if DATABASE_ERRORS.search(original.body):
            return None
        for suffix in ERROR_SUFFIXES:
            payload = original_value(point) + suffix
            exchange = await inject(ctx, point, payload)
            match = DATABASE_ERRORS.search(exchange.body) if exchange is not None else None
            if exchange is not None and match:
                return _Proof(
                    "error-based",
                    payload,
                    exchange,
                    mark_match(exchange.body, match),
                    "confirmed",
                    {"database_error": match.group(0)},
                )
        return None

    async def _boolean_based(self, ctx: CheckContext, point: InjectionPoint, original: Exchange) -> _Proof | None:
        value = original_value(point)
        baseline = strip_reflections(original.body, value)
        for true_template, false_template in BOOLEAN_TEMPLATES:
            agreed = 0
            for _ in range(2):  # two different pairs of numbers must give the same verdict
                a, b = random.sample(range(10, 99), 2)
                true_payload = true_template.format(v=value, a=a, b=b)
                false_payload = false_template.format(v=value, a=a, b=b)
                true_exchange = await inject(ctx, point, true_payload)
                false_exchange = await inject(ctx, point, false_payload)
                if true_exchange is None or false_exchange is None:
                    break
                same_as_original = strip_reflections(true_exchange.body, value, true_payload) == baseline
                differs = strip_reflections(false_exchange.body, value, false_payload) != baseline
                if not (same_as_original and differs and true_exchange.status == original.status):
                    break
                agreed += 1
            if agreed == 2 and true_exchange is not None and false_exchange is not None:
                evidence = (
                    f"'{true_payload}' gives the original page ({len(true_exchange.body)} bytes); "
                    f"'{false_payload}' gives a different one ({len(false_exchange.body)} bytes)"
                )
                return _Proof(
                    "boolean-based",
                    false_payload,
                    false_exchange,
                    evidence,
                    "firm",
                    {"true_payload": true_payload, "false_payload": false_payload},
                )
        return None

    async def _time_based(self, ctx: CheckContext, point: InjectionPoint, original: Exchange) -> _Proof | None:
        value = original_value(point)
        for template in TIME_TEMPLATES:
            payload = template.format(v=value, d=_seconds(self.delay))
            control = template.format(v=value, d=0)
            timing = await confirm_delay(ctx, point, payload, control, delay=self.delay, rounds=self.rounds,
                                         baseline=original.elapsed)  # fmt: skip
            if timing is not None:
                details = {"delayed_seconds": timing.delayed, "control_seconds": timing.controls, "delay": self.delay}
                evidence = timing.summary(f"SLEEP({_seconds(self.delay)})")
                return _Proof("time-based", payload, timing.exchange, evidence, "firm", details)
        return None


def _seconds(value: float) -> str:
    return f"{value:g}"


CHECKS = [SqlInjectionCheck()]
