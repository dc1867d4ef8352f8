"""Helpers and factories every test shares: accounts with API clients, clock and config
helpers, sockets, threads released together, the seeded activity log. Test modules
import from here, never from each other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from appconfig.models import RuntimeConfig
from halobestie.asgi import application
from pairing.accounts.services import create_or_update_account
from pairing.models import ChatRequest, Offer

_names = itertools.count(1)


class Account:
    """A signed-in user of one role with its own API client."""

    def __init__(self, user):
        self.user = user
        self.token = user.auth_token.key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")

    @property
    def id(self) -> int:
        return self.user.id

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.client.post(path, data, format="json", **kwargs)

    def patch(self, path: str, data=None, **kwargs):
        return self.client.patch(path, data, format="json", **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete(path, **kwargs)


def make_account(role: str, name: str | None = None) -> Account:
    username = name or f"{role}{next(_names)}"
    user, _ = create_or_update_account(
        username=username, role=role, password="secret-pass-123", display_name=f"Display {username}"
    )
    return Account(user)


def set_config(**values) -> None:
    config = RuntimeConfig.load()
    for key, value in values.items():
        setattr(config, key, value)
    config.save()


def make_overdue(session_id) -> None:
    """Move a pending request's deadline into the past, as if its 60 seconds had run out."""
    ChatRequest.objects.filter(id=session_id).update(expires_at=timezone.now() - timedelta(seconds=1))


def create_request(customer: Account, minutes: int = 30) -> str:
    response = customer.post("/api/customer/chat-requests/", {"duration_minutes": minutes})
    assert response.status_code == 201, response.content
    return response.json()["session_id"]


requires_postgres = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="row locks need PostgreSQL (CI runs it)"
)


