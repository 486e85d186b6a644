"""A real DNS server on 127.0.0.1 (dnslib, UDP, a free port) answering TXT records the test sets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class TxtResolver(BaseResolver):
    """Answers TXT questions from ``records`` (name without the final dot -> texts); NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.questions: list[str] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.questions.append(name)
        texts = self.records.get(name)
        if texts is None:
            reply.header.rcode = 3  # NXDOMAIN
            return reply
        if request.q.qtype == QTYPE.TXT:
            for text in texts:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(text), ttl=1))
        return reply


@contextmanager
def dns_server() -> Iterator[tuple[TxtResolver, str]]:
    """Start the server; yields the resolver (set ``records``) and its ``127.0.0.1:port``."""
    resolver = TxtResolver()
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=DNSLogger(log="-request,-reply,-truncated"))
    server.start_thread()
    try:
        port = server.server.server_address[1]
        yield resolver, f"127.0.0.1:{port}"
    finally:
        server.stop()
        server.server.server_close()
