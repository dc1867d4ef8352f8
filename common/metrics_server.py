"""The metrics process: `python -m common.metrics_server`, which the launcher starts when
METRICS_PORT is set. It answers GET /metrics on METRICS_ADDR (default 127.0.0.1) with
every process's metrics (common/metrics.py)."""

from __future__ import annotations

import logging
import os

from . import metrics

logger = logging.getLogger(__name__)


def main() -> None:
    """Serve the host's metrics until stopped."""
    import django
    from prometheus_client import start_http_server

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")
    django.setup()
    if not metrics.MULTIPROCESS:
        logger.warning("PROMETHEUS_MULTIPROC_DIR is not set: this process sees only its own metrics")
    addr, port = os.environ.get("METRICS_ADDR", "127.0.0.1"), int(os.environ["METRICS_PORT"])
    server, thread = start_http_server(port, addr, registry=metrics.scrape_registry())
    logger.info("metrics on http://%s:%s/metrics", addr, port)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
