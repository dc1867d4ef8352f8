"""Soak: 1,000 connected mitras at a realistic mix, at a steady rate, for minutes on end.

Every mitra app acknowledges each offer as it arrives (contract section 11), as the real
app does. Each request has one fate, drawn at its create:

- accepted by a random mitra 1-5 s after the create (ACCEPT);
- declined by three mitras, then accepted by another (DECLINE_THEN_ACCEPT);
- cancelled by its customer 2-10 s after the create (CANCEL);
- ignored by everyone: it expires after the request timeout (IGNORE).

Requests last 5 minutes as sessions; a share of those sessions is ended early by their
mitra (early end enabled for the run), the rest run out and close through the sweeps.

Per minute it prints the offers' fan-out p50/p99 (from the create call's start to each
socket), the rows in the outbox and in the activity log, Redis's memory and each
process's RSS. Pass: the last minute's p99 within 1.2x the first's, the outbox within
what its retention keeps (the last 10 minutes and each user's last 500 events: it grows
for the first 10 minutes by design, then stays flat), and RSS flat (the last minute within
10% of the first's).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from bench.capacity import process_kinds
from bench.fanout import cpu_seconds, make_accounts, percentile
from devtools.stack import Stack

RATE = 2.5  # requests/s: about half the capacity bench's held rate at 1,000 mitras
MINUTES = 10.0
FATES = {"accept": 0.5, "decline_then_accept": 0.2, "cancel": 0.2, "ignore": 0.1}
EARLY_END_SHARE = 0.3
SESSION_MINUTES = 5
MINUTE = 60.0  # seconds a reported "minute" lasts (the smallest form shortens it)


@dataclass
class Minute:
    offers: list[float] = field(default_factory=list)
    missing: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))


class Mitras:
    """The mitra apps: each socket acknowledges every frame it gets, and records offers' arrivals."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []
        self.acks = 0

    async def open(self, urls: list[str]) -> None:
        for start in range(0, len(urls), 100):
            self.sockets.extend(await asyncio.gather(*(connect(u, max_queue=None) for u in urls[start : start + 100])))
        # Each app has its hello before the first request: an offer created while a socket
        # is still setting up comes in the hello's `pending`, which these apps do not count.
        await asyncio.gather(*(ws.recv() for ws in self.sockets))
        self.tasks = [asyncio.create_task(self._app(ws)) for ws in self.sockets]

    async def _app(self, ws) -> None:
        async for text in ws:
            if '"seq":' not in text or text.startswith('{"type":"heartbeat"'):
                continue
            frame = json.loads(text)
            if frame["type"] == "chat_request.new":
                self.arrivals[frame["data"]["session_id"]].append(time.perf_counter())
            await ws.send(f'{{"type":"ack","seq":{frame["seq"]}}}')
            self.acks += 1

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


