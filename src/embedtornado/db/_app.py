"""How the daemon (or any application) gets its shared `Database`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from embedtornado.db.database import Database
from embedtornado.db.migrations import MigrationSource

__all__ = ["default_path", "open_for_app"]

#: Used when systemd did not set ``STATE_DIRECTORY``.
FALLBACK_STATE_DIRECTORY = "/var/lib/embedtornado"


def default_path(filename: str = "embedtornado.db") -> str:
    """The database path under the service's state directory.

    systemd sets ``STATE_DIRECTORY`` from the unit's ``StateDirectory=`` (a
    colon-separated list when there are several; the first is used);
    elsewhere it is ``/var/lib/embedtornado``.
    """
    if not filename or os.sep in filename:
        raise ValueError(f"filename must be a plain file name, not {filename!r}")
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0] or FALLBACK_STATE_DIRECTORY
    return os.path.join(state, filename)


def open_for_app(app: Any, path: str | os.PathLike[str] | None = None, *,
                 migrations: Mapping[str, MigrationSource] |
                 Iterable[tuple[str, MigrationSource]] = (),
                 **options: Any) -> Database:
    """Open the application's database, apply migrations, and attach it as ``app.db``.

    Blocking: call it at start-up, before the server accepts requests (from a
    coroutine, the loop simply waits those milliseconds; nothing is served
    yet). ::

        db = open_for_app(app, options.database,
                          migrations={"core": core_dir, "users": users_plugin_dir})
        ...
        await db.close()      # at shutdown, after the server stopped

    :arg app: anything that takes attributes, normally the `.web.Application`;
        handlers reach the database as ``self.application.db``. Its
        ``settings`` dict (if any) gets ``"db"`` too.
    :arg path: file path or ``sqlite://`` URL; `default_path` when None.
    :arg migrations: namespace -> migration folder (or `Migration` list), all
        applied in one transaction; on failure the database is closed, left
        as it was, and `.MigrationError` propagates (the start must stop).
    :arg options: passed to `Database` (``synchronous``, ``readers``, ...).
    """
    db = Database(default_path() if path is None else path, **options)
    try:
        plan = list(migrations.items()) if isinstance(migrations, Mapping) else list(migrations)
        if plan:
            db.migrate_blocking(plan)
    except BaseException:
        db.close_blocking()
        raise
    app.db = db
    settings = getattr(app, "settings", None)
    if isinstance(settings, dict):
        settings["db"] = db
    return db
