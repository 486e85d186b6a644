"""Canonical listing URLs: the same item always has the same URL, whatever tracking was added."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that only track where a click came from; dropped from canonical URLs.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga", "_gl",
        "ref", "ref_", "referrer", "source", "src", "campid", "customid", "toolid", "mkevt", "mkcid",
        "mkrid", "_trkparms", "_trksid", "hash", "amdata", "tracking_id", "trk", "si", "spm",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "_trk", "mkt_", "hsa_")


def is_tracking_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """``url`` without tracking parameters or fragment, with a lower-case scheme and host and sorted query."""
    parts = urlsplit(url.strip())
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_parameter(k))
    host = parts.netloc.lower()
    if (parts.scheme == "https" and host.endswith(":443")) or (parts.scheme == "http" and host.endswith(":80")):
        host = host.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))
