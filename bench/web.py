"""HTTP benchmarks on the running stack, with one web process and with one per core:

- throughput of `GET /api/mitra/me/` against a bare Django view doing three queries
  (bench/views.py) under the same server in the same run (target: >= 0.8x), and how
  it scales from one web process to all of them;
- accept storm: 50 mitras accept one request at the same instant, five times; one winner
  each time, and the median of the slowest answers against a lone accept (each timed from
  its call's start);
- churn: 20 customers and 20 mitras running create -> accept -> end cycles; cycles/s and
  any 5xx.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from bench.fanout import make_accounts
from devtools.launcher import web_concurrency
from devtools.stack import Stack

CONCURRENCY = 32
SECONDS = 5
STORM = 50
STORM_ROUNDS = 5  # one storm's slowest answer wanders by half between runs; the median of five less
CHURN_PAIRS = 20


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def throughput(url: str, token: str) -> float:
    """Requests per second of GET `url` by CONCURRENCY clients for SECONDS."""
    done = 0
    deadline = time.perf_counter() + SECONDS
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(headers=_auth(token), limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(url)
                response.raise_for_status()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return done / (time.perf_counter() - started)


async def _create(client: httpx.AsyncClient, token: str) -> str:
    response = await client.post("/api/customer/chat-requests/", json={"duration_minutes": 30}, headers=_auth(token))
    response.raise_for_status()
    return response.json()["session_id"]


async def accept_storm(stack: Stack, tokens: dict[str, list[str]]) -> tuple[int | str, float, float, float]:
    """(fewest and most winners, median over STORM_ROUNDS storms of the slowest of 50
    simultaneous accepts, a lone accept, the slowest of 50 simultaneous accepts of 50
    different requests), ms from each call's start. The last has the storm's concurrency
    without its one contended row: what is left of the storm's slowest answer beside it
    is the row lock's share."""
    mitras, customers = tokens["mitras"][:STORM], tokens["customers"]
    limits = httpx.Limits(max_connections=STORM + 4)
    async with httpx.AsyncClient(base_url=stack.url, limits=limits, timeout=60) as client:
        lone = []
        for customer in customers[:5]:
            session_id = await _create(client, customer)
            started = time.perf_counter()
            answer = await client.post(f"/api/mitra/chat-requests/{session_id}/accept/", headers=_auth(mitras[0]))
            lone.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
        await asyncio.gather(*(client.get("/api/mitra/me/", headers=_auth(m)) for m in mitras))  # warm connections

        async def accept(session_id: str, token: str) -> tuple[int, float]:
            started = time.perf_counter()
            answer = await client.post(f"/api/mitra/chat-requests/{session_id}/accept/", headers=_auth(token))
            return answer.status_code, time.perf_counter() - started

        winners, slowest = set(), []
        for storm in range(STORM_ROUNDS):
            session_id = await _create(client, customers[5 + storm])
            results = await asyncio.gather(*(accept(session_id, m) for m in mitras))
            assert all(code in (200, 409) for code, _ in results), results
            winners.add(sum(1 for code, _ in results if code == 200))
            slowest.append(max(t for _, t in results))
            await asyncio.sleep(0.5)
        apart = []
        for storm in range(STORM_ROUNDS):
            first = 5 + STORM_ROUNDS + storm * STORM
            sessions = await asyncio.gather(*(_create(client, c) for c in customers[first : first + STORM]))
            await asyncio.sleep(0.5)
            results = await asyncio.gather(*(accept(s, m) for s, m in zip(sessions, mitras, strict=True)))
            assert all(code == 200 for code, _ in results), results
            apart.append(max(t for _, t in results))
            await asyncio.sleep(0.5)
    only = winners.pop() if len(winners) == 1 else f"{min(winners)}-{max(winners)}"
    return only, statistics.median(slowest) * 1000, statistics.median(lone) * 1000, statistics.median(apart) * 1000


