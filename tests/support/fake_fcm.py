"""A fake FCM service on loopback: Google's OAuth token endpoint and FCM v1 `messages:send`.

pyfcm and google-auth run unchanged against it: the service-account file it writes
has a real RSA key and a `token_uri` pointing here. Each registration token can be
given a script of answers ("ok", "unregistered", "invalid", "server_error").
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "fake-project"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # a push worker's many threads connect at once
    daemon_threads = True


class FakeFCM:
    def __init__(self, delay_seconds: float = 0) -> None:
        self.delay_seconds = delay_seconds  # how long each send takes, as a slow FCM would
        self.messages: list[dict] = []  # every message FCM was asked to send
        self.token_requests = 0
        self.scripts: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeFCM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, token: str, *answers: str) -> None:
        """The next answers for messages to `token`; afterwards "ok"."""
        self.scripts[token].extend(answers)

    def sent_to(self, token: str) -> list[dict]:
        return [m for m in self.messages if m["message"].get("token") == token]

    def service_account_file(self, directory: Path) -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "fake-key",
            "private_key": pem,
            "client_email": f"fcm@{PROJECT}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{self.url}/token",
        }
        path = directory / "service-account.json"
        path.write_text(json.dumps(info))
        return str(path)

    def _answer(self, token: str) -> str:
        with self._lock:
            script = self.scripts.get(token)
            return script.pop(0) if script else "ok"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    fake.token_requests += 1
                    self._reply(200, {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"})
                    return
                if self.path != f"/v1/projects/{PROJECT}/messages:send":
                    self._reply(404, {"error": {"code": 404, "message": "no such endpoint"}})
                    return
                if self.headers.get("Authorization") != "Bearer fake-access-token":
                    self._reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
                    return
                payload = json.loads(body)
                token = payload["message"].get("token", "")
                answer = fake._answer(token)
                received = time.time()
                with fake._lock:
                    fake.messages.append({**payload, "answer": answer, "received_at": received})
                time.sleep(fake.delay_seconds)
                if answer == "ok":
                    self._reply(200, {"name": f"projects/{PROJECT}/messages/{len(fake.messages)}"})
                elif answer == "unregistered":
                    self._reply(404, {"error": {"code": 404, "message": "Requested entity was not found.",
                                                "status": "NOT_FOUND",
                                                "details": [{"errorCode": "UNREGISTERED"}]}})  # fmt: skip
                elif answer == "invalid":
                    message = "The registration token is not a valid FCM registration token"
                    self._reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": message}})
                else:
                    self._reply(503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "try later"}})

        return Handler
