"""Capacity: how many requests a second the stack fans out, paced, against a bare broadcast.

N mitras hold real WebSockets to the running stack (every web process). At each rate of
the ladder, for STEP_SECONDS, a customer creates a request every 1/rate seconds (each a
customer of its own, not waiting for the previous one), and cancels it once every socket
has the offer: two fan-outs per request, as in production where most offers end by a
taker or a cancel. Each offer is timed from its create call's start, each withdrawal
from its cancel call's start, to the frame's arrival at the socket.

Beside it, in the same run and alternately step by step, a bare `websockets` server
(bench/floor_server.py) broadcasts the same frames to N clients of the same client
process, at the same pace: the floor of this machine. A side holds a rate when its p99
is at most HOLD_P99 and no frame is missing MISSING_AFTER seconds after its trigger; the
ladder stops at each side's first rate that does not hold. Frames per second are counted
at each side's highest held rate: the goal is at least half the floor's.

Then, past capacity: OVERLOAD x the project's capacity for STEP_SECONDS, followed by
RECOVERY_SECONDS at half of it. Every offer must still arrive (p99 under 5 s, nothing
missing after 15 s), nothing may answer 5xx, a create the stack sheds must say so (503
`busy` with Retry-After), and the recovery's p99 must be back to the held rate's within
a minute.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.fanout import Floor, cpu_seconds, make_accounts, open_sockets, percentile, wait_until_quiet
from devtools.stack import Stack

STEP_SECONDS = 10.0
HOLD_P99 = 1.0
MISSING_AFTER = 10.0
GRACEFUL_P99 = 5.0
GRACEFUL_MISSING_AFTER = 15.0
OVERLOAD = 2.0
RECOVERY_SECONDS = 60.0
LADDER = [1, 2, 3, 5, 7, 10, 14, 20, 28, 40, 56, 80]
NEW, WITHDRAWN = "chat_request.new", "chat_request.cancelled"


def frame_key(text: str) -> str | None:
    """`type:session_id` of a frame, read without decoding the whole frame: the client
    reads tens of thousands a second, on the same two cores as the stack."""
    if not text.startswith('{"type":"'):
        return None
    kind = text[9 : text.index('"', 9)]
    at = text.find('"session_id":"')
    if at < 0:
        return None
    return f"{kind}:{text[at + 14 : at + 50]}"


class Sockets:
    """N sockets, each recording the arrival time of every keyed frame: one list of
    arrival times per key, shared by all sockets."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.sample = ""  # the first offer frame, for the floor to broadcast (same size and shape)
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []

    async def open(self, urls: list[str], first_frame: bool) -> None:
        self.sockets.extend(await open_sockets(urls, first_frame))
        self.tasks = [asyncio.create_task(self._read(ws)) for ws in self.sockets]

    async def _read(self, ws) -> None:
        arrivals = self.arrivals
        async for text in ws:
            key = frame_key(text)
            if key is not None:
                arrivals.setdefault(key, []).append(time.perf_counter())
                if not self.sample and key.startswith(NEW):
                    self.sample = text

    def count(self, key: str) -> int:
        return len(self.arrivals.get(key, ()))

    async def all_have(self, key: str, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while self.count(key) < len(self.sockets):
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


@dataclass
class Step:
    """One side at one rate: every frame's latency, and what went wrong."""

    side: str
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    expected: int = 0
    missing: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    retry_after: list[str] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)  # the create calls' own durations
    # (seconds since the step's start, latency) of each offer, for the recovery's curve
    offers: list[tuple[float, float]] = field(default_factory=list)
    # (seconds since the step's start, offers missing) of each request with some missing
    offers_missing: list[tuple[float, int]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds the step cost, by process kind

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)

    @property
    def shed(self) -> int:
        return self.statuses.get(503, 0)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else 0.0

    @property
    def frames_per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def holds(self) -> bool:
        return bool(self.latencies) and self.p(99) <= HOLD_P99 and self.missing == 0 and not self.server_errors

    def cpu_per_frame(self) -> str:
        """Microseconds of CPU per delivered frame, by process kind (the processes that exist)."""
        frames = max(1, len(self.latencies))
        return " ".join(f"{kind} {seconds / frames * 1e6:.0f}" for kind, seconds in self.cpu.items() if seconds > 0)

    def extra(self) -> str:
        cpu = f" | CPU us/frame: {self.cpu_per_frame()}" if self.cpu else ""
        if not self.calls:
            return cpu
        calls = f" | create p50 {percentile(self.calls, 50) * 1000:.0f} p99 {percentile(self.calls, 99) * 1000:.0f} ms"
        return calls + cpu

    def row(self) -> str:
        codes = " ".join(f"{status}x{n}" for status, n in sorted(self.statuses.items()))
        return (
            f"{self.side:>7} {self.rate:>6g}/s | p50 {self.p(50) * 1000:>7.0f} p99 {self.p(99) * 1000:>7.0f} "
            f"max {max(self.latencies, default=0) * 1000:>7.0f} ms | missing {self.missing:>6} of {self.expected:>7} "
            f"| {self.frames_per_second:>8.0f} frames/s | {codes}{self.extra()}"
        )


