"""Demo plugin: a settings form behind a login, with XSRF protection and a
signed login cookie.

The login password is the ``settings_password`` option (defined here, in the
group ``settings``, so the config file sets it as ``settings_password =
"..."``).  The cookie is signed with the daemon's cookie secret
(``cookie_secret_file``).  If this tree has no signed cookies yet the plugin
loads without routes and says so.
"""

import hmac

from embedtornado.options import define, options
from embedtornado.web import RequestHandler, authenticated

define("settings_password", default="demo", group="settings",
       help="password of the demo settings page")

_settings = {"device_name": "embedtornado-demo", "ntp_server": "pool.ntp.org"}

HAVE_SIGNED_COOKIES = hasattr(RequestHandler, "set_signed_cookie")


class BaseHandler(RequestHandler):
    def get_current_user(self):
        user = self.get_signed_cookie("user", max_age_days=1)
        return user.decode() if user else None

    def get_login_url(self):
        return "/settings/login"


class LoginHandler(BaseHandler):
    def get(self):
        self.render("login.html", error=None, next=self.get_argument("next", "/settings"))

    def post(self):
        password = self.get_argument("password", "")
        next_url = self.safe_next_url(self.get_argument("next", "/settings"), "/settings") \
            if hasattr(self, "safe_next_url") else "/settings"
        if not hmac.compare_digest(password.encode(), options.settings_password.encode()):
            self.set_status(403)
            self.render("login.html", error="Wrong password", next=next_url)
            return
        self.set_signed_cookie("user", "admin", expires_days=1, httponly=True,
                               samesite="Strict")
        self.redirect(next_url)


class LogoutHandler(BaseHandler):
    def post(self):
        self.clear_cookie("user")
        self.redirect("/settings/login")


class SettingsHandler(BaseHandler):
    @authenticated
    def get(self):
        self.render("settings.html", settings=_settings, saved=self.get_argument("saved", ""))

    @authenticated
    def post(self):
        for key in _settings:
            value = self.get_argument(key, "").strip()
            if not 0 < len(value) <= 64:
                self.set_status(400)
                self.render("settings.html", settings=_settings,
                            saved=f"error: {key} must be 1-64 characters")
                return
            _settings[key] = value
        self.redirect("/settings?saved=1")


if HAVE_SIGNED_COOKIES:
    routes = [
        (r"/settings", SettingsHandler),
        (r"/settings/login", LoginHandler),
        (r"/settings/logout", LogoutHandler),
    ]
else:  # pragma: no cover - trees without web/security.py
    routes = []
