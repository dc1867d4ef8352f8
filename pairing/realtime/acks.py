"""Acks, proven together: each process collects its mitra sockets' acks and proves them
in one batch every FLUSH_SECONDS (`requests.services.mark_acked_many`).

Every mitra app acknowledges every frame, so a fan-out to N mitras comes back as N acks
within moments: proven one by one, each was a transaction of its own on the sockets'
one database thread, and at a thousand mitras the acks alone took more than the cores
had. Batched, a fan-out's acks cost a few statements. An ack still proves its offers
within about FLUSH_SECONDS; a batch that fails (the database is down) is kept and
tried again with the next, so no ack is lost while the process lives.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from ..requests import services as request_services

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1
RETRY_SECONDS = 1.0


class AckBatcher:
    """One event loop's pending acks: the highest seq each mitra acked since the last batch."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[int, int] = {}
        # The highest seq proven per mitra in this process: the next batch looks only past it.
        self.proven: dict[int, int] = {}
        self.flushing: asyncio.Task | None = None

    def record(self, mitra_id: int, seq: int) -> None:
        if seq > self.pending.get(mitra_id, -1):
            self.pending[mitra_id] = seq
        if self.flushing is None or self.flushing.done():
            self.flushing = self.loop.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        while self.pending:
            acks, self.pending = self.pending, {}
            after = {mitra_id: self.proven[mitra_id] for mitra_id in acks if mitra_id in self.proven}
            try:
                await database_sync_to_async(request_services.mark_acked_many)(acks=acks, after=after)
                for mitra_id, seq in acks.items():
                    self.proven[mitra_id] = max(seq, self.proven.get(mitra_id, 0))
            except Exception:  # the database is away: keep them for the next try
                logger.warning("could not prove %d mitras' acks; trying again", len(acks), exc_info=True)
                for mitra_id, seq in acks.items():
                    self.pending[mitra_id] = max(seq, self.pending.get(mitra_id, -1))
                await asyncio.sleep(RETRY_SECONDS)

    async def drain(self) -> None:
        """Prove what is pending now (the process is stopping)."""
        if self.flushing is not None and not self.flushing.done():
            await asyncio.wait_for(asyncio.shield(self.flushing), timeout=5)


_batchers: dict[asyncio.AbstractEventLoop, AckBatcher] = {}


def record(mitra_id: int, seq: int) -> None:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = AckBatcher(loop)
    batcher.record(mitra_id, seq)


async def drain() -> None:
    batcher = _batchers.get(asyncio.get_running_loop())
    if batcher is not None:
        try:
            await batcher.drain()
        except Exception:
            logger.warning("acks not proven before shutdown", exc_info=True)
