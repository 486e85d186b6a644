"""The app starts on each backend and answers its health endpoints."""

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_ready_reports_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
