"""No input of any shape produces a 5xx, and every 4xx has the contract's error shape.

Also every endpoint against no token, a bad token, the wrong role and another
user's resource.
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from pairing.models import ChatRequest, Offer
from tests.support import create_request, set_config

SID = "{sid}"
# (method, path, role that may call it, a valid body)
ENDPOINTS = [
    ("get", "/api/mitra/me/", "mitra", None),
    ("patch", "/api/mitra/me/", "mitra", {"is_available": True}),
    ("post", "/api/customer/chat-requests/", "customer", {"duration_minutes": 30}),
    ("get", f"/api/customer/chat-requests/{SID}/", "customer", None),
    ("post", f"/api/customer/chat-requests/{SID}/cancel/", "customer", None),
    ("get", "/api/mitra/chat-requests/pending/", "mitra", None),
    ("get", "/api/mitra/chat-requests/history/", "mitra", None),
    ("get", f"/api/mitra/chat-requests/{SID}/status/", "mitra", None),
    ("post", f"/api/mitra/chat-requests/{SID}/accept/", "mitra", None),
    ("post", f"/api/mitra/chat-requests/{SID}/decline/", "mitra", None),
    ("get", "/api/mitra/chat-requests/sessions/", "mitra", None),
    ("post", f"/api/mitra/chat-requests/sessions/{SID}/end/", "mitra", {"reason_code": "customer_left"}),
    ("get", "/api/shared/config/", "any", None),
    ("post", "/api/devices/", "any", {"token": "tok", "platform": "android"}),
    ("delete", "/api/devices/tok-x/", "any", None),
]

MALFORMED_BODIES = [
    b"{",
    b"[]",
    b"null",
    b"123",
    b'"text"',
    b"\xff\xfe\x00garbage",
    b'{"duration_minutes": "30"}',
    b'{"duration_minutes": 30.5}',
    b'{"duration_minutes": true}',
    b'{"duration_minutes": 1e400}',
    b'{"duration_minutes": 1000000000000000000000000000000}',
    b'{"duration_minutes": -5}',
    b'{"duration_minutes": 4}',
    b'{"duration_minutes": 181}',
    b'{"duration_minutes": null}',
    b'{"duration_minutes": {"a": 1}}',
    b'{"duration_minutes": [30]}',
    b'{"is_available": "\\u0000"}',
    b'{"reason_code": "other", "reason_note": "\\u0000"}',
    b'{"reason_code": ["other"], "reason_note": {"a": 1}}',
    b'{"is_available": [true]}',
    b'{"token": "a\\u0000b", "platform": "android"}',
    b'{"token": "' + b"x" * 5000 + b'", "platform": "android"}',
    b'{"token": 42, "platform": ["android"]}',
    b'{"username": "a\\u0000", "password": "b\\u0000"}',
    b'{"username": {"$ne": 1}, "password": []}',
    b'{"username": "' + b"u" * 10000 + b'", "password": "p"}',
    b"{}",
    b'{"a": ' * 200 + b"1" + b"}" * 200,
]


def assert_error_shape(response, status=None):
    assert response.status_code < 500, response.content
    if status is not None:
        assert response.status_code == status, response.content
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        return error
    return None


@pytest.fixture
def accounts(customer, make_mitra, make_customer, staff):
    set_config(early_end_mitra_enabled=True)  # so end/ validates its body instead of answering 403
    mitra = make_mitra()
    session_id = create_request(customer)
    return {"customer": customer, "mitra": mitra, "staff": staff, "other_customer": make_customer(), "sid": session_id}


def _call(client, method, path, body=None, content_type="application/json", **extra):
    kwargs = {"content_type": content_type, **extra}
    if body is not None:
        kwargs["data"] = body
    return getattr(client, method)(path, **kwargs)


@pytest.mark.parametrize(("method", "path", "role", "body"), ENDPOINTS)
def test_every_endpoint_refuses_missing_and_bad_tokens(accounts, method, path, role, body):
    path = path.format(sid=accounts["sid"])
    anon = APIClient()
    error = assert_error_shape(_call(anon, method, path), 401)
    assert error["code"] == "not_authenticated"
    for header in ("Token " + "0" * 40, "Token abc", "Token a b", "Token \u00e9\u00e9", "Token " + "f" * 41):
        error = assert_error_shape(_call(anon, method, path, HTTP_AUTHORIZATION=header), 401)
        assert error["code"] == "invalid_token"


@pytest.mark.parametrize(("method", "path", "role", "body"), [e for e in ENDPOINTS if e[2] != "any"])
def test_every_endpoint_refuses_the_wrong_role(accounts, method, path, role, body):
    path = path.format(sid=accounts["sid"])
    wrong = {"mitra": ["customer", "staff"], "customer": ["mitra", "staff"]}[role]
    for name in wrong:
        response = _call(accounts[name].client, method, path, body)
        error = assert_error_shape(response, 403)
        assert error["code"] == "wrong_role"


def test_another_users_resources_are_404(accounts, make_mitra):
    sid = accounts["sid"]
    other = accounts["other_customer"]
    for method, path in [
        ("get", f"/api/customer/chat-requests/{sid}/"),
        ("post", f"/api/customer/chat-requests/{sid}/cancel/"),
    ]:
        assert assert_error_shape(_call(other.client, method, path), 404)["code"] == "not_found"
    # A mitra created after the fan-out was never notified of the request.
    late_mitra = make_mitra()
    for action in ("status/", "accept/", "decline/"):
        method = "get" if action == "status/" else "post"
        response = _call(late_mitra.client, method, f"/api/mitra/chat-requests/{sid}/{action}")
        assert assert_error_shape(response, 404)["code"] == "not_found"
    # Unknown ids look the same as other people's.
    unknown = uuid.uuid4()
    assert assert_error_shape(other.get(f"/api/customer/chat-requests/{unknown}/"), 404)["code"] == "not_found"
    assert ChatRequest.objects.get(id=sid).status == "pending"
    assert not Offer.objects.filter(session_id=sid).exclude(response=None).exists()


@pytest.mark.parametrize(("method", "path", "role", "body"), [e for e in ENDPOINTS if e[0] in ("post", "patch")])
def test_malformed_bodies_never_5xx(accounts, method, path, role, body):
    path = path.format(sid=accounts["sid"])
    client = accounts["mitra" if role == "mitra" else "other_customer"].client
    sessions_before = ChatRequest.objects.count()
    for raw in MALFORMED_BODIES:
        assert_error_shape(_call(client, method, path, raw))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        assert_error_shape(_call(client, method, path, b"duration_minutes=30", content_type=content_type))
    if path == "/api/customer/chat-requests/":
        assert ChatRequest.objects.count() == sessions_before  # nothing half-written


@pytest.mark.parametrize("raw", MALFORMED_BODIES)
def test_malformed_login_bodies_are_400(db, raw):
    response = _call(APIClient(), "post", "/api/auth/token/", raw)
    assert_error_shape(response, 400)


def test_invalid_create_names_the_field(customer):
    for raw in (b'{"duration_minutes": "30"}', b'{"duration_minutes": 4}', b"{}", b'{"duration_minutes": true}'):
        error = assert_error_shape(_call(customer.client, "post", "/api/customer/chat-requests/", raw), 400)
        assert error["code"] == "invalid"
        assert list(error["fields"]) == ["duration_minutes"]
    error = assert_error_shape(_call(customer.client, "post", "/api/customer/chat-requests/", b"{"), 400)
    assert error["code"] == "invalid" and error["fields"]


BAD_PATHS = [
    "/api/customer/chat-requests/not-a-uuid/",
    "/api/customer/chat-requests/123/cancel/",
    "/api/mitra/chat-requests/%00/status/",
    "/api/mitra/chat-requests/" + "a" * 5000 + "/accept/",
    "/api/mitra/chat-requests/\u00fc\u00f1\u00ee/decline/",
    "/api/devices/%00/",
    "/api/devices/" + "t" * 3000 + "/",
    "/api/nothing-here/",
    "/api/mitra/chat-requests/",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_malformed_paths_are_4xx_in_shape(accounts, path):
    for account in (accounts["customer"], accounts["mitra"]):
        for method in ("get", "post", "delete", "put"):
            assert_error_shape(_call(account.client, method, path))


def test_wrong_method_is_405_in_shape(accounts):
    error = assert_error_shape(accounts["customer"].client.put("/api/customer/chat-requests/"), 405)
    assert error["code"] == "method_not_allowed"
