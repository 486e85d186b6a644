"""Recipes: the user's own CSS selectors for a results page (item, title, price, url, image, location, time).

A selector picks text by default; ``selector@attr`` picks an attribute (``a@href``, ``img@src``,
``time@datetime``). Selectors are relative to the item, except ``next``: the link to the next results
page, on the whole page (``a.next`` reads its ``href``); without it a ``rel="next"`` link is followed.
``validate_recipe`` checks a recipe before it is saved (the search editor's preview uses it too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from spyglass.market.adapters.base import AdapterError, Fetch, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import PageRead, get_page, next_link, read_pages, same_site
from spyglass.market.adapters.parsing import (
    absolute_url,
    canonical_url,
    html_tree,
    parse_datetime,
    parse_price,
    stable_id,
    text_of,
)
from spyglass.market.adapters.registry import register_adapter

FIELDS = ("item", "title", "price", "url", "image", "location", "time", "next")
REQUIRED = ("item", "title")
MAX_SELECTOR_LENGTH = 300
_PROBE = LexborHTMLParser("<html><body><div></div></body></html>")


@dataclass(frozen=True)
class Recipe:
    """Validated selectors; ``item`` matches each result, the others are looked up inside it."""

    item: str
    title: str
    price: str | None = None
    url: str | None = None
    image: str | None = None
    location: str | None = None
    time: str | None = None
    #: The next results page's link, on the whole page (``a.next`` reads its ``href``).
    next: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


def validate_recipe(data: Any) -> Recipe:
    """A ``Recipe`` from a dict of selectors; AdapterError (a ValueError too) naming the field that is wrong."""
    if not isinstance(data, dict):
        raise AdapterError(f"a recipe is a set of CSS selectors: {', '.join(FIELDS)}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise AdapterError(f"unknown recipe field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}")
    clean: dict[str, str | None] = {}
    for field in FIELDS:
        value = data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if field in REQUIRED:
                raise AdapterError(f"the recipe needs the {field} selector")
            clean[field] = None
            continue
        if not isinstance(value, str):
            raise AdapterError(f"the recipe's {field} selector must be text")
        clean[field] = _check_selector(field, value.strip(), allow_attribute=field != "item")
    return Recipe(**clean)  # type: ignore[arg-type]


def _check_selector(field: str, value: str, *, allow_attribute: bool) -> str:
    if len(value) > MAX_SELECTOR_LENGTH:
        raise AdapterError(f"the {field} selector is longer than {MAX_SELECTOR_LENGTH} characters")
    if any(ord(ch) < 32 for ch in value):
        raise AdapterError(f"the {field} selector contains control characters")
    css, attribute = _split(value)
    if attribute is not None and not allow_attribute:
        raise AdapterError(f"the {field} selector picks elements, not an attribute (remove '@{attribute}')")
    if attribute is not None and not attribute.replace("-", "").replace("_", "").replace(":", "").isalnum():
        raise AdapterError(f"the {field} selector's attribute name {attribute!r} is not valid")
    try:
        _PROBE.css(css)
    except SelectolaxError:
        raise AdapterError(f"the {field} selector {css!r} is not valid CSS") from None
    return value


def _split(selector: str) -> tuple[str, str | None]:
    """``"a.title@href"`` → ``("a.title", "href")``; an ``@`` inside brackets or quotes is part of the CSS."""
    depth, quote = 0, ""
    for index in range(len(selector) - 1, -1, -1):
        char = selector[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "]":
            depth += 1
        elif char == "[":
            depth -= 1
        elif char == "@" and depth == 0:
            return selector[:index].strip(), selector[index + 1 :].strip()
    return selector, None


def _pick(node: LexborNode, selector: str | None) -> str | None:
    if not selector:
        return None
    css, attribute = _split(selector)
    found = node.css_first(css) if css else node
    if found is None:
        return None
    if attribute is None:
        return text_of(found) or None
    value = found.attributes.get(attribute)
    return value.strip() if value else None


def apply_recipe(
    recipe: Recipe, text: str, page_url: str, *, marketplace: str = "recipe", tree: LexborHTMLParser | None = None
) -> list[ScrapedListing]:
    """The listings a recipe extracts from a page (items without a title are skipped)."""
    tree = tree if tree is not None else html_tree(text)
    listings = []
    for item in tree.css(recipe.item):
        title = _pick(item, recipe.title)
        if not title:
            continue
        link = absolute_url(page_url, _pick(item, recipe.url))
        url = canonical_url(link or page_url)
        price, currency = parse_price(_pick(item, recipe.price))
        image = absolute_url(page_url, _pick(item, recipe.image))
        listings.append(
            ScrapedListing(
                marketplace=marketplace,
                external_id=stable_id(url) if link else stable_id(page_url, title),
                url=url,
                title=title,
                price=price,
                currency=currency,
                location=_pick(item, recipe.location),
                posted_at=parse_datetime(_pick(item, recipe.time)),
                images=[image] if image else [],
            )
        )
    return listings


def recipe_next_page(recipe: Recipe, tree: LexborHTMLParser, page_url: str) -> str | None:
    """The next results page: the recipe's ``next`` selector (an ``href`` unless it names an attribute),
    else a ``rel="next"`` link; only on the same site."""
    if recipe.next:
        css, attribute = _split(recipe.next)
        node = tree.css_first(css)
        href = node.attributes.get(attribute or "href") if node is not None else None
        return same_site(absolute_url(page_url, href), page_url)
    return next_link(tree, page_url)


class RecipeAdapter:
    """The page at ``options["url"]`` read with the selectors in ``options["recipe"]``."""

    name = "recipe"
    label = "Custom page (CSS recipe)"
    remote_filters: frozenset[str] = frozenset()
    politeness = Politeness(min_interval_seconds=300, delay_seconds=2.0, max_pages=10)
    needs_browser = False

    async def search(self, query: SearchQuery, fetch: Fetch) -> list[ScrapedListing]:
        """The page at ``options.url`` and, while each links to one, the next pages (up to the search's limit)."""
        recipe = validate_recipe(query.options.get("recipe"))
        url = str(query.options.get("url") or query.endpoint or "").strip()
        if not url.startswith(("http://", "https://")):
            raise AdapterError("the recipe adapter needs the page's address (an http:// or https:// URL)")

        async def read(page_url: str, number: int) -> PageRead:
            page = await get_page(fetch, page_url, site=url)
            tree = html_tree(page.text)
            listings = apply_recipe(recipe, page.text, page.url, tree=tree)
            if not listings and number == 1 and page.text.strip():
                raise AdapterError(
                    "the recipe's item selector matched nothing on the page; the layout may have changed"
                )
            return listings, recipe_next_page(recipe, tree, page.url)

        return await read_pages(query, self.politeness, url, read)


ADAPTER = RecipeAdapter()
register_adapter(ADAPTER)