def add_users(count: int, prefix: str, role: str, *, available: bool = True) -> list[int]:
    """`count` active users of one role in one statement each (PostgreSQL's generate_series:
    making them one by one would take minutes), with a mitra's profile for mitras; their ids."""
    from pairing.accounts.models import MitraProfile, User

    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {User._meta.db_table} (password, is_superuser, username, first_name, last_name, email,"
            " is_staff, is_active, date_joined, role, display_name)"
            " SELECT '!', false, %s || n, '', '', '', false, true, %s, %s, %s || n"
            " FROM generate_series(1, %s) AS n RETURNING id",
            [prefix, now, role, f"Display {prefix}", count],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        if role == "mitra":
            cursor.execute(
                f"INSERT INTO {MitraProfile._meta.db_table} (user_id, is_available)"
                " SELECT id, %s FROM unnest(%s::int[]) AS id",
                [available, ids],
            )
    return ids


def run_together(*calls):
    """Run the calls in threads released at the same instant; return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- sockets (channels' in-process communicator over the real channel layer) ---

TIMEOUT = 3


async def ws(path: str, token: str | None = None, header: bool = False) -> WebsocketCommunicator:
    if token and header:
        comm = WebsocketCommunicator(application, path, headers=[(b"authorization", f"Token {token}".encode())])
    else:
        joiner = "&" if "?" in path else "?"
        comm = WebsocketCommunicator(application, f"{path}{joiner}token={token}" if token else path)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    return comm


async def mitra_socket(account) -> WebsocketCommunicator:
    comm = await ws("/ws/mitra/", account.token)
    hello = await comm.receive_json_from(TIMEOUT)
    assert hello["type"] == "hello"
    return comm


async def customer_socket(account) -> WebsocketCommunicator:
    comm = await ws("/ws/customer/", account.token)
    hello = await comm.receive_json_from(TIMEOUT)
    assert hello["type"] == "hello" and hello["data"] == {}
    return comm


async def next_frame(comm: WebsocketCommunicator, event: str | None = None) -> dict:
    frame = await comm.receive_json_from(TIMEOUT)
    if event is not None:
        assert frame["type"] == event, frame
    return frame


async def assert_silent(comm: WebsocketCommunicator) -> None:
    assert await comm.receive_nothing(timeout=0.3)


def account(role: str):
    return sync_to_async(make_account)(role)


call = sync_to_async


async def closed_with(comm: WebsocketCommunicator) -> int:
    output = await comm.receive_output(TIMEOUT)
    assert output["type"] == "websocket.close"
    return output["code"]


class LivePage:
    """What the live page shows, from the frames of its staff socket, merged as
    static/control_center/live.js merges them: the whole state on connect, then updates
    with only what changed."""

    GROUPS = ("in_session", "available", "switched_off", "offline")

    def __init__(self, comm: WebsocketCommunicator):
        self.comm = comm
        self.state: dict = {}
        self.mitras: dict[int, dict] = {}
        self.board: dict[int, dict] = {}
        self.frames: list[dict] = []  # as received, with their size in bytes

    async def next(self, timeout: float = TIMEOUT) -> dict:
        """Wait for the next frame, merge it, and return it."""
        output = await self.comm.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        frame = json.loads(output["text"])
        frame["bytes"] = len(output["text"].encode())
        self.frames.append(frame)
        data = frame["data"]
        if frame["type"] == "snapshot":
            self.state = data
            self.mitras = {m["id"]: {**m, "group": g} for g in self.GROUPS for m in data["mitras"][g]}
            self.board = {row["id"]: row for row in data["board"]}
        else:
            assert frame["type"] == "update" and self.state, frame
            self.state |= {key: value for key, value in data.items() if key not in ("mitras", "board")}
            for mitra_id in data.get("mitras", {}).get("removed", []):
                del self.mitras[mitra_id]
            for mitra in data.get("mitras", {}).get("changed", []):
                self.mitras[mitra["id"]] = mitra
            for mitra_id in data.get("board", {}).get("removed", []):
                del self.board[mitra_id]
            for row in data.get("board", {}).get("changed", []):
                self.board[row["id"]] = {**self.board.get(row["id"], {}), **row}
        return frame

    def group_of(self, mitra_id: int) -> str | None:
        return self.mitras.get(mitra_id, {}).get("group")

    def group(self, name: str) -> list[str]:
        return sorted(m["name"] for m in self.mitras.values() if m["group"] == name)

    async def until(self, check, timeout: float = TIMEOUT) -> list[dict]:
        """Merge frames until `check()` holds; returns the frames it took."""
        taken = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            taken.append(await self.next(max(0.01, deadline - loop.time())))
        return taken


# --- the seeded activity log ---

JKT = ZoneInfo("Asia/Jakarta")


def at(text: str, tz=JKT) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


# (mitra, notified_at in Jakarta, response, response time, active sessions)
SEED = [
    ("ayu", "2026-11-10 09:00", "accepted", 4.0, 0),
    ("ayu", "2026-11-10 12:00", "rejected", 10.0, 1),
    ("ayu", "2026-11-10 23:30", "ignored", None, 2),  # 16:30 UTC on the 10th
    ("ayu", "2026-11-11 00:30", "accepted", 2.0, 3),  # 17:30 UTC on the 10th: the 11th in Jakarta
    ("ayu", "2026-11-11 07:30", "missed", None, 0),  # 00:30 UTC on the 11th
    ("budi", "2026-11-10 10:00", "missed", None, 0),
    ("budi", "2026-11-10 23:59", "cancelled", None, 1),
    ("budi", "2026-11-11 00:00", "rejected", 6.0, 1),
    ("budi", "2026-11-12 08:00", "ignored", None, 0),
    ("citra", "2026-11-11 11:00", "accepted", 1.5, 2),
    ("citra", "2026-11-09 23:00", "accepted", 3.0, 0),  # before the range
]


def seed_activity_log() -> dict[str, Account]:
    """Four mitras and the SEED log rows (ayu, budi, citra; dewi idle)."""
    mitras = {name: make_account("mitra", name) for name in ("ayu", "budi", "citra", "dewi")}
    customer = make_account("customer")
    for name, when, response, seconds, active in SEED:
        notified = at(when)
        session = ChatRequest.objects.create(
            id=uuid.uuid4(), customer=customer.user, duration_minutes=30, status="expired",
            requested_at=notified, expires_at=notified + timedelta(seconds=60),
        )  # fmt: skip
        Offer.objects.create(
            session=session, mitra=mitras[name].user, notified_at=notified, active_session_count=active,
            response=response, response_time_seconds=seconds,
            responded_at=notified + timedelta(seconds=seconds) if seconds is not None else None,
        )  # fmt: skip
    return mitras
