"""``spyglass market search``: a one-off search from the terminal (added to the ``market`` command group).

It runs the same code as a saved search's job (validation, adapters through the platform fetcher with
robots.txt honoured, local filters) but stores nothing: matching listings go to stdout as JSON lines,
progress and problems to stderr. Exit codes: 0 searched (even with no match), 1 no marketplace
answered, 2 bad input.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

EXIT_NO_ANSWER, EXIT_USAGE = 1, 2


def add_search_command(market_app: typer.Typer) -> None:
    """Add the ``search`` command to the ``spyglass market`` group."""
    market_app.command("search")(search)


def search(
    adapter: Annotated[
        list[str],
        typer.Option("--adapter", "-a", help="Marketplace adapter (repeat for several): craigslist, ebay, ..."),
    ],
    keywords: Annotated[str, typer.Option("--keywords", "-k", help='Keywords: AND / OR / NOT, "quoted phrases".')],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Base URL replacing the site's (the simulator, a test server).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="The page or feed to read (jsonld, rss, recipe).")] = None,
    price_min: Annotated[str | None, typer.Option("--price-min", help="Lowest price.")] = None,
    price_max: Annotated[str | None, typer.Option("--price-max", help="Highest price.")] = None,
    condition: Annotated[
        str | None, typer.Option("--condition", help="new, like_new, used, refurbished, for_parts.")
    ] = None,
    location: Annotated[str | None, typer.Option("--location", help="City or ZIP code to search around.")] = None,
    radius_km: Annotated[float | None, typer.Option("--radius-km", help="Distance from --location.")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", "-x", help="A word to skip (repeatable).")] = None,
) -> None:
    """Search marketplaces once and print the matching listings as JSON lines (nothing is stored)."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from spyglass.cli import console, fail, load_settings, out
    from spyglass.core.errors import InvalidInput
    from spyglass.core.fetch import Fetcher
    from spyglass.core.migrations import run_coroutine_blocking
    from spyglass.market.adapters.extract import listing_json
    from spyglass.market.models import SavedSearch
    from spyglass.market.searching import Collected, collect
    from spyglass.market.service import parse_search

    settings = load_settings()
    names = [name.strip().lower() for name in adapter if name.strip()]
    if endpoint:
        settings = settings.model_copy(update={"market_endpoints": {name: endpoint for name in names}})
    raw: dict[str, Any] = {
        "name": "terminal search",
        "marketplaces": names,
        "keywords": keywords,
        "excluded_words": exclude or [],
        "price_min": price_min,
        "price_max": price_max,
        "condition": condition,
        "location": location,
        "radius_km": radius_km,
        "options": {name: {"url": url} for name in names} if url else {},
    }
    try:
        spec = parse_search(raw, settings=settings)
    except InvalidInput as exc:
        for field, message in (exc.detail or {}).items():
            console.print(f"[red]Error:[/red] {escape(field.replace('_', '-'))}: {escape(str(message))}")
        raise typer.Exit(EXIT_USAGE) from None
    wanted = SavedSearch(user_id=0, **asdict(spec))

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("searching", total=len(spec.marketplaces))

        started = 0

        async def report(_percent: int, stage: str) -> None:
            nonlocal started
            progress.update(task, description=stage, completed=started)
            started += 1

        async def run() -> Collected:
            async with Fetcher(settings) as fetcher:
                return await collect(wanted, settings=settings, fetcher=fetcher, progress=report)

        collected = run_coroutine_blocking(run)
        progress.update(task, completed=len(spec.marketplaces), description="done")

    for failure in collected.failures.values():
        console.print(f"[yellow]Warning:[/yellow] {escape(failure.message)}")
    for result in collected.results:
        for listing in result.kept:
            out.print(json.dumps(listing_json(listing), ensure_ascii=False), markup=False, highlight=False)
    console.print(f"{collected.kept} of {collected.fetched} listing(s) match", markup=False)
    if not collected.results:
        fail("no marketplace answered", EXIT_NO_ANSWER)
