"""Logs a machine can read (common/logs.py): one JSON object a line with LOG_FORMAT=json,
the request's id and user id on every line written while serving it, the id carried in a
queued task's message, and daphne's access log as JSON with secrets still masked."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from common import logs
from common.thirdparty.daphne_access_log import JsonMaskedAccessLog


@pytest.fixture
def json_lines(monkeypatch):
    """A logger writing what settings.LOGGING writes with LOG_FORMAT=json, into a buffer."""
    monkeypatch.setenv("LOG_FORMAT", "json")
    config = logs.logging_config("INFO")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(config["formatters"]["default"]["()"]())
    handler.addFilter(config["filters"]["context"]["()"]())
    logger = logging.getLogger("tests.ops.json")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logging.captureWarnings(False)


def test_json_lines_carry_the_request_id_and_the_user_once_authenticated(json_lines, make_customer):
    logger, lines = json_lines
    customer = make_customer()

    def view(request):
        logger.info("before authentication")
        request.user = customer.user  # what DRF does to the request once a token authenticated it
        logger.warning("served %s", "it", extra={"session_id": "s-1"})
        return HttpResponse()

    response = logs.RequestContextMiddleware(view)(RequestFactory().get("/x", headers={"X-Request-ID": "abc-12345678"}))
    logger.info("after the request")
    before, served, after = lines()
    assert response["X-Request-ID"] == "abc-12345678"
    assert before["request_id"] == "abc-12345678" and "user_id" not in before
    assert served == {
        "level": "WARNING", "logger": "tests.ops.json", "message": "served it", "process": served["process"],
        "request_id": "abc-12345678", "user_id": customer.id, "session_id": "s-1", "time": served["time"],
    }  # fmt: skip
    assert "request_id" not in after and "user_id" not in after


def test_a_lazy_session_user_is_never_loaded_for_a_log_line(json_lines):
    logger, lines = json_lines
    loaded = []

    def view(request):
        from django.utils.functional import SimpleLazyObject

        request.user = SimpleLazyObject(lambda: loaded.append(1))
        logger.info("served")
        return HttpResponse()

    logs.RequestContextMiddleware(view)(RequestFactory().get("/x"))
    assert loaded == [] and "user_id" not in lines()[0]


def test_a_queued_task_carries_the_request_id_and_logs_under_it(json_lines, make_customer):
    logger, lines = json_lines
    customer = make_customer()
    headers: dict = {}

    def view(request):
        request.user = customer.user
        logs._tag_task_message(headers=headers)  # Celery's before_task_publish, as the request queues a task
        return HttpResponse()

    logs.RequestContextMiddleware(view)(RequestFactory().get("/x", headers={"X-Request-ID": "queued-12345678"}))
    assert headers == {"request_id": "queued-12345678", "user_id": customer.id}

    class Task:  # the worker's side: the message's headers are the task's request attributes
        name = "pairing.tasks.push_new_request"

        class request:
            request_id, user_id = headers["request_id"], headers["user_id"]

    logs._task_started(task_id="t-1", task=Task)
    logger.info("sending")
    logs._task_finished(task=Task, state="SUCCESS")
    logger.info("between tasks")
    sending, between = lines()
    assert (sending["request_id"], sending["user_id"], sending["task"], sending["task_id"]) == (
        "queued-12345678", customer.id, "pairing.tasks.push_new_request", "t-1"
    )  # fmt: skip
    assert "request_id" not in between and "task" not in between


def test_the_access_log_is_json_with_secrets_masked(json_lines, monkeypatch, caplog):
    monkeypatch.setenv("LOG_FORMAT", "json")
    access_log = JsonMaskedAccessLog(None)
    with caplog.at_level(logging.INFO, logger="daphne.access"):
        access_log("http", "complete", {"client": "10.0.0.1:5", "method": "GET", "status": 200, "size": 12,
                                        "path": "/api/events/?since=3&token=abcdef0123"})  # fmt: skip
    (record,) = caplog.records
    assert record.getMessage() == "GET /api/events/?since=3&token=*** 200"
    assert (record.client, record.status, record.bytes) == ("10.0.0.1:5", 200, 12)


def test_plain_text_stays_the_default(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert not logs.json_logs()
    formatter = logs.logging_config("INFO")["formatters"]["default"]["()"]()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    record.request_id = None
    assert formatter.format(record) == "plain text"
    record.request_id = "r-12345678"
    assert formatter.format(record) == "plain text [request r-12345678]"
