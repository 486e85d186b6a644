"""Command-line commands of the market feature, added to ``spyglass`` by :func:`register`.

``spyglass market extract --adapter NAME (FILE | URL)`` prints, as JSON lines, the listings an adapter
reads from a saved page or a live URL (the URL goes through the platform fetcher, so the URL policy
and robots.txt apply). Exit codes: 0 read (even if no listing), 1 the page could not be fetched or
read, 2 bad input. ``spyglass demo-market`` runs the local marketplace simulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_UNREADABLE, EXIT_USAGE = 1, 2


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main CLI app."""
    from spyglass.market.search_cli import add_search_command

    market_app = typer.Typer(help="Market bots: extract listings from pages, one-off searches.", no_args_is_help=True)
    market_app.command("extract")(extract)
    add_search_command(market_app)
    app.add_typer(market_app, name="market")
    app.command("demo-market")(demo_market)


def extract(
    source: Annotated[str, typer.Argument(help="A saved page (file) or an http(s) URL to fetch.")],
    adapter: Annotated[str, typer.Option("--adapter", "-a", help="Adapter name (craigslist, jsonld, rss, ...).")],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="The page's address, to resolve its relative links (files).")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option("--recipe", help="The recipe adapter's selectors: JSON, or @file.json.")
    ] = None,
) -> None:
    """Print the listings an adapter extracts from a saved page or a live URL, one JSON object per line."""
    from spyglass.cli import console, fail, out
    from spyglass.core.fetch import FetchError
    from spyglass.market.adapters.base import AdapterError
    from spyglass.market.adapters.extract import listing_json, parse_page
    from spyglass.market.adapters.registry import UnknownAdapter, get_adapter

    try:
        chosen = get_adapter(adapter)
    except UnknownAdapter as exc:
        fail(str(exc), EXIT_USAGE)
    options: dict[str, Any] = {}
    if chosen.name == "recipe":
        options["recipe"] = _read_recipe(recipe)
    elif recipe is not None:
        fail("--recipe is only for the recipe adapter", EXIT_USAGE)
    try:
        if source.startswith(("http://", "https://")):
            text, url = _fetch(source)
        else:
            text, url = _read_file(source), base_url or _default_base(chosen)
        listings = parse_page(chosen, text, url, options)
    except AdapterError as exc:
        fail(exc.message, EXIT_USAGE if chosen.name == "recipe" and "selector" in exc.message else EXIT_UNREADABLE)
    except FetchError as exc:
        fail(str(exc), EXIT_UNREADABLE)
    for listing in listings:
        out.print(json.dumps(listing_json(listing), ensure_ascii=False), markup=False, highlight=False)
    console.print(f"{len(listings)} listing(s) from {source}", markup=False)


def _read_file(source: str) -> str:
    from spyglass.cli import fail

    path = Path(source)
    if not path.is_file():
        fail(f"{source} is neither a file nor an http(s) URL", EXIT_USAGE)
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        fail(f"{source} could not be read: {exc.strerror}", EXIT_USAGE)


def _read_recipe(recipe: str | None) -> Any:
    from spyglass.cli import fail

    if not recipe:
        fail('the recipe adapter needs --recipe \'{"item": "...", "title": "..."}\' (or --recipe @file.json)', 2)
    text = recipe
    if recipe.startswith("@"):
        try:
            text = Path(recipe[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{recipe[1:]} could not be read: {exc.strerror}", EXIT_USAGE)
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"--recipe is not valid JSON: {exc}", EXIT_USAGE)


def _default_base(adapter: Any) -> str:
    base = getattr(adapter, "default_base", "") or ""
    return base or "http://localhost/"


def _fetch(url: str) -> tuple[str, str]:
    """The page at ``url`` through the platform fetcher (URL policy, robots.txt, size cap)."""
    from spyglass.cli import load_settings
    from spyglass.core.fetch import Fetcher
    from spyglass.core.migrations import run_coroutine_blocking

    settings = load_settings()

    async def get() -> tuple[str, str]:
        async with Fetcher(settings) as fetcher:
            result = await fetcher.fetch(url, respect_robots=True)
            return result.text, result.url

    return run_coroutine_blocking(get)


def demo_market(
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on.")] = 8090,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default: the setting).")] = None,
    step_seconds: Annotated[
        float | None, typer.Option("--step-seconds", min=0.001, help="Seconds per market step (default: the setting).")
    ] = None,
) -> None:
    """Run the local marketplace simulator: realistic results that change over time, for every adapter."""
    from spyglass.cli import console, load_settings
    from spyglass.market.simulator import Simulator, endpoints, serve_forever

    settings = load_settings()
    simulator = Simulator(
        settings.market_simulator_seed if seed is None else seed,
        step_seconds=settings.market_simulator_step_seconds if step_seconds is None else step_seconds,
    )
    origin = f"http://{host}:{port}"
    every = f"a step every {simulator.step_seconds:g} s"
    console.print(f"Marketplace simulator on {origin} (seed {simulator.seed}, {every})", markup=False)
    console.print("Point Spyglass at it with:", markup=False)
    console.print(f"SPYGLASS_MARKET_ENDPOINTS='{json.dumps(endpoints(origin))}'", markup=False)
    serve_forever(simulator, host=host, port=port)
