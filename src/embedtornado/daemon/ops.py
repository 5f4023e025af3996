"""Operations endpoints: ``/healthz`` (JSON) and ``/metrics`` (Prometheus text).

Both are off by default (``healthz = True`` / ``metrics = True`` turn them on)
and served on the main listener, or on their own address with ``ops_port``
(or a socket passed as ``ops`` by socket activation), so they need not be
reachable from where the application is::

    $ curl -s 127.0.0.1:9100/healthz
    {"status": "ok", "uptime_seconds": 12.5, "loop_lag_seconds": 0.0004,
     "plugins": {"status": {"state": "loaded", "routes": ["/$"], ...}}, ...}

``status`` is ``ok``, ``degraded`` (a plugin failed; still HTTP 200, the
service works without it) or ``stopping`` (draining; HTTP 503, so a load
balancer takes the instance out).  ``/metrics`` exposes request counts by
handler and status, a latency histogram, open connections and WebSocket
connections, resident memory, event-loop lag, watchdog pings, reloads and
rejected connections.
"""

from __future__ import annotations

import bisect
import json
import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from embedtornado.web import RequestHandler

if TYPE_CHECKING:
    from embedtornado.daemon.service import Daemon

__all__ = ["HealthzHandler", "Metrics", "MetricsHandler", "rss_bytes"]

#: Upper bounds (seconds) of the latency histogram's buckets.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


class Metrics:
    """Counters the daemon keeps; cheap enough to update on every request."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.bucket_counts = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.rejected_connections = 0
        self.reloads: Counter[str] = Counter()

    def observe(self, handler_name: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.requests[(handler_name, status)] += 1
        self.bucket_counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds
        self.latency_count += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(daemon: Daemon) -> str:
    """The Prometheus text exposition (format 0.0.4) of ``daemon``'s state."""
    m = daemon.metrics
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            out.append(f"{name}{labels} {value:.17g}" if isinstance(value, float)
                       else f"{name}{labels} {value}")

    metric("embedtornado_http_requests_total", "counter",
           "HTTP requests answered, by handler and status code.",
           [(f'{{handler="{_label(h)}",code="{s}"}}', n)
            for (h, s), n in sorted(m.requests.items())])
    cumulative = 0
    samples: list[tuple[str, float]] = []
    for bound, count in zip(BUCKETS, m.bucket_counts):
        cumulative += count
        samples.append((f'_bucket{{le="{bound:g}"}}', cumulative))
    samples.append(('_bucket{le="+Inf"}', m.latency_count))
    name = "embedtornado_http_request_duration_seconds"
    out.append(f"# HELP {name} Time from request start to response end.")
    out.append(f"# TYPE {name} histogram")
    for suffix, value in samples:
        out.append(f"{name}{suffix} {value}")
    out.append(f"{name}_sum {m.latency_sum:.17g}")
    out.append(f"{name}_count {m.latency_count}")
    metric("embedtornado_open_connections", "gauge", "Open HTTP connections.",
           [("", daemon.open_connections())])
    metric("embedtornado_websocket_connections", "gauge", "Open WebSocket connections.",
           [("", len(daemon.websockets))])
    metric("embedtornado_rejected_connections_total", "counter",
           "Connections refused because max_connections was reached.",
           [("", m.rejected_connections)])
    metric("embedtornado_resident_memory_bytes", "gauge", "Resident set size of the process.",
           [("", rss_bytes())])
    metric("embedtornado_event_loop_lag_seconds", "gauge",
           "How late the last periodic loop check ran (a busy or blocked loop shows here).",
           [("", float(daemon.loop_lag))])
    metric("embedtornado_watchdog_pings_total", "counter",
           "WATCHDOG=1 notifications sent to the service manager.",
           [("", daemon.watchdog_pings)])
    metric("embedtornado_reloads_total", "counter", "Configuration reloads, by result.",
           [(f'{{result="{r}"}}', m.reloads.get(r, 0)) for r in ("ok", "failed")])
    states = Counter(p.state for p in daemon.generation.plugins)
    metric("embedtornado_plugins", "gauge", "Plugins by state.",
           [(f'{{state="{s}"}}', states.get(s, 0)) for s in ("loaded", "failed", "disabled")])
    metric("embedtornado_uptime_seconds", "gauge", "Seconds since the daemon started.",
           [("", float(time.monotonic() - daemon.started))])
    return "\n".join(out) + "\n"


class _OpsHandler(RequestHandler):
    def initialize(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def check_xsrf_cookie(self) -> None:  # GET only; nothing to protect
        return None

    def compute_etag(self) -> None:
        return None


class HealthzHandler(_OpsHandler):
    """``GET /healthz``: JSON state; 200 ``ok``/``degraded``, 503 ``stopping``."""

    def get(self) -> None:
        d = self.daemon
        status = d.health_status()
        self.set_status(503 if status == "stopping" else 200)
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "application/json")
        body = {
            "status": status,
            "pid": os.getpid(),
            "version": d.version,
            "uptime_seconds": round(time.monotonic() - d.started, 3),
            "loop_lag_seconds": round(d.loop_lag, 6),
            "open_connections": d.open_connections(),
            "websocket_connections": len(d.websockets),
            "watchdog_pings": d.watchdog_pings,
            "reloads": dict(d.metrics.reloads),
            "last_reload_error": d.last_reload_error,
            "config": d.config_path,
            "database": getattr(getattr(d, "db", None), "path", None),
            "plugins": d.generation.plugins.describe(),
        }
        self.finish(json.dumps(body, indent=1, sort_keys=True) + "\n")


class MetricsHandler(_OpsHandler):
    """``GET /metrics``: the Prometheus text format."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(render_metrics(self.daemon))


def ops_routes(daemon: Daemon, healthz: bool, metrics: bool) -> list[tuple[str, Any, dict]]:
    """The enabled endpoints as routes."""
    routes: list[tuple[str, Any, dict]] = []
    if healthz:
        routes.append((r"/healthz", HealthzHandler, {"daemon": daemon}))
    if metrics:
        routes.append((r"/metrics", MetricsHandler, {"daemon": daemon}))
    return routes
