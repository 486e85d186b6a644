"""Fixtures for check tests: the vulnerable app (HTTP), the clean app (HTTPS with a test CA), test
certificates, the SSRF callback listener, and each app crawled by the real crawler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from spyglass.scanner.callback import CallbackListener
from tests.scanner.apps.certs import Certificates, make_certificates, server_context
from tests.scanner.apps.clean import CleanApp
from tests.scanner.apps.vulnerable import VulnerableApp
from tests.scanner.checks.support import Harness, crawled, scan_plan


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def vulnerable_app(tmp_path: Path) -> Iterator[VulnerableApp]:
    app = VulnerableApp(tmp_path)
    with app:
        yield app


@pytest.fixture
def clean_app(certs: Certificates) -> Iterator[CleanApp]:
    app = CleanApp(tls=server_context(certs.valid))
    with app:
        yield app


@pytest.fixture
async def listener() -> AsyncIterator[CallbackListener]:
    async with CallbackListener("127.0.0.1", 0) as running:
        yield running


@pytest.fixture
async def vulnerable(vulnerable_app: VulnerableApp, listener: CallbackListener) -> AsyncIterator[Harness]:
    base = vulnerable_app.url("/")
    async with crawled(base, plan=scan_plan(base, callback_base_url=listener.base_url)) as harness:
        yield harness


@pytest.fixture
async def clean(clean_app: CleanApp, certs: Certificates, listener: CallbackListener) -> AsyncIterator[Harness]:
    base = clean_app.url("/")
    plan = scan_plan(base, callback_base_url=listener.base_url)
    async with crawled(base, plan=plan, verify=certs.client_context()) as harness:
        yield harness
