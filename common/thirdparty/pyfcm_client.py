"""pyfcm with exactly one HTTP call per send and a configurable endpoint.

pyfcm's `send_request` sleeps for a response's `Retry-After` and then calls itself, and
calls itself again whenever the access token has expired: a worker thread could sleep
for as long as FCM asks, and one send could become several. Here a send is one call
(plus one more after refreshing an expired access token); a retry is a new, recorded
attempt that the push task schedules with backoff.

Internals used: `send_request` overridden; `_is_access_token_expired`,
`thread_local.token_expiry`, `requests_session`, `fcm_end_point` and
`FCM_END_POINT_BASE`.
"""

from __future__ import annotations

from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter

from . import require_version

KNOWN_VERSIONS = ("2.1.1",)


class SingleSendFCM(FCMNotification):
    def __init__(self, *, service_account_file: str, project_id: str, endpoint_base: str) -> None:
        require_version("pyfcm", KNOWN_VERSIONS, "common.thirdparty.pyfcm_client")
        super().__init__(
            service_account_file=service_account_file,
            project_id=project_id,
            adapter=HTTPAdapter(max_retries=0),  # urllib3's retries off too
        )
        self.FCM_END_POINT_BASE = endpoint_base.rstrip("/")

    def send_request(self, payload=None, timeout=None):
        response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)
        if self._is_access_token_expired(response):
            self.thread_local.token_expiry = 0
            response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)
        return response
