"""Sessions: MemorySessionStore against the SessionStore contract, and SessionMixin over a socket."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "web"))

from sectools import set_cookies
from webtools import LogCapture, req

from embedtornado.sessions import (
    MemorySessionStore,
    Session,
    SessionMixin,
    SessionStore,
)
from embedtornado.web import Application, HTTPError, RequestHandler, decode_signed_value
from rawhttp import ServerHarness

SECRET = "session-test-secret"


def run(coro):
    return asyncio.run(coro)


# --- the store ------------------------------------------------------------------------------


def test_memory_store_contract():
    async def go():
        store = MemorySessionStore()
        assert isinstance(store, SessionStore)
        now = time.time()
        assert await store.load("nope") is None
        data = {"a": 1, "nested": {"list": [1, "two", None, True]}}
        await store.save("s1", data, now + 60)
        loaded = await store.load("s1")
        assert loaded == data and loaded is not data
        loaded["nested"]["list"].append(3)  # a copy: the store is unchanged
        assert await store.load("s1") == data
        data["a"] = 2  # so is the caller's dict after saving
        assert (await store.load("s1"))["a"] == 1
        await store.save("s1", {"b": 2}, now + 60)  # replaces
        assert await store.load("s1") == {"b": 2}
        await store.delete("s1")
        await store.delete("s1")  # unknown: no error
        assert await store.load("s1") is None
        await store.close()

    run(go())


def test_memory_store_expiry_and_purge():
    async def go():
        store = MemorySessionStore()
        now = time.time()
        await store.save("past", {"x": 1}, now - 1)
        await store.save("edge", {"x": 2}, now + 1000)
        await store.save("future", {"x": 3}, now + 2000)
        assert await store.load("past") is None  # expired: not returned
        assert await store.purge_expired(now + 1000) == 1  # "edge" (at or before now)
        assert await store.purge_expired(now + 1000) == 0
        assert len(store) == 1 and await store.load("future") == {"x": 3}

    run(go())


def test_memory_store_is_bounded():
    async def go():
        store = MemorySessionStore(max_sessions=3)
        now = time.time()
        for i in range(5):
            await store.save(f"s{i}", {"i": i}, now + 100)
        assert len(store) == 3
        assert [await store.load(f"s{i}") for i in range(5)] == [
            None, None, {"i": 2}, {"i": 3}, {"i": 4}]
        # Saving again makes an id recent; expired ones go before live ones.
        await store.save("s2", {"i": 2}, now + 100)
        await store.save("old", {}, now - 5)  # expired at once
        await store.save("s5", {"i": 5}, now + 100)
        assert await store.load("s3") is None and await store.load("s2") == {"i": 2}
        assert len(store) == 3

    run(go())
    with pytest.raises(ValueError):
        MemorySessionStore(max_sessions=0)


def test_memory_store_refuses_unserialisable_data_without_change():
    async def go():
        store = MemorySessionStore()
        await store.save("s", {"ok": 1}, time.time() + 60)
        with pytest.raises(TypeError):
            await store.save("s", {"bad": object()}, time.time() + 60)
        assert await store.load("s") == {"ok": 1}

    run(go())


def test_session_change_tracking():
    s = Session({"items": [1]}, "id")
    assert not s.changed() and not s.is_new and s.id == "id"
    s["items"].append(2)
    assert s.changed()
    assert Session().is_new and Session().id is None and not Session().changed()


# --- the handler side, over a socket ------------------------------------------------------


class FailingStore(MemorySessionStore):
    async def save(self, session_id, data, expires_at):
        raise OSError("disk full")


def make_app(store, **settings):
    class Cart(SessionMixin, RequestHandler):
        def get(self):
            self.write({"items": self.session.get("items", []), "new": self.session.is_new})

        def post(self):
            self.session.setdefault("items", []).append(self.get_argument("item"))
            self.redirect("/cart")  # saved before the redirect goes out

    class AsyncCart(SessionMixin, RequestHandler):
        async def prepare(self):
            await super().prepare()
            self.prepared = True

        async def post(self):
            await asyncio.sleep(0)
            self.session["n"] = self.session.get("n", 0) + 1
            self.write({"n": self.session["n"], "prepared": self.prepared})

    class Login(SessionMixin, RequestHandler):
        def post(self):
            self.rotate_session()
            self.session["user"] = self.get_argument("name")
            self.write("in")

    class Logout(SessionMixin, RequestHandler):
        async def post(self):
            await self.clear_session()
            self.write("out")

    class Empty(SessionMixin, RequestHandler):
        def post(self):
            self.session.clear()

    class Boom(SessionMixin, RequestHandler):
        def post(self):
            self.session["half"] = "done"
            raise HTTPError(500)

    class Flushing(SessionMixin, RequestHandler):
        async def get(self):
            self.session["flushed"] = True
            await self.save_session()
            self.write("a")
            await self.flush()
            self.write("b")

    class WriteAfterFinish(SessionMixin, RequestHandler):
        def post(self):
            self.session["x"] = 1
            self.redirect("/cart")
            try:
                self.write("late")
            except RuntimeError as e:
                self.session["error"] = str(e)

    class NotLoaded(RequestHandler, SessionMixin):  # wrong order: prepare is RequestHandler's
        def get(self):
            self.write(str(self.session))

    return Application(
        [(r"/cart", Cart), (r"/async", AsyncCart), (r"/login", Login), (r"/logout", Logout),
         (r"/empty", Empty), (r"/boom", Boom), (r"/flush", Flushing), (r"/notloaded", NotLoaded),
         (r"/late", WriteAfterFinish)],
        **{"cookie_secret": SECRET, "session_store": store, **settings})


@pytest.fixture
def store():
    return MemorySessionStore()


@pytest.fixture
def h(store):
    with ServerHarness(make_app(store)) as harness:
        yield harness


def send(h, method, path, cookie=None, body=None):
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif method == "POST":
        body = b""
    return h.run(h.request(req(method, path, headers, body), method))


def session_id(cookie_value: str) -> str:
    raw = decode_signed_value(SECRET, "session", cookie_value.strip('"'))
    assert raw is not None
    return raw.decode()


def test_no_cookie_until_something_is_stored(h, store):
    resp = send(h, "GET", "/cart")
    assert json.loads(resp.body) == {"items": [], "new": True}
    assert "session" not in set_cookies(resp.header_list) and len(store) == 0


def test_changes_are_saved_before_a_redirect(h, store):
    resp = send(h, "POST", "/cart", body=b"item=apple")
    assert resp.code == 302 and resp.headers["location"] == "/cart"
    [header] = [v for k, v in resp.header_list if v.startswith("session=")]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "expires=" in header
    assert "Secure" not in header  # plain HTTP
    cookie = "session=" + set_cookies(resp.header_list)["session"]
    sid = session_id(set_cookies(resp.header_list)["session"])
    assert run(store.load(sid)) == {"items": ["apple"]}
    resp = send(h, "POST", "/cart", cookie, b"item=pear")  # nested change counts
    assert "session" not in set_cookies(resp.header_list)  # same id: no new cookie
    resp = send(h, "GET", "/cart", cookie)
    assert json.loads(resp.body) == {"items": ["apple", "pear"], "new": False}
    assert "session" not in set_cookies(resp.header_list)


def test_async_prepare_and_method(h, store):
    resp = send(h, "POST", "/async")
    cookie = "session=" + set_cookies(resp.header_list)["session"]
    assert json.loads(resp.body) == {"n": 1, "prepared": True}
    resp = send(h, "POST", "/async", cookie)
    assert json.loads(resp.body) == {"n": 2, "prepared": True}


def test_a_client_cannot_choose_its_session_id(h, store):
    run(store.save("A" * 43, {"user": "victim"}, time.time() + 60))
    for cookie in ("session=" + "A" * 43,  # unsigned
                   "session=2|1:0|10:1700000000|7:session|60:" + "QQ" * 30 + "|" + "0" * 64,
                   "session=garbage"):
        resp = send(h, "GET", "/cart", cookie)
        assert json.loads(resp.body)["new"] is True
    # Validly signed, but unknown to the store: a new session with a new id.
    from embedtornado.web import create_signed_value
    unknown = create_signed_value(SECRET, "session", "B" * 43).decode()
    resp = send(h, "POST", "/async", "session=" + unknown)
    sid = session_id(set_cookies(resp.header_list)["session"])
    assert sid != "B" * 43 and run(store.load("B" * 43)) is None


def test_login_rotates_the_id_and_logout_forgets(h, store):
    resp = send(h, "POST", "/async")
    cookie_value = set_cookies(resp.header_list)["session"]
    old = session_id(cookie_value)
    resp = send(h, "POST", "/login", "session=" + cookie_value, b"name=alice")
    new_value = set_cookies(resp.header_list)["session"]
    new = session_id(new_value)
    assert new != old
    assert run(store.load(old)) is None
    assert run(store.load(new)) == {"n": 1, "user": "alice"}
    resp = send(h, "POST", "/logout", "session=" + new_value)
    assert resp.body == b"out" and set_cookies(resp.header_list)["session"] == '""'
    assert run(store.load(new)) is None and len(store) == 0


def test_emptied_session_is_deleted(h, store):
    resp = send(h, "POST", "/async")
    value = set_cookies(resp.header_list)["session"]
    resp = send(h, "POST", "/empty", "session=" + value)
    assert set_cookies(resp.header_list)["session"] == '""'
    assert len(store) == 0


def test_error_responses_do_not_save(h, store):
    with LogCapture("embedtornado"):
        resp = send(h, "POST", "/boom")
    assert resp.code == 500 and "session" not in set_cookies(resp.header_list)
    assert len(store) == 0


def test_explicit_save_before_flush(h, store):
    resp = send(h, "GET", "/flush")
    assert resp.body == b"ab"
    sid = session_id(set_cookies(resp.header_list)["session"])
    assert run(store.load(sid)) == {"flushed": True}


def test_write_after_finish_is_refused_while_saving(h, store):
    resp = send(h, "POST", "/late")
    assert resp.code == 302 and resp.body == b""
    sid = session_id(set_cookies(resp.header_list)["session"])
    # The write was refused; the save runs once the method has returned, so a
    # change made after redirect() in the same method is still saved.
    assert run(store.load(sid)) == {"x": 1, "error": "Cannot write() after finish()"}


def test_store_failure_is_a_logged_500(store):
    with ServerHarness(make_app(FailingStore())) as harness, \
            LogCapture("embedtornado.application") as logs:
        resp = send(harness, "POST", "/cart", body=b"item=x")
    assert resp.code == 500 and "session" not in set_cookies(resp.header_list)
    assert any("Failed to save the session" in r.getMessage() for r in logs.records)


def test_misconfiguration_is_a_clear_500():
    with ServerHarness(make_app(None)) as harness, \
            LogCapture("embedtornado.application") as logs:
        resp = send(harness, "GET", "/cart")
    assert resp.code == 500
    assert "You must define the 'session_store' setting" in str(logs.records[0].exc_info[1])


def test_session_before_load_is_a_clear_error(h):
    with LogCapture("embedtornado.application") as logs:
        resp = send(h, "GET", "/notloaded")
    assert resp.code == 500
    assert "the session is not loaded" in str(logs.records[0].exc_info[1])


def test_cookie_settings():
    store = MemorySessionStore()
    app = make_app(store, session_cookie_name="sid", session_max_age_days=1,
                   session_cookie_kwargs={"samesite": "Strict", "path": "/"})
    with ServerHarness(app) as harness:
        resp = send(harness, "POST", "/async")
        [header] = [v for k, v in resp.header_list if v.startswith("sid=")]
        assert "SameSite=Strict" in header
        sid = decode_signed_value(SECRET, "sid", set_cookies(resp.header_list)["sid"].strip('"'))
        expires_at = store._sessions[sid.decode()][0]
        assert time.time() + 3600 < expires_at <= time.time() + 86400
