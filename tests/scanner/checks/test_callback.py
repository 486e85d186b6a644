"""The SSRF callback listener: unique tokens, only issued tokens recorded, waiting for hits."""

from __future__ import annotations

import asyncio

import httpx

from spyglass.scanner import callback
from spyglass.scanner.callback import CallbackListener
from tests.scanner.checks.support import scan_settings


async def test_records_hits_of_issued_tokens_only() -> None:
    async with CallbackListener() as listener, httpx.AsyncClient() as client:
        assert callback.listener_for(listener.base_url) is listener
        first, second = listener.new_token(), listener.new_token()
        assert first != second and first.startswith("spy") and len(first) == 27
        answer = await client.get(listener.url_for(first) + "?x=1", headers={"User-Agent": "target/1.0"})
        assert answer.status_code == 200
        await client.get(f"{listener.base_url}/spy-not-issued")
        hits = await listener.wait_for([first, second], 0.2)
        assert list(hits) == [first]
        [hit] = hits[first]
        assert (hit.method, hit.path, hit.peer, hit.user_agent) == ("GET", f"/{first}?x=1", "127.0.0.1", "target/1.0")
        assert listener.hits("spy-not-issued") == []
        listener.forget([first])
        assert listener.hits(first) == []
    assert callback.listener_for(listener.base_url) is None


async def test_wait_returns_as_soon_as_every_token_was_hit() -> None:
    async with CallbackListener() as listener, httpx.AsyncClient() as client:
        token = listener.new_token()
        waiting = asyncio.ensure_future(listener.wait_for([token], 30))
        await client.post(listener.url_for(token), content=b"data")
        hits = await asyncio.wait_for(waiting, 10)  # long before the 30 s wait would end
        assert hits[token][0].method == "POST"


async def test_public_url_and_garbage_requests() -> None:
    async with CallbackListener(public_base_url="http://callback.example.test:8765/") as listener:
        assert listener.url_for("spyabc") == "http://callback.example.test:8765/spyabc"
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"NONSENSE\r\n\r\n")
        await writer.drain()
        assert await reader.read() == b""  # a malformed request is dropped, the listener keeps running
        writer.close()
        _, writer2 = await asyncio.open_connection("127.0.0.1", listener.port)
        writer2.close()


async def test_started_from_settings_only_when_enabled() -> None:
    assert await callback.start_from_settings(scan_settings()) is None
    settings = scan_settings(scanner_callback_enabled=True, scanner_callback_public_url="http://cb.example.test")
    listener = await callback.start_from_settings(settings)
    assert listener is not None
    try:
        assert listener.port > 0 and listener.base_url == "http://cb.example.test"
        assert callback.listener_for("http://cb.example.test/") is listener
    finally:
        await listener.stop()


async def test_concurrent_waits_each_return_when_their_own_token_is_hit() -> None:
    async with CallbackListener() as listener, httpx.AsyncClient() as client:
        tokens = [listener.new_token() for _ in range(5)]
        waits = [asyncio.ensure_future(listener.wait_for([token], 30)) for token in tokens]
        await asyncio.sleep(0)
        for token in reversed(tokens):
            await client.get(listener.url_for(token))
        results = await asyncio.wait_for(asyncio.gather(*waits), 10)
        assert [list(result) for result in results] == [[token] for token in tokens]
