"""Deployment settings from the environment: `manage.py check --deploy` is clean with the
production variables the README documents, and a deployment without SECRET_KEY refuses
to start."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from devtools.launcher import BASE_DIR

# The README's "Deploying" table, as a deployment behind TLS sets it.
PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "halobestie.example",
    "CSRF_TRUSTED_ORIGINS": "https://halobestie.example",
    "TRUSTED_PROXY": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_COOKIES": "true",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "SECRET_KEY"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**environment, **env}, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_the_documented_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, SECRET_KEY=secrets.token_urlsafe(60))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_those_variables_check_deploy_names_what_is_missing():
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(60))
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):  # HSTS, SSL, cookies
        assert warning in result.stderr + result.stdout, warning


def test_a_deployment_without_secret_key_refuses_to_start():
    result = manage("check", **PRODUCTION)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when ALLOWED_HOSTS names hosts beyond this machine." in result.stderr


def test_a_developer_machine_gets_a_generated_key_kept_across_starts():
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    first, second = (manage("shell", "-c", script).stdout.strip().splitlines()[-1] for _ in range(2))
    assert first == second and len(first) >= 50 and "insecure" not in first
    key_file = BASE_DIR / ".run" / "secret_key"
    assert key_file.read_text().strip() == first and oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_an_empty_database_url_means_the_embedded_default():
    script = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = manage("shell", "-c", script, DATABASE_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "django.db.backends.sqlite3"