class ProjectSide:
    def __init__(self, stack: Stack, sockets: Sockets, customers: list[str]) -> None:
        self.stack, self.sockets, self.customers = stack, sockets, customers
        self.base_url = stack.url
        self.used = 0

    async def one(self, http: httpx.AsyncClient, step: Step, step_started: float, missing_after: float) -> None:
        token = self.customers[self.used]
        self.used += 1
        headers = {"Authorization": f"Token {token}"}
        started = time.perf_counter()
        try:
            response = await http.post("/api/customer/chat-requests/", json={"duration_minutes": 30}, headers=headers)
        except httpx.HTTPError:
            step.statuses[0] = step.statuses.get(0, 0) + 1  # no answer at all: counted as a failure
            return
        step.statuses[response.status_code] = step.statuses.get(response.status_code, 0) + 1
        answered = time.perf_counter()
        step.calls.append(answered - started)
        if response.status_code == 503:
            step.retry_after.append(response.headers.get("Retry-After", ""))
            return
        if response.status_code != 201:
            return
        session_id = response.json()["session_id"]
        n = len(self.sockets.sockets)
        step.expected += n
        key = f"{NEW}:{session_id}"
        await self.sockets.all_have(key, missing_after)
        arrivals = self.sockets.arrivals.get(key, [])
        step.missing += n - len(arrivals)
        if len(arrivals) < n:
            step.offers_missing.append((started - step_started, n - len(arrivals)))
        latencies = [t - started for t in arrivals]
        step.latencies.extend(latencies)
        step.offers.extend((started - step_started, latency) for latency in latencies)
        cancelled = time.perf_counter()
        response = await http.post(f"/api/customer/chat-requests/{session_id}/cancel/", headers=headers)
        step.statuses[response.status_code] = step.statuses.get(response.status_code, 0) + 1
        if response.status_code != 200:
            return
        step.expected += n
        key = f"{WITHDRAWN}:{session_id}"
        await self.sockets.all_have(key, missing_after)
        arrivals = self.sockets.arrivals.get(key, [])
        step.missing += n - len(arrivals)
        step.latencies.extend(t - cancelled for t in arrivals)


class FloorSide:
    def __init__(self, floor: Floor, sample: str) -> None:
        self.floor, self.sample = floor, sample
        self.base_url = "http://127.0.0.1"  # no HTTP: the trigger is the control socket
        self.sent = 0
        start = sample.index('"session_id":"') + 14
        self.before, self.after = sample[:start], sample[start + 36 :]

    async def one(self, http: httpx.AsyncClient, step: Step, step_started: float, missing_after: float) -> None:
        self.sent += 1
        marker = f"floor-{step.rate:g}-{self.sent:024d}"[-36:].rjust(36, "0")
        sockets: Sockets = self.floor.listener  # type: ignore[assignment]
        n = len(sockets.sockets)
        for kind in (NEW, WITHDRAWN):
            text = self.before.replace(NEW, kind, 1) + marker + self.after
            started = time.perf_counter()
            await self.floor.control.send(text)
            step.expected += n
            key = f"{kind}:{marker}"
            await sockets.all_have(key, missing_after)
            arrivals = sockets.arrivals.get(key, [])
            step.missing += n - len(arrivals)
            step.latencies.extend(t - started for t in arrivals)
            if kind == NEW:
                step.offers.extend((started - step_started, t - started) for t in arrivals)


def process_kinds(stack: Stack | None) -> dict[str, list[int]]:
    """The processes whose CPU a step costs: the stack's (web, workers) and the services'."""
    kinds: dict[str, list[int]] = {"web": [], "workers": [], "postgres": [], "redis": [], "floor": []}
    if stack is not None:
        for pid, command in stack.processes().items():
            kinds["web" if "daphne" in command else "workers"].append(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if name == "postgres":
                kinds["postgres"].append(int(entry.name))
            elif name.startswith("redis-server"):
                kinds["redis"].append(int(entry.name))
            elif b"bench.floor_server" in command:
                kinds["floor"].append(int(entry.name))
    return kinds


async def paced(side, side_name: str, rate: float, seconds: float, missing_after: float = MISSING_AFTER) -> Step:
    """One request every 1/rate seconds for `seconds`, each on its own, then wait for all."""
    step = Step(side_name, rate, seconds)
    kinds = process_kinds(getattr(side, "stack", None))
    before = {kind: cpu_seconds(pids) for kind, pids in kinds.items()}
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=side.base_url, timeout=30, limits=limits) as http:
        started = time.perf_counter()
        tasks = []
        for i in range(round(rate * seconds)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(side.one(http, step, started, missing_after)))
        await asyncio.gather(*tasks)
    step.cpu = {kind: cpu_seconds(pids) - before[kind] for kind, pids in kinds.items()}
    return step


