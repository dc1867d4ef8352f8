"""Logs a machine can read: one JSON object per line when LOG_FORMAT=json (plain text is
the default), each with the request id and the user id of the request (or Celery task) it
was written for.

The request id comes from the client's X-Request-ID (when it looks like one) or is made
here; it goes back in the response's X-Request-ID, and with every task the request queues
(a Celery message header), so a push sent for a request logs under the request's id.

python-json-logger formats the standard library's records: every existing
`logger.info(...)` stays as it is, and a record's `extra` fields become JSON fields.
Nothing here logs a request's headers, body or query string; daphne's access log, which
writes paths, masks the values of secret-bearing parameters (common.daphne_server).
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
import uuid
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from pythonjsonlogger.json import JsonFormatter

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it is short and plain: it is written into every log line.
GIVEN_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
_request: contextvars.ContextVar[Any] = contextvars.ContextVar("request", default=None)
_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("task", default=None)


def json_logs() -> bool:
    return os.environ.get("LOG_FORMAT", "text").strip().lower() == "json"


def current_user_id() -> int | None:
    """The user of the request being served, once something authenticated it. Never reads
    the session or the token for it: a log line must not query the database."""
    given = _user_id.get()
    if given is not None:
        return given
    request = _request.get()
    if request is None:
        return None
    user = vars(request).get("user")  # DRF sets it once its authentication ran
    user = vars(user).get("_wrapped", user) if user is not None else None  # an evaluated SimpleLazyObject
    user_id = getattr(user, "pk", None)
    return user_id if isinstance(user_id, int) else None


class RequestContext(logging.Filter):
    """Adds request_id, user_id (and a task's name and id) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.user_id = current_user_id()
        task = _task.get()
        record.task, record.task_id = task if task else (None, None)
        return True


class Formatter(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the process,
    the request context, then any `extra` fields; an exception as its traceback's text."""

    CONTEXT = ("request_id", "user_id", "task", "task_id")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("{levelname}{name}{message}{process}", *args, style="{", **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key in self.CONTEXT:  # absent rather than null: a beat line has no request
            if log_data.get(key) is None:
                log_data.pop(key, None)
        return log_data


class TextFormatter(logging.Formatter):
    """The plain text of `make run` (the message), with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{text} [request {rid}]" if rid else text


def logging_config(level: str) -> dict[str, Any]:
    """settings.LOGGING: JSON lines when LOG_FORMAT=json, plain text otherwise."""
    logging.captureWarnings(json_logs())  # a warning is a record (py.warnings), not a bare stderr line
    formatter = {"()": Formatter} if json_logs() else {"()": TextFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": RequestContext}},
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.request": {"level": "ERROR"},
            "django.channels.server": {"level": "WARNING"},
            "celery": {"level": "WARNING"},  # a task's start and end: the metrics count them
        },
    }


# -- requests -------------------------------------------------------------------------------


def _request_id_for(request: Any) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if GIVEN_REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """First in MIDDLEWARE: the request id (in the logs, the response and queued tasks) and
    the HTTP metrics (by view, method and status, with latency). Sync and async, so it
    adds no thread switch on daphne's async path."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        tokens, started = self._enter(request)
        try:
            response = self.get_response(request)
        finally:
            self._exit(tokens)
        return self._done(request, response, started)

    async def _acall(self, request):
        tokens, started = self._enter(request)
        try:
            response = await self.get_response(request)
        finally:
            self._exit(tokens)
        return self._done(request, response, started)

    @staticmethod
    def _enter(request) -> tuple[list, float]:
        rid = _request_id_for(request)
        request.request_id = rid
        return [(request_id, request_id.set(rid)), (_request, _request.set(request))], time.perf_counter()

    @staticmethod
    def _exit(tokens: list) -> None:
        for var, token in reversed(tokens):
            var.reset(token)

    @staticmethod
    def _done(request, response, started: float):
        metrics.observe_request(request, response.status_code, time.perf_counter() - started)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


# -- Celery ---------------------------------------------------------------------------------


def _tag_task_message(headers: dict | None = None, **_: Any) -> None:
    """before_task_publish: a task queued while serving a request carries its ids."""
    if headers is None:
        return
    rid, uid = request_id.get(), current_user_id()
    if rid:
        headers["request_id"] = rid
    if uid is not None:
        headers["user_id"] = uid


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """task_prerun: the task's logs carry the ids of the request that queued it."""
    if task is None:
        return
    given = getattr(task.request, "request_id", None)
    uid = getattr(task.request, "user_id", None)
    task.request._log_tokens = [
        (_task, _task.set((task.name, task_id or ""))),
        (request_id, request_id.set(given if isinstance(given, str) else request_id.get())),
        (_user_id, _user_id.set(uid if isinstance(uid, int) else _user_id.get())),
    ]


tasks_log = logging.getLogger("halobestie.tasks")


def _task_finished(task: Any = None, state: str | None = None, **_: Any) -> None:
    """task_postrun: a task a request queued says it ran, under the request's ids (the
    sweep and the relay, queued by beat, run too often to log)."""
    if request_id.get() and getattr(task.request, "request_id", None):
        tasks_log.info("task %s %s", task.name, (state or "done").lower(), extra={"state": state})
    tokens = getattr(getattr(task, "request", None), "_log_tokens", None)
    if tokens:
        for var, token in reversed(tokens):
            try:
                var.reset(token)
            except ValueError:  # set in another context (an eager task's own): nothing to undo
                var.set(None)


def connect_celery() -> None:
    """Carry the request id into tasks, and log tasks under it."""
    from celery import signals

    signals.before_task_publish.connect(_tag_task_message, weak=False, dispatch_uid="logs.tag_task_message")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="logs.task_started")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="logs.task_finished")