async def churn(stack: Stack, tokens: dict[str, list[str]]) -> tuple[float, int]:
    """(create+accept+end cycles per second, 5xx answers) for CHURN_PAIRS customer/mitra pairs."""
    pairs = list(zip(tokens["customers"][-CHURN_PAIRS:], tokens["mitras"][-CHURN_PAIRS:], strict=True))
    cycles, server_errors = 0, 0
    deadline = time.perf_counter() + SECONDS * 2
    limits = httpx.Limits(max_connections=2 * CHURN_PAIRS)
    async with httpx.AsyncClient(base_url=stack.url, limits=limits, timeout=60) as client:

        async def pair(customer: str, mitra: str) -> None:
            nonlocal cycles, server_errors
            while time.perf_counter() < deadline:
                created = await client.post(
                    "/api/customer/chat-requests/", json={"duration_minutes": 30}, headers=_auth(customer)
                )
                server_errors += created.status_code >= 500
                if created.status_code != 201:
                    continue
                session_id = created.json()["session_id"]
                accepted = await client.post(f"/api/mitra/chat-requests/{session_id}/accept/", headers=_auth(mitra))
                server_errors += accepted.status_code >= 500
                if accepted.status_code != 200:  # another pair's mitra took it: it ends there
                    continue
                ended = await client.post(
                    f"/api/mitra/chat-requests/sessions/{session_id}/end/",
                    json={"reason_code": "customer_left"},
                    headers=_auth(mitra),
                )
                server_errors += ended.status_code >= 500
                cycles += ended.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(pair(c, m) for c, m in pairs))
        return cycles / (time.perf_counter() - started), server_errors


def run(processes: int) -> dict[str, float]:
    with Stack(extra_env={"WEB_CONCURRENCY": str(processes), "BENCH_ROUTES": "1"}) as stack:
        stack.manage("appconfig", "early_end_mitra_enabled=true", "early_end_mitra_daily_cap=1000")
        customers = 5 + STORM_ROUNDS + STORM_ROUNDS * STORM + CHURN_PAIRS
        tokens = make_accounts(stack, STORM + CHURN_PAIRS, customers, f"http{processes}")
        me = asyncio.run(throughput(f"{stack.url}/api/mitra/me/", tokens["mitras"][0]))
        bare = asyncio.run(throughput(f"{stack.url}/bench/three-queries/", tokens["mitras"][0]))
        winners, slowest, lone, apart = asyncio.run(accept_storm(stack, tokens))
        cycles, errors = asyncio.run(churn(stack, tokens))
    return {"me": me, "bare": bare, "winners": winners, "slowest": slowest, "lone": lone, "apart": apart,
            "cycles": cycles, "errors": errors}  # fmt: skip


def main() -> None:
    cores = web_concurrency()  # what `make run` starts: WEB_CONCURRENCY, or its default
    runs = {1: run(1)}
    if cores > 1:
        runs[cores] = run(cores)
    print(f"HTTP on the running stack ({CONCURRENCY} concurrent clients, {SECONDS} s each), by web processes:")
    print(f"{'procs':>5} | {'me/ req/s':>9} {'bare req/s':>10} {'me/bare':>7} | {'storm winners':>13} "
          f"{'median slowest':>14} {'lone ms':>7} {'ratio':>6} {'50 apart':>8} | "
          f"{'cycles/s':>8} {'5xx':>4}")  # fmt: skip
    for procs, r in runs.items():
        print(f"{procs:>5} | {r['me']:>9.0f} {r['bare']:>10.0f} {r['me'] / r['bare']:>6.2f}x | {r['winners']:>13} "
              f"{r['slowest']:>14.0f} {r['lone']:>7.0f} {r['slowest'] / r['lone']:>5.1f}x {r['apart']:>8.0f} | "
              f"{r['cycles']:>8.1f} "
              f"{r['errors']:>4}")  # fmt: skip
    print("(50 apart: the slowest of 50 accepts at once of 50 different requests, ms: the storm's concurrency")
    print(" without its one contended row)")
    if cores > 1:
        print(f"me/ scaling, {cores} processes vs 1: {runs[cores]['me'] / runs[1]['me']:.2f}x "
              f"(target: scales with cores); bare view: {runs[cores]['bare'] / runs[1]['bare']:.2f}x")  # fmt: skip
