"""The API docs work offline, static files are served, and beat runs the sweep."""

from __future__ import annotations

import re

from django.conf import settings

from pairing.models import ChatRequest
from pairing.tasks import sweep
from tests.support import create_request, make_overdue


def test_openapi_schema_lists_the_contract_paths(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/auth/token/",
        "/api/customer/chat-requests/",
        "/api/customer/chat-requests/{session_id}/cancel/",
        "/api/mitra/chat-requests/{session_id}/accept/",
        "/api/mitra/chat-requests/pending/",
        "/api/shared/config/",
        "/api/devices/{token}/",
        "/api/mitra/chat-requests/sessions/",
        "/api/mitra/chat-requests/sessions/{session_id}/end/",
        "/api/control-center/mitra-activity/",
    ):
        assert path in paths


def test_schema_builds_without_warnings(db, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_docs_page_and_its_assets_are_served_locally(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets, "the docs page should load Swagger UI from our own static files"
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset


def test_beat_runs_the_sweep_every_second():
    entry = settings.CELERY_BEAT_SCHEDULE["pairing-sweep"]
    assert entry["task"] == "pairing.tasks.sweep"
    assert entry["schedule"] <= 2


def test_sweep_task_expires_overdue_requests(customer, mitras):
    session_id = create_request(customer)
    make_overdue(session_id)
    assert sweep.apply().get() == 1
    assert ChatRequest.objects.get(id=session_id).status == "expired"
    assert sweep.apply().get() == 0


def test_unknown_api_path_is_json_404(client, db):
    response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_root_and_the_admins_view_site_lead_to_the_control_center(client, db, staff):
    root = client.get("/")
    assert root.status_code == 302 and root["Location"] == "/control-center/"
    client.force_login(staff.user)
    admin = client.get("/admin/").content.decode()
    assert "Halobestie admin" in admin and "Django administration" not in admin
    assert 'href="/control-center/"' in admin  # "View site"


def test_the_admin_shows_24_hour_times_with_the_zone_and_names_the_settings(client, db, staff, customer):
    session_id = create_request(customer)
    ChatRequest.objects.filter(id=session_id).update(requested_at="2026-11-20T13:05:00+07:00")
    client.force_login(staff.user)
    page = client.get(f"/admin/pairing/chatrequest/{session_id}/change/").content.decode()
    assert "2026-11-20" in page and ("13:05" in page or "13:05:00" in page)
    listing = client.get("/admin/pairing/chatrequest/").content.decode()
    assert re.search(r"2026-11-20 13:05(:00)? WIB", listing), listing[:2000]
    settings_page = client.get("/admin/appconfig/runtimeconfig/", follow=True).content.decode()
    assert "Runtime settings" in settings_page and "App config &rsaquo; App config" not in settings_page


def test_a_sessions_admin_page_shows_how_it_closed(client, db, staff, customer, make_mitra):
    from pairing.requests.services import accept_chat_request
    from pairing.sessions.services import end_session_early
    from tests.support import set_config

    mitra = make_mitra()
    session_id = create_request(customer)
    accept_chat_request(mitra=mitra.user, session_id=session_id)
    set_config(early_end_mitra_enabled=True)
    end_session_early(mitra=mitra.user, session_id=session_id, reason_code="customer_abusive", reason_note="rude")
    client.force_login(staff.user)
    page = client.get(f"/admin/pairing/chatrequest/{session_id}/change/").content.decode()
    assert "How the session closed" in page and "rude" in page
    assert "Customer abusive" in page or "customer_abusive" in page