class Soak:
    def __init__(self, stack: Stack, tokens: dict[str, list[str]], mitras: Mitras) -> None:
        self.stack, self.mitras = stack, mitras
        self.customers = iter(tokens["customers"])
        self.mitra_tokens = tokens["mitras"]
        self.minutes: dict[int, Minute] = defaultdict(Minute)
        self.started = time.perf_counter()
        # (minute, {table: rows}, Redis bytes, {process: RSS KiB}, events ever numbered)
        self.samples: list[tuple[int, dict[str, int], int, dict[str, int], int]] = []
        self.cpu = ProcessCpu(stack)

    def minute(self) -> Minute:
        return self.minutes[int((time.perf_counter() - self.started) // MINUTE)]

    async def call(self, http: httpx.AsyncClient, token: str, path: str, body: dict | None = None) -> httpx.Response:
        response = await http.post(path, json=body or {}, headers={"Authorization": f"Token {token}"})
        self.minute().statuses[response.status_code] += 1
        return response

    async def request(self, http: httpx.AsyncClient) -> None:
        minute = self.minute()
        customer = next(self.customers)
        started = time.perf_counter()
        body = {"duration_minutes": SESSION_MINUTES}
        response = await self.call(http, customer, "/api/customer/chat-requests/", body)
        if response.status_code != 201:
            return
        session_id = response.json()["session_id"]
        fate = random.choices(list(FATES), weights=list(FATES.values()))[0]
        base = f"/api/mitra/chat-requests/{session_id}"
        if fate == "accept":
            await asyncio.sleep(random.uniform(1, 5))
            await self.accept(http, base)
        elif fate == "decline_then_accept":
            chosen = random.sample(self.mitra_tokens, 4)
            for token in chosen[:3]:
                await asyncio.sleep(random.uniform(0.3, 1))
                await self.call(http, token, f"{base}/decline/")
            await self.accept(http, base, chosen[3])
        elif fate == "cancel":
            await asyncio.sleep(random.uniform(2, 10))
            await self.call(http, customer, f"/api/customer/chat-requests/{session_id}/cancel/")
        # The offer's arrivals, counted once it has had time to reach every socket.
        await asyncio.sleep(max(0.0, started + 15 - time.perf_counter()))
        arrivals = self.mitras.arrivals.pop(session_id, [])
        minute.offers.extend(t - started for t in arrivals)
        minute.missing += len(self.mitras.sockets) - len(arrivals)

    async def accept(self, http: httpx.AsyncClient, base: str, token: str | None = None) -> None:
        token = token or random.choice(self.mitra_tokens)
        response = await self.call(http, token, f"{base}/accept/")
        if response.status_code == 200 and random.random() < EARLY_END_SHARE:
            session_id = base.rsplit("/", 1)[1]
            await asyncio.sleep(random.uniform(10, 60) * MINUTE / 60)
            await self.call(
                http, token, f"/api/mitra/chat-requests/sessions/{session_id}/end/",
                {"reason_code": "customer_left", "reason_note": ""},
            )  # fmt: skip

    async def run(self, rate: float, minutes: float) -> None:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=self.stack.url, timeout=30, limits=limits) as http:
            sampler = asyncio.create_task(self.sample_every_minute(minutes))
            tasks = []
            for i in range(round(rate * minutes * MINUTE)):
                delay = self.started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self.request(http)))
            await asyncio.gather(*tasks)
            await sampler  # the last minutes' figures

    async def sample_every_minute(self, minutes: float) -> None:
        import psycopg

        redis = aioredis.from_url(self.stack.env()["REDIS_URL"])
        database = self.stack.database_url if self.stack.database_url.startswith("postgres") else ""
        index = 0
        while index < minutes:
            # A minute's offers are counted 15 s after their create: report it once they are.
            await asyncio.sleep(max(0.0, self.started + (index + 1) * MINUTE + 16 - time.perf_counter()))
            rows, numbered = {}, 0
            if database:
                async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
                    for table in ("user_events", "event_batches", "chat_request_notifications"):
                        rows[table] = (await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone())[0]
                    total = await conn.execute("SELECT coalesce(sum(last_seq), 0) FROM event_sequences")
                    numbered = int((await total.fetchone())[0])
            info = await redis.info("memory")
            self.samples.append((index, rows, info["used_memory"], process_rss(self.stack), numbered))
            self.report(index, self.cpu.since_last())
            index += 1
        await redis.aclose()

    def report(self, index: int, cpu: dict[str, float]) -> None:
        minute = self.minutes.get(index, Minute())
        _, rows, redis_bytes, rss, _ = self.samples[-1]
        offers = minute.offers
        p50 = percentile(offers, 50) * 1000 if offers else 0
        p99 = percentile(offers, 99) * 1000 if offers else 0
        codes = " ".join(f"{s}x{n}" for s, n in sorted(minute.statuses.items()))
        print(f"{index + 1:>3} | {p50:>6.0f} {p99:>6.0f} | {minute.missing:>7} | {rows.get('user_events', 0):>9} "
              f"{rows.get('event_batches', 0):>7} {rows.get('chat_request_notifications', 0):>9} | "
              f"{redis_bytes / 2**20:>6.1f} | {' '.join(f'{k}={v / 1024:.0f}' for k, v in sorted(rss.items()))} "
              f"| acks {self.mitras.acks} | {codes} | cpu s {' '.join(f'{k}={v:.0f}' for k, v in cpu.items())}",
              flush=True)  # fmt: skip


