"""Server-side injections proved by a computed or read result: OS command injection, server-side template
injection, path traversal / file inclusion. Payloads only compute numbers, echo markers or read world-readable
files (/etc/passwd, win.ini)."""

from __future__ import annotations

import random
import re

from spyglass.scanner.checks.active._inject import inject, injection_points, original_value, token
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.active._timing import confirm_delay
from spyglass.scanner.checks.base import CheckContext, InjectionPoint
from spyglass.scanner.checks.passive._base import CheckBase
from spyglass.scanner.contract import FindingCandidate

COMMAND_SEPARATORS = (";", "|", "&&", "\n")
TEMPLATE_SYNTAXES = ("{{{{{a}*{b}}}}}", "${{{a}*{b}}}", "<%= {a}*{b} %>", "#{{{a}*{b}}}", "{{{{= {a}*{b}}}}}")
TRAVERSALS = (
    "../../../../../../../../etc/passwd",
    "/etc/passwd",
    "....//....//....//....//....//....//etc/passwd",
    "..\\..\\..\\..\\..\\..\\windows\\win.ini",
    "file:///etc/passwd",
)
FILE_CONTENT = re.compile(r"root:[^:\n]*:0:0:|\[fonts\]|; for 16-bit app support")


class CommandInjectionCheck(CheckBase):
    """Appends ``echo <marker>$((a+b))`` after each shell separator: the computed sum in the page proves the
    command ran (confirmed). When no output comes back, ``sleep`` with statistical timing proves it (firm)."""

    id = "os-command-injection"
    family = "command"
    active = True

    def __init__(self, *, delay: float = 3.0, rounds: int = 3) -> None:
        self.delay = delay
        self.rounds = rounds

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            value = original_value(point)
            found = await self._echo(ctx, point, value) or await self._sleep(ctx, point, value)
            if found is not None:
                await ctx.report(found)

    async def _echo(self, ctx: CheckContext, point: InjectionPoint, value: str) -> FindingCandidate | None:
        for separator in COMMAND_SEPARATORS:
            marker, a, b = token(), random.randint(1000, 4999), random.randint(1000, 4999)
            payload = f"{value}{separator}echo {marker}$(({a}+{b}))"
            exchange = await inject(ctx, point, payload)
            match = re.search(f"{marker}{a + b}", exchange.body) if exchange is not None else None
            if exchange is not None and match:
                return point_finding("os-command-injection", point, payload, exchange, match, separator=separator)
        return None

    async def _sleep(self, ctx: CheckContext, point: InjectionPoint, value: str) -> FindingCandidate | None:
        baseline = await inject(ctx, point, value)
        if baseline is None:
            return None
        for separator in COMMAND_SEPARATORS[:2]:
            # the trailing separator ends the command, so whatever the server appends after the value is harmless
            payload = f"{value}{separator}sleep {self.delay:g}{separator}"
            timing = await confirm_delay(ctx, point, payload, f"{value}{separator}sleep 0{separator}", delay=self.delay,
                                         rounds=self.rounds, baseline=baseline.elapsed)  # fmt: skip
            if timing is not None:
                return point_finding("os-command-injection", point, payload, timing.exchange,
                                     evidence=timing.summary(f"sleep {self.delay:g}"), confidence="firm",
                                     technique="time-based", delayed_seconds=timing.delayed,
                                     control_seconds=timing.controls)  # fmt: skip
        return None


class TemplateInjectionCheck(CheckBase):
    """Sends ``a*b`` in each common template syntax; the product (absent before, and for a second pair too)
    proves the server evaluated it."""

    id = "ssti"
    family = "ssti"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            original = await inject(ctx, point, original_value(point))
            if original is None:
                continue
            for syntax in TEMPLATE_SYNTAXES:
                proof = None
                for _ in range(2):
                    a, b = random.randint(101, 999), random.randint(101, 999)
                    payload = syntax.format(a=a, b=b)
                    exchange = await inject(ctx, point, payload)
                    product = str(a * b)
                    match = re.search(product, exchange.body) if exchange is not None else None
                    if exchange is None or match is None or product in original.body:
                        proof = None
                        break
                    proof = (payload, exchange, match)
                if proof is not None:
                    await ctx.report(point_finding("ssti", point, *proof, syntax=syntax.format(a="a", b="b")))
                    break


class PathTraversalCheck(CheckBase):
    """Asks for well-known world-readable system files through each parameter."""

    id = "path-traversal"
    family = "traversal"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            original = await inject(ctx, point, original_value(point))
            if original is None or FILE_CONTENT.search(original.body):
                continue
            for payload in TRAVERSALS:
                exchange = await inject(ctx, point, payload)
                match = FILE_CONTENT.search(exchange.body) if exchange is not None else None
                if exchange is not None and match:
                    await ctx.report(point_finding("path-traversal", point, payload, exchange, match))
                    break


CHECKS = [CommandInjectionCheck(), TemplateInjectionCheck(), PathTraversalCheck()]
