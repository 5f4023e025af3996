"""Demo plugin: a settings form behind a login, with XSRF protection and a
signed login cookie, keeping its settings and its users in the daemon's
database (``app.db``).

Its schema is ``migrations/``, applied by the daemon under the namespace
``settings``.  On the first start (no user yet) it creates the user
``admin`` whose password is the ``settings_password`` option (default
``demo``, as printed on an appliance's label) and logs a warning to change
it; from then on the password lives, hashed with
`embedtornado.auth_passwords`, in the ``users`` table and is changed on the
settings page (the option no longer matters).  The cookie is signed with the
daemon's cookie secret (``cookie_secret_file``).

Without a database (``database`` unset outside systemd) it keeps everything
in a private in-memory database and says so in the log: nothing survives a
restart.
"""

import logging
import os
import time

from embedtornado.auth_passwords import hash_password_async, verify_password_async
from embedtornado.options import define
from embedtornado.web import RequestHandler, authenticated

define("settings_password", default="demo", group="settings",
       help="password of the demo settings page's user 'admin' when it is first created")

log = logging.getLogger("embedtornado.plugins.settings")
MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
USER = "admin"
HAVE_SIGNED_COOKIES = hasattr(RequestHandler, "set_signed_cookie")


async def setup(app, options):
    db = app.db
    if db is None:
        from embedtornado.db import Database

        db = await Database.open(":memory:")
        await db.migrate(MIGRATIONS, namespace="settings")
        log.warning("No database configured: settings and users are kept in memory "
                    "until the daemon stops")
        app.settings["settings_private_db"] = db
    app.settings["settings_db"] = db
    if await db.get("SELECT name FROM users WHERE name = ?", USER) is None:
        hashed = await hash_password_async(options.settings_password)
        await db.execute("INSERT INTO users (name, password, created) VALUES (?, ?, ?)",
                         USER, hashed, time.time())
        log.warning("Created the settings user %r with the settings_password option's "
                    "password; change it on /settings", USER)


def teardown(app):
    db = app.settings.pop("settings_private_db", None)
    if db is None:
        return
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # --check-config: no loop any more
        db.close_blocking()
    else:
        asyncio.ensure_future(db.close())


class BaseHandler(RequestHandler):
    @property
    def db(self):
        return self.application.settings["settings_db"]

    def get_current_user(self):
        user = self.get_signed_cookie("user", max_age_days=1)
        return user.decode() if user else None

    def get_login_url(self):
        return "/settings/login"

    async def load_settings(self):
        rows = await self.db.query("SELECT key, value FROM settings ORDER BY key")
        return {row.key: row.value for row in rows}


class LoginHandler(BaseHandler):
    def get(self):
        self.render("login.html", error=None, next=self.get_argument("next", "/settings"))

    async def post(self):
        password = self.get_argument("password", "")
        next_url = self.safe_next_url(self.get_argument("next", "/settings"), "/settings") \
            if hasattr(self, "safe_next_url") else "/settings"
        row = await self.db.get("SELECT password FROM users WHERE name = ?", USER)
        if row is None or not await verify_password_async(password, row.password):
            self.set_status(403)
            self.render("login.html", error="Wrong password", next=next_url)
            return
        self.set_signed_cookie("user", USER, expires_days=1, httponly=True,
                               samesite="Strict")
        self.redirect(next_url)


class LogoutHandler(BaseHandler):
    def post(self):
        self.clear_cookie("user")
        self.redirect("/settings/login")


class SettingsHandler(BaseHandler):
    @authenticated
    async def get(self):
        self.render("settings.html", settings=await self.load_settings(),
                    saved=self.get_argument("saved", ""))

    @authenticated
    async def post(self):
        settings = await self.load_settings()
        for key in settings:
            value = self.get_argument(key, "").strip()
            if not 0 < len(value) <= 64:
                return self.refuse(settings, f"{key} must be 1-64 characters")
            settings[key] = value
        new_password = self.get_argument("new_password", "")
        if new_password and not 8 <= len(new_password) <= 256:
            return self.refuse(settings, "the new password must be 8-256 characters")
        hashed = await hash_password_async(new_password) if new_password else None
        async with self.db.transaction():
            await self.db.executemany("UPDATE settings SET value = ? WHERE key = ?",
                                      [(value, key) for key, value in settings.items()])
            if hashed:
                await self.db.execute("UPDATE users SET password = ? WHERE name = ?",
                                      hashed, self.current_user)
        self.redirect("/settings?saved=1")

    def refuse(self, settings, message):
        self.set_status(400)
        self.render("settings.html", settings=settings, saved=f"error: {message}")


if HAVE_SIGNED_COOKIES:
    routes = [
        (r"/settings", SettingsHandler),
        (r"/settings/login", LoginHandler),
        (r"/settings/logout", LogoutHandler),
    ]
else:  # pragma: no cover - trees without web/security.py
    routes = []
