"""Sessions on Redis with a process-local copy of each session read, kept exact by Redis's invalidation messages.

Every signed-in request reads its session; on Redis that was a round trip (a GET) on every request. This store
is Litestar's ``RedisStore`` (same keys and values, so processes running either store share sessions) that also
keeps the values it read in process memory and drops a copy the moment Redis reports the key changed:

- a listener connection turns on Redis's client-side-caching tracking for the store's key prefix (``CLIENT
  TRACKING on REDIRECT <itself> BCAST PREFIX spyglass:sessions:``, RESP2) and receives the name of every key
  of that prefix that any client changes, deletes, or that expires;
- a copy is taken only while that listener is subscribed, and only when no invalidation of the key arrived
  while it was being read (a marker stands in the dictionary during the read; an invalidation removes it);
- a copy is never kept past the key's own expiry (read with it, in the same round trip);
- when the listener's connection fails, every copy is dropped and reads go to Redis until it is back; the
  listener pings Redis every second, and after 3 s without a word on it (a link that died silently) no copy
  is answered and the listener reconnects;
- before answering from a copy, a read yields to the event loop once: an invalidation that reached this
  process before the request did (a sign-out on another process) is applied first, whatever order the
  event loop picked up the two sockets in.

So a sign-out, a rotation or an expiry on any process takes effect on every process for the next request,
as when every read went to Redis, provided Redis's message reached that process first: Redis sends it along
with its answer to the write, so on one machine or a LAN it does; a link to Redis slower than the client's
round trip through another process leaves the copy answered that much longer. Writes always go to Redis and
drop the local copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from itertools import islice
from typing import Any

from litestar.stores.redis import RedisStore
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

logger = logging.getLogger("spyglass.sessions")

INVALIDATION_CHANNEL = b"__redis__:invalidate"
#: How long the absence of a key is remembered (an unknown or ended session's cookie): a SET of the key
#: is announced like any change, this only bounds the memory an invalid cookie can hold.
ABSENT_FOR_SECONDS = 60.0
MAX_COPIES = 50_000
RECONNECT_AFTER_SECONDS = (0.2, 1.0, 5.0)
#: The listener pings Redis this often; after this long without hearing from Redis on it (a link that died
#: silently: a NAT or a failover that forgot it) copies are no longer answered and the listener reconnects.
PING_EVERY_SECONDS = 1.0
SILENT_AFTER_SECONDS = 3.0


class ReplicatedRedisStore(RedisStore):
    """Litestar's ``RedisStore`` plus a process-local copy of the values read (see the module docstring)."""

    def __init__(self, url: str, *, namespace: str, max_copies: int = MAX_COPIES) -> None:
        pool: ConnectionPool = ConnectionPool.from_url(url, decode_responses=False)
        super().__init__(Redis(connection_pool=pool), namespace=namespace, handle_client_shutdown=True)
        self._url = url
        self._prefix = f"{namespace}:"
        self._max_copies = max_copies
        # key -> (value or None, monotonic deadline), or a marker object while a read of the key is in flight.
        self._copies: dict[str, tuple[bytes | None, float] | object] = {}
        self._listening = False
        self._heard = 0.0  # monotonic time of the listener's last message from Redis
        self._listener: asyncio.Task[None] | None = None
        self._listener_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def listening(self) -> bool:
        """Whether copies are being kept (the invalidation listener is subscribed)."""
        return self._listening

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        self._ensure_listener()
        if renew_for or not self._listening:
            return await super().get(key, renew_for)
        await asyncio.sleep(0)  # apply invalidations that reached this process before this request did
        now = time.monotonic()
        if now - self._heard > SILENT_AFTER_SECONDS:  # the listener's link may be dead: trust no copy
            return await super().get(key)
        entry = self._copies.get(key)
        if type(entry) is tuple and now < entry[1]:
            return entry[0]
        return await self._read_and_copy(key, now)

    async def _read_and_copy(self, key: str, started: float) -> bytes | None:
        if len(self._copies) >= self._max_copies:
            for stale in list(islice(self._copies, self._max_copies // 10 or 1)):
                self._copies.pop(stale, None)
        marker = object()
        self._copies[key] = marker
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._make_key(key))
                pipe.pttl(self._make_key(key))
                value, pttl = await pipe.execute()
        except BaseException:
            if self._copies.get(key) is marker:
                del self._copies[key]
            raise
        if self._copies.get(key) is marker:  # no invalidation, write or listener restart meanwhile
            if value is None:
                self._copies[key] = (None, started + ABSENT_FOR_SECONDS)
            elif pttl > 0:
                self._copies[key] = (value, started + pttl / 1000)
            else:  # no expiry: not a session this store wrote; always read it from Redis
                del self._copies[key]
        return value

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        self._copies.pop(key, None)
        await super().set(key, value, expires_in)
        self._copies.pop(key, None)

    async def delete(self, key: str) -> None:
        self._copies.pop(key, None)
        await super().delete(key)
        self._copies.pop(key, None)

    async def delete_all(self) -> None:
        self._copies.clear()
        await super().delete_all()
        self._copies.clear()

    def _ensure_listener(self) -> None:
        loop = asyncio.get_running_loop()
        if self._listener_loop is loop or self._closed:
            return
        # First use, or used from another event loop than the listener's (tests drive apps from several):
        # a listener whose loop stopped delivers nothing, so copying starts over with one on this loop.
        self._stop_copying()
        self._listener_loop = loop
        self._listener = loop.create_task(self._listen_forever())

    def _current(self) -> bool:
        """Whether the running task is this store's listener (a replaced one must not touch the copies)."""
        return asyncio.current_task() is self._listener

    async def _listen_forever(self) -> None:
        failures = 0
        while not self._closed and self._current():
            connection: AbstractConnection | None = None
            try:
                connection = self._new_connection()
                async with asyncio.timeout(2 * SILENT_AFTER_SECONDS):  # a dead link must not hold it forever
                    await self._subscribe(connection)
                failures = 0
                await self._apply_invalidations(connection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if failures == 0:
                    logger.warning("session copies stopped (%s): sessions are read from Redis", type(exc).__name__)
            finally:
                if self._current():
                    self._stop_copying()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.disconnect()
            if self._closed or not self._current():
                return
            await asyncio.sleep(RECONNECT_AFTER_SECONDS[min(failures, len(RECONNECT_AFTER_SECONDS) - 1)])
            failures += 1

    def _new_connection(self) -> AbstractConnection:
        """A bare RESP2 connection without retries: a reconnect inside redis-py would come back without
        tracking (silently never invalidating again); here any failure ends the listener's turn instead."""
        pool: ConnectionPool = ConnectionPool.from_url(self._url, protocol=2, retry=Retry(NoBackoff(), 0))
        return pool.make_connection()

    async def _subscribe(self, connection: AbstractConnection) -> None:
        """Connect, track the store's prefix for this connection itself, subscribe to the invalidation channel."""
        await connection.connect()
        await connection.send_command("CLIENT", "ID")
        client_id = await connection.read_response()
        await connection.send_command(
            "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", "PREFIX", self._prefix
        )
        if await connection.read_response() != b"OK":
            raise ConnectionError("CLIENT TRACKING was refused")
        await connection.send_command("SUBSCRIBE", INVALIDATION_CHANNEL)
        await connection.read_response()  # [subscribe, channel, 1]
        if not self._current():
            raise RuntimeError("replaced by a listener on another event loop")
        self._copies.clear()
        self._heard = time.monotonic()
        self._listening = True

    async def _apply_invalidations(self, connection: AbstractConnection) -> None:
        """Drop the copies of the keys Redis names, until the connection fails or goes silent (pinged meanwhile:
        a pong at least every ``PING_EVERY_SECONDS`` while the link lives; a read timeout ends the turn)."""
        pinger = asyncio.ensure_future(self._ping(connection))
        try:
            while True:
                message: Any = await connection.read_response(timeout=SILENT_AFTER_SECONDS)
                if message is None:  # redis-py's answer to a read timeout: nothing, not even a pong
                    raise ConnectionError("no answer from Redis on the invalidation listener")
                self._heard = time.monotonic()
                if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
                    continue  # a pong, or another channel's message
                keys = message[2]
                if keys is None:  # FLUSHDB / FLUSHALL
                    self._copies.clear()
                    continue
                prefix_length = len(self._prefix)
                for raw in keys:
                    self._copies.pop(raw.decode()[prefix_length:], None)
        finally:
            pinger.cancel()

    @staticmethod
    async def _ping(connection: AbstractConnection) -> None:
        while True:
            await asyncio.sleep(PING_EVERY_SECONDS)
            await connection.send_command("PING", check_health=False)  # the reader above takes the pong

    def _stop_copying(self) -> None:
        self._listening = False
        self._copies.clear()

    async def close(self) -> None:
        """Stop the listener and close the connections."""
        self._closed = True
        self._stop_copying()
        if self._listener is not None and self._listener_loop is asyncio.get_running_loop():
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        self._listener = None
        await self._shutdown()
