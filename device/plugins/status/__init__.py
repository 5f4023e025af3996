"""Demo plugin: the device's status page, from a template with static assets.

Shows how a package plugin keeps ``templates/`` and ``static/`` beside its
code: ``self.render("status.html")`` loads this package's template, and
``static_url("style.css")`` links this package's file (served under
``/plugins/status/static/``, versioned with ``?v=``).
"""

import os
import platform
import time

import embedtornado
from embedtornado.web import RequestHandler

__version__ = "1.0"

_started = time.time()


def _meminfo() -> dict:
    info = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    info[key] = int(value.split()[0]) // 1024
    except OSError:
        pass
    return info


class StatusHandler(RequestHandler):
    def get(self):
        daemon = self.settings.get("embedtornado_daemon")
        plugins = daemon.generation.plugins.describe() if daemon is not None else {}
        self.render(
            "status.html",
            hostname=platform.node(),
            machine=platform.machine(),
            python=platform.python_version(),
            version=embedtornado.version,
            speedups=embedtornado.speedups(),
            uptime=int(time.time() - _started),
            load=os.getloadavg(),
            memory=_meminfo(),
            plugins=plugins,
        )


routes = [(r"/", StatusHandler)]