class ProcessCpu:
    """CPU seconds per kind of process (the stack's web processes and workers, PostgreSQL,
    Redis) between two readings: where a minute's cost went when its latency moved.
    Processes are listed anew at each reading (PostgreSQL starts a backend per connection)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.seen: dict[int, float] = {}
        self.since_last()

    def since_last(self) -> dict[str, float]:
        used: dict[str, float] = {}
        seen: dict[int, float] = {}
        for kind, pids in process_kinds(self.stack).items():
            if kind == "floor":
                continue
            used[kind] = 0.0
            for pid in pids:
                now = cpu_seconds([pid])  # 0 for a process gone since it was listed
                if now or pid not in self.seen:
                    seen[pid] = now
                    used[kind] += now - self.seen.get(pid, 0.0)
        self.seen = seen
        return used


def process_rss(stack: Stack) -> dict[str, int]:
    """KiB of RSS per kind of process of the stack (web processes summed as `web`)."""
    totals: dict[str, int] = defaultdict(int)
    for pid, command in stack.processes().items():
        if "daphne" in command:
            name = "web"
        elif "beat" in command:
            name = "beat"
        elif "-push" in command or "push-" in command:
            name = "push"
        elif "worker" in command:
            name = "worker"
        else:
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    totals[name] += int(line.split()[1])
        except OSError:
            continue
    return dict(totals)


async def soak(stack: Stack, n: int, rate: float, minutes: float) -> Soak:
    stack.manage("appconfig", "early_end_mitra_enabled=true")
    tokens = make_accounts(stack, n, round(rate * minutes * MINUTE) + 100, f"soak{n}")
    mitras = Mitras()
    await mitras.open([f"{stack.ws_url}/ws/mitra/?token={t}" for t in tokens["mitras"]])
    run = Soak(stack, tokens, mitras)
    run.samples = []
    try:
        await run.run(rate, minutes)
    finally:
        await mitras.close()
    return run


def main(n: int = 1000, rate: float | None = None, minutes: float | None = None) -> None:
    rate, minutes = rate or RATE, minutes or MINUTES
    print(
        f"Soak: {n} mitras acknowledging every frame, {rate:g} requests/s for {minutes:g} min "
        f"({', '.join(f'{k} {v:.0%}' for k, v in FATES.items())}; {EARLY_END_SHARE:.0%} of sessions ended early)"
    )
    print(
        "min | offers p50 p99 ms | missing | user_events batches log rows | Redis MiB | RSS MiB | acks | answers"
        " | CPU seconds"
    )
    with Stack() as stack:
        run = asyncio.run(soak(stack, n, rate, minutes))
    verdict(run)


def verdict(run: Soak) -> None:
    whole = [m for i, m in sorted(run.minutes.items()) if m.offers]
    if len(whole) < 2 or len(run.samples) < 2:
        print("too short for a verdict")
        return
    first, last = percentile(whole[0].offers, 99), percentile(whole[-1].offers, 99)
    rss_first = sum(run.samples[0][3].values())
    rss_last = sum(run.samples[-1][3].values())
    server_errors = sum(n for m in run.minutes.values() for s, n in m.statuses.items() if s >= 500 and s != 503)
    shed = sum(m.statuses.get(503, 0) for m in run.minutes.values())
    missing = sum(m.missing for m in run.minutes.values())
    # What the outbox keeps (contract section 11): every event of the last KEEP_FOR, and
    # each user's last KEEP_LAST; beyond that, a prune run's worth of inflow.
    import django

    django.setup()
    from pairing.events.outbox import KEEP_FOR, KEEP_LAST

    keep_minutes = round(KEEP_FOR.total_seconds() / MINUTE)
    now_numbered = run.samples[-1][4]
    before = run.samples[-1 - keep_minutes][4] if len(run.samples) > keep_minutes else 0
    inflow_per_minute = (now_numbered - run.samples[-2][4]) if len(run.samples) > 1 else 0
    kept_bound = (now_numbered - before) + KEEP_LAST * len(run.mitras.sockets) + 2 * inflow_per_minute
    outbox_rows = run.samples[-1][1].get("user_events", 0)
    print(
        f"outbox rows {outbox_rows} against the {kept_bound} its retention may keep "
        f"({'pass' if outbox_rows <= kept_bound else 'MISSED'})"
    )
    print(f"p99 last/first minute: {last * 1000:.0f}/{first * 1000:.0f} ms = {last / first:.2f}x "
          f"({'pass' if last <= 1.2 * first else 'MISSED'}, <= 1.2x); RSS last/first: {rss_last / 1024:.0f}/"
          f"{rss_first / 1024:.0f} MiB ({'pass' if rss_last <= 1.1 * rss_first else 'MISSED'}, <= 1.1x); "
          f"5xx {server_errors} (besides {shed} creates refused past capacity, 503 busy); "
          f"offers missing after 15 s {missing}")  # fmt: skip
