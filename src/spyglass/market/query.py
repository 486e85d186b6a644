"""The keyword language of saved searches: ``parse_query("trek (fx OR marlin) -parts")``.

Market logic - how a query matches a listing's text:

* **Words** match whole words, case-insensitively, with accents folded (``cafe`` matches "Café").
  A word also matches its plural formed with ``s`` or ``es`` (``bike`` matches "bikes", ``box``
  matches "boxes"); the reverse is not true (``bikes`` does not match "bike"), so type the singular.
  End a word with ``*`` to match any ending (``bik*`` matches "biker", "bikes").
* Punctuation inside a word splits it into words that must follow each other: ``e-bike`` matches
  "e-bike" and "E Bike"; ``27"`` is the word ``27``. A token with no letter or digit is ignored.
* **"Quoted phrases"** match their words next to each other, in order (typographic quotes
  “like these” and «like these» work too).
* **Operators** are written in capitals: ``AND``, ``OR`` (also ``|``), ``NOT`` (also ``-word``,
  ``-"a phrase"``, ``-(a OR b)``). Words side by side mean AND. Lower-case "and", "or", "not" are
  ordinary words, so ``not working`` looks for both words.
* **Precedence** is the usual one: NOT binds tightest, then AND, then OR, so ``iphone 12 OR 13`` means
  ``(iphone 12) OR 13``; write ``iphone (12 OR 13)`` for the other reading. ``str(query)`` shows the
  parentheses so a search editor can display what was understood.
* Refused, with a message a person understands: empty queries, queries that would match a listing
  with none of their words (``-parts``, ``bike OR -parts``), unbalanced quotes or parentheses,
  operators without operands, and queries longer than :data:`MAX_QUERY_LENGTH` characters, nested
  deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_TERMS` words and phrases.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MAX_DEPTH", "MAX_QUERY_LENGTH", "MAX_TERMS", "Query", "QueryError", "fold_text", "parse_query"]

MAX_QUERY_LENGTH = 500
MAX_DEPTH = 10
MAX_TERMS = 40

# Letters that Unicode does not decompose into a base letter plus an accent.
_EXTRA_FOLDS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_WORD = re.compile(r"[^\W_]+")
_WORD_WITH_STAR = re.compile(r"([^\W_]+)(\*?)")
_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT"})
# Phones and word processors turn "quotes" into typographic ones.
_TYPOGRAPHIC_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


class QueryError(ValueError):
    """The query cannot be understood; ``str(error)`` says why in words a person understands."""


def fold_text(text: str) -> str:
    """Lower-case ``text`` and remove accents ("Crème Brûlée" -> "creme brulee")."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).translate(_EXTRA_FOLDS)


def _words(text: str) -> list[str]:
    return _WORD.findall(fold_text(text))


@lru_cache(maxsize=512)
def _searchable(text: str) -> str:
    """The text as matched: folded words separated by single spaces, with a space at each end."""
    return " " + " ".join(_words(text)) + " "


# --- the expression tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    """A word or a phrase: folded words, each optionally a prefix (``bik*``); ``original`` as typed."""

    words: tuple[tuple[str, bool], ...]
    original: str

    def pattern(self) -> re.Pattern[str]:
        parts = []
        for word, is_prefix in self.words:
            if is_prefix:
                parts.append(re.escape(word) + "[^ ]*")
            elif word[-1].isalpha():
                parts.append(re.escape(word) + "(?:e?s)?")
            else:
                parts.append(re.escape(word))
        return re.compile(" " + " ".join(parts) + " ")

    def render(self) -> str:
        text = " ".join(word + ("*" if is_prefix else "") for word, is_prefix in self.words)
        return f'"{text}"' if len(self.words) > 1 else text


@dataclass(frozen=True)
class _Not:
    child: _Node


@dataclass(frozen=True)
class _And:
    children: tuple[_Node, ...]


@dataclass(frozen=True)
class _Or:
    children: tuple[_Node, ...]


_Node = _Term | _Not | _And | _Or


def _evaluate(node: _Node, present: dict[_Term, bool]) -> bool:
    if isinstance(node, _Term):
        return present[node]
    if isinstance(node, _Not):
        return not _evaluate(node.child, present)
    if isinstance(node, _And):
        return all(_evaluate(child, present) for child in node.children)
    return any(_evaluate(child, present) for child in node.children)