class FloorSockets(Floor):
    """The bare server, its N clients recorded the way the stack's are."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.listener = Sockets()  # type: ignore[assignment]


def quiet(stack: Stack) -> None:
    wait_until_quiet(list(stack.processes()), timeout=60)


async def measure(stack: Stack, n: int, ladder: list[float], overload: bool) -> list[Step]:
    customers_needed = round(sum(r * STEP_SECONDS for r in ladder) * (1 + OVERLOAD) + 200 * RECOVERY_SECONDS)
    tokens = make_accounts(stack, n, customers_needed, f"cap{n}")
    sockets = Sockets()
    await sockets.open([f"{stack.ws_url}/ws/mitra/?token={t}" for t in tokens["mitras"]], first_frame=True)
    project = ProjectSide(stack, sockets, tokens["customers"])
    # One request to learn the frame's shape (and warm every process).
    warm = await paced(project, "warm-up", 1, 1)
    if warm.missing:
        raise RuntimeError("the warm-up request did not reach every socket")
    steps: list[Step] = []
    held = {"project": 0.0, "floor": 0.0}
    going = {"project": True, "floor": True}
    try:
        async with FloorSockets(n) as floor:
            floor_side = FloorSide(floor, sockets.sample)
            for rate in ladder:
                for name, side in (("project", project), ("floor", floor_side)):
                    if not going[name]:
                        continue
                    quiet(stack)
                    step = await paced(side, name, rate, STEP_SECONDS)
                    steps.append(step)
                    print(step.row(), flush=True)
                    if step.holds():
                        held[name] = rate
                    else:
                        going[name] = False
                if not any(going.values()):
                    break
            if overload and held["project"]:
                quiet(stack)
                burst = await paced(project, "burst", held["project"] * OVERLOAD, STEP_SECONDS, GRACEFUL_MISSING_AFTER)
                steps.append(burst)
                print(burst.row(), flush=True)
                recovery = await paced(project, "after", max(1, held["project"] / 2), RECOVERY_SECONDS)
                steps.append(recovery)
                print(recovery.row(), flush=True)
    finally:
        await sockets.close()
    return steps


def recovered_after(recovery: Step, window: float = 10.0) -> float | None:
    """Seconds from the burst's end to the first window of the recovery whose offers hold
    again: p99 within HOLD_P99 and none missing (None: not within the recovery)."""
    windows: dict[int, list[float]] = {}
    for at, latency in recovery.offers:
        windows.setdefault(int(at // window), []).append(latency)
    missing = {int(at // window) for at, _ in recovery.offers_missing}
    for index in sorted(windows):
        if index not in missing and percentile(windows[index], 99) <= HOLD_P99:
            return index * window
    return None


def main(sizes: list[int], ladder: list[float] | None = None, overload: bool = True) -> None:
    ladder = ladder or LADDER
    print(f"Capacity: requests created at a paced rate for {STEP_SECONDS:g} s a step, each cancelled once every")
    print("socket has it (two fan-outs a request), against a bare broadcast of the same frames at the same pace")
    results = []
    with Stack() as stack:
        for n in sizes:
            quiet(stack)
            print(f"-- {n} mitras", flush=True)
            steps = asyncio.run(measure(stack, n, ladder, overload))
            results.append((n, steps))
    print()
    print(f"{'mitras':>6} | {'project holds':>13} {'p99 ms':>7} {'frames/s':>9} | {'floor holds':>11} {'p99 ms':>7} "
          f"{'frames/s':>9} | {'ratio':>5} | burst: rate p99 ms, missing, 5xx, shed | recovered")  # fmt: skip
    for n, steps in results:
        best = {}
        for step in steps:
            if step.side in ("project", "floor") and step.holds():
                best[step.side] = step
        project, floor = best.get("project"), best.get("floor")
        ratio = project.frames_per_second / floor.frames_per_second if project and floor else 0.0
        burst = next((s for s in steps if s.side == "burst"), None)
        recovery = next((s for s in steps if s.side == "after"), None)
        burst_text = (
            f"{burst.rate:g}/s {burst.p(99) * 1000:.0f}, {burst.missing}, {burst.server_errors}, {burst.shed}"
            if burst else "-"
        )  # fmt: skip
        after = recovered_after(recovery) if recovery else None
        after_text = "-" if recovery is None else ("no" if after is None else f"within {after + 10:g} s")

        def cell(step: Step | None) -> str:
            if step is None:
                return f"{'none':>13} {'':>7} {'':>9}"
            return f"{step.rate:>11g}/s {step.p(99) * 1000:>7.0f} {step.frames_per_second:>9.0f}"

        print(f"{n:>6} | {cell(project)} | {cell(floor)[2:]} | {ratio:>4.2f}x | {burst_text} | {after_text}")
    print(f"(holds: p99 <= {HOLD_P99 * 1000:.0f} ms and no frame missing {MISSING_AFTER:g} s after its trigger; "
          f"burst: {OVERLOAD:g}x the held rate for {STEP_SECONDS:g} s, then half the held rate for "
          f"{RECOVERY_SECONDS:g} s; recovered: the first 10 s window of that whose p99 holds)")  # fmt: skip
