"""Server-side injections proved by a computed or read result: OS command injection, server-side template
injection, path traversal / file inclusion. Payloads only compute numbers, echo markers or read world-readable
files (/etc/passwd, win.ini)."""

from __future__ import annotations

import random
import re

from spyglass.scanner.checks.active._inject import inject, injection_points, original_value, token
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase

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
    """Appends ``echo <marker>$((a+b))`` after each shell separator; the computed sum in the page proves it ran."""

    id = "os-command-injection"
    family = "command"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx):
            for separator in COMMAND_SEPARATORS:
                marker, a, b = token(), random.randint(1000, 4999), random.randint(1000, 4999)
                payload = f"{original_value(point)}{separator}echo {marker}$(({a}+{b}))"
                exchange = await inject(ctx, point, payload)
                match = re.search(f"{marker}{a + b}", exchange.body) if exchange is not None else None
                if exchange is not None and match:
                    await ctx.report(
                        point_finding("os-command-injection", point, payload, exchange, match, separator=separator)
                    )
                    break


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