def _render(node: _Node) -> str:
    if isinstance(node, _Term):
        return node.render()
    if isinstance(node, _Not):
        inner = _render(node.child)
        return "-" + (inner if isinstance(node.child, _Term) else f"({inner})")
    if isinstance(node, _And):
        return " ".join(f"({_render(child)})" if isinstance(child, _Or) else _render(child) for child in node.children)
    return " OR ".join(f"({_render(child)})" if isinstance(child, _And) else _render(child) for child in node.children)


def _collect_terms(node: _Node, *, positive: bool, required_only: bool, out: list[_Term]) -> None:
    """Terms under an even number of NOTs; with ``required_only``, only those every match must contain."""
    if isinstance(node, _Term):
        if positive:
            out.append(node)
    elif isinstance(node, _Not):
        if not required_only:
            _collect_terms(node.child, positive=not positive, required_only=False, out=out)
    elif isinstance(node, _And) or not required_only:
        for child in node.children:
            _collect_terms(child, positive=positive, required_only=required_only, out=out)


def _sufficient_terms(node: _Node, out: list[_Term]) -> None:
    """Terms whose presence alone makes ``node`` true."""
    if isinstance(node, _Term):
        out.append(node)
    elif isinstance(node, _Or):
        for child in node.children:
            _sufficient_terms(child, out)


def _collect_excluded(node: _Node, out: list[_Term]) -> None:
    """Terms whose presence alone makes ``node`` false."""
    if isinstance(node, _Not):
        _sufficient_terms(node.child, out)
    elif isinstance(node, _And):
        for child in node.children:
            _collect_excluded(child, out)


@dataclass(frozen=True)
class Query:
    """A parsed query. Build it with :func:`parse_query`; it is immutable and safe to share."""

    source: str
    _root: _Node
    _patterns: tuple[tuple[_Term, re.Pattern[str]], ...]

    def matches(self, text: str) -> bool:
        """Whether ``text`` (a listing's title and description) satisfies the query."""
        searchable = _searchable(text)
        present = {term: pattern.search(searchable) is not None for term, pattern in self._patterns}
        return _evaluate(self._root, present)

    def terms(self) -> list[str]:
        """The positive words and phrases as the user typed them (no quotes, no ``*``), without duplicates.

        For sites that only take free text. An OR query lists every alternative; a site that requires
        all words should get :meth:`required_terms` instead.
        """
        return self._originals(required_only=False)

    def required_terms(self) -> list[str]:
        """The words and phrases that every matching listing contains (``(red OR blue) bike`` -> ``["bike"]``)."""
        return self._originals(required_only=True)

    def excluded_terms(self) -> list[str]:
        """The words and phrases that no matching listing contains (``bike -(kids OR girls)`` -> kids, girls).

        For sites that take exclusions themselves (``-word``); the query is still applied locally.
        """
        found: list[_Term] = []
        _collect_excluded(self._root, found)
        return _unique_originals(found)

    def __str__(self) -> str:
        """The normalised form: lower case, accents removed, operators in capitals, grouping in parentheses."""
        return _render(self._root)

    def _originals(self, *, required_only: bool) -> list[str]:
        found: list[_Term] = []
        _collect_terms(self._root, positive=True, required_only=required_only, out=found)
        return _unique_originals(found)


def _unique_originals(found: list[_Term]) -> list[str]:
    seen: set[str] = set()
    result = []
    for term in found:
        key = term.render()
        if key not in seen:
            seen.add(key)
            result.append(term.original)
    return result


# --- lexer -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "TERM", "AND", "OR", "NOT", "(", ")"
    text: str
    term: _Term | None = None


def _make_term(raw: str) -> _Term | None:
    words: list[tuple[str, bool]] = []
    for match in _WORD_WITH_STAR.finditer(fold_text(raw)):
        words.append((match.group(1), bool(match.group(2))))
    if not words:
        return None
    original = " ".join(raw.replace("*", " ").replace('"', " ").split())
    return _Term(tuple(words), original)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "()":
            tokens.append(_Token(char, char))
            position += 1
        elif char == "|":
            tokens.append(_Token("OR", "|"))
            position += 1
        elif char == '"':
            end = text.find('"', position + 1)
            if end < 0:
                fragment = text[position : position + 31].rstrip()
                raise QueryError(f"unclosed quote after {fragment}")
            term = _make_term(text[position + 1 : end])
            if term is not None:
                tokens.append(_Token("TERM", text[position : end + 1], term))
            position = end + 1
        elif char == "-" and position + 1 < length and not text[position + 1].isspace():
            tokens.append(_Token("NOT", "-"))
            position += 1
        else:
            end = position
            while end < length and not text[end].isspace() and text[end] not in "()|":
                end += 1
            raw = text[position:end]
            position = end
            if raw in _OPERATOR_WORDS:
                tokens.append(_Token(raw, raw))
                continue
            term = _make_term(raw)
            if term is not None:
                tokens.append(_Token("TERM", raw, term))
    return tokens


# --- parser ------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not ([AND] not)*; not := NOT not | atom."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> _Node:
        node = self.parse_or()
        token = self.peek()
        if token is not None:  # only a stray ")" can stop parse_or early
            raise QueryError('unexpected ")" without a matching "("')
        return node

    def parse_or(self) -> _Node:
        children = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.require_operand(token)
            children.append(self.parse_and())
        return _flatten(_Or, children)

    def parse_and(self) -> _Node:
        children = [self.parse_not()]
        while (token := self.peek()) is not None and token.kind in ("AND", "TERM", "NOT", "("):
            if token.kind == "AND":
                self.take()
                self.require_operand(token)
            children.append(self.parse_not())
        return _flatten(_And, children)

    def parse_not(self) -> _Node:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.take()
            following = self.peek()
            if following is None or following.kind in (")", "AND", "OR"):
                raise QueryError(f'"{token.text}" needs a word after it')
            self.enter()
            child = self.parse_not()
            self.depth -= 1
            return child.child if isinstance(child, _Not) else _Not(child)
        return self.parse_atom()

    def parse_atom(self) -> _Node:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends where a word was expected")
        if token.kind in ("AND", "OR"):
            raise QueryError(f'"{token.text}" needs a word before it')
        if token.kind == ")":
            raise QueryError('unexpected ")" without a matching "("')
        self.take()
        if token.term is not None:
            return token.term
        # token.kind == "("
        following = self.peek()
        if following is None:
            raise QueryError('unclosed parenthesis: a "(" has no matching ")"')
        if following.kind == ")":
            raise QueryError('empty parentheses "()"')
        self.enter()
        node = self.parse_or()
        self.depth -= 1
        closing = self.peek()
        if closing is None:
            raise QueryError('unclosed parenthesis: a "(" has no matching ")"')
        self.take()
        return node

    def require_operand(self, operator: _Token) -> None:
        following = self.peek()
        if following is None or following.kind in (")", "AND", "OR"):
            raise QueryError(f'"{operator.text}" needs a word on both sides')

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the query is nested more than {MAX_DEPTH} levels deep")


def _flatten(kind: type[_And] | type[_Or], children: list[_Node]) -> _Node:
    """Merge nested nodes of the same kind and drop repeated operands (``a b a`` is ``a b``)."""
    flat: dict[str, _Node] = {}
    for child in children:
        for operand in child.children if isinstance(child, kind) else (child,):
            flat.setdefault(_render(operand), operand)
    if len(flat) == 1:
        return next(iter(flat.values()))
    return kind(tuple(flat.values()))


def _distinct_terms(node: _Node, out: dict[_Term, None]) -> None:
    if isinstance(node, _Term):
        out[node] = None
    elif isinstance(node, _Not):
        _distinct_terms(node.child, out)
    else:
        for child in node.children:
            _distinct_terms(child, out)


def parse_query(text: str) -> Query:
    """Parse a saved search's keywords; raises :class:`QueryError` with a readable message when refused."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    tokens = _tokenize(text.translate(_TYPOGRAPHIC_QUOTES))
    if not any(token.kind == "TERM" for token in tokens):
        raise QueryError("enter at least one word to search for")
    root = _Parser(tokens).parse()
    distinct: dict[_Term, None] = {}
    _distinct_terms(root, distinct)
    if len(distinct) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} words and phrases")
    if _evaluate(root, dict.fromkeys(distinct, False)):
        raise QueryError(
            f'"{text.strip()}" would match listings that contain none of its words; add a word to look for'
        )
    return Query(text, root, tuple((term, term.pattern()) for term in distinct))
