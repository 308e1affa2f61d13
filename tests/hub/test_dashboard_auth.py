"""Signing in to the dashboard: redirects, cookies, CSRF on every form, the rate limit, and the
headers every page carries (SPEC 8 dashboard and security)."""

from __future__ import annotations

import pytest

from app.hub.web.security import LoginLimiter
from tests.hub.web_client import PASSWORD, USER, hidden, make_hub, sign_in


@pytest.fixture
def hub(tmp_path):
    client, store = make_hub(tmp_path)
    with client:
        yield client


def test_without_a_session_every_page_leads_to_the_login_form(hub):
    r = hub.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = hub.get("/groups/7", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fgroups%2F7"
    for path in ("/incidents", "/reports/abc"):
        assert hub.get(path, follow_redirects=False).headers["location"].startswith("/login?next=")
    live = hub.get("/live")
    assert live.status_code == 401 and "sign in" in live.json()["error"]


def test_signing_in_sets_a_private_session_cookie_and_returns_to_the_page(hub):
    form = hub.get("/login?next=/groups/7")
    r = hub.post("/login", data={"csrf": hidden(form.text), "username": USER, "password": PASSWORD,
                                 "next": hidden(form.text, "next")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/groups/7"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("mbhub_session="))
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags
    page = hub.get("/")
    assert page.status_code == 200 and USER in page.text and "Open outages" in page.text


def test_a_wrong_password_says_so_and_gives_no_session(hub):
    r = sign_in(hub, password="wrong password")
    assert r.status_code == 401 and "do not match" in r.text
    assert not any(c.startswith("mbhub_session=") for c in r.headers.get_list("set-cookie"))
    assert hub.get("/", follow_redirects=False).status_code == 303


def test_an_unknown_user_reads_exactly_like_a_wrong_password(hub):
    wrong = sign_in(hub, password="wrong password")
    unknown = sign_in(hub, user="nobody")
    assert unknown.status_code == wrong.status_code == 401
    assert "do not match" in unknown.text


def test_the_login_form_is_protected_against_cross_site_posts(hub):
    hub.get("/login")
    # no token from the form
    r = hub.post("/login", data={"username": USER, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "expired" in r.text
    # the right token, sent from another site
    token = hidden(hub.get("/login").text)
    r = hub.post("/login", data={"csrf": token, "username": USER, "password": PASSWORD},
                 headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
    assert hub.get("/", follow_redirects=False).status_code == 303


def test_next_never_leads_off_the_hub(hub):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        hub.cookies.clear()
        token = hidden(hub.get("/login").text)
        r = hub.post("/login", data={"csrf": token, "username": USER, "password": PASSWORD, "next": target},
                     follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_behind_https_the_cookie_is_secure(tmp_path):
    client, _ = make_hub(tmp_path, base_url="https://hub.test")
    with client:
        r = sign_in(client)
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("mbhub_session="))
    assert "secure" in cookie.lower()


def test_a_published_https_address_makes_cookies_secure_even_behind_a_plain_proxy(tmp_path):
    # the proxy terminates TLS and says nothing: the hub sees http, the browser uses https
    client, _ = make_hub(tmp_path, public_url="https://hub.corp.example")
    with client:
        r = client.get("/login")
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("mbhub_login="))
    assert "secure" in cookie.lower() and "httponly" in cookie.lower()


def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(tmp_path):
    from starlette.requests import Request

    from app.hub.web.security import is_https

    def request(client: str) -> Request:
        return Request({"type": "http", "scheme": "http", "server": ("hub", 80), "path": "/",
                        "headers": [(b"x-forwarded-proto", b"https")], "client": (client, 5000)})

    assert is_https(request("127.0.0.1")) and is_https(request("::1"))
    assert not is_https(request("203.0.113.9"))


def test_sign_out_needs_the_csrf_token(hub):
    sign_in(hub)
    r = hub.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert hub.get("/", follow_redirects=False).status_code == 200
    token = hidden(hub.get("/").text)
    r = hub.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert hub.get("/", follow_redirects=False).status_code == 303


def test_an_old_session_cookie_stops_working_after_sign_out(hub):
    sign_in(hub)
    cookie = hub.cookies.get("mbhub_session")
    hub.post("/logout", data={"csrf": hidden(hub.get("/").text)})
    hub.cookies.set("mbhub_session", cookie)
    assert hub.get("/", follow_redirects=False).status_code == 303


def test_sign_in_is_rate_limited_per_user_and_then_allowed_again(hub):
    now = [1000.0]
    hub.app.state.hub.extra["login_limiter"] = LoginLimiter(per_user=5, per_address=50, window_s=600,
                                                            clock=lambda: now[0])
    for _ in range(5):
        assert sign_in(hub, password="guess").status_code == 401
    r = sign_in(hub)  # even the right password is not checked now
    assert r.status_code == 429 and "Too many sign-in attempts" in r.text
    assert 1 <= int(r.headers["retry-after"]) <= 601
    assert hub.get("/", follow_redirects=False).status_code == 303
    now[0] += 601
    assert sign_in(hub).status_code == 303


def test_sign_in_is_rate_limited_per_address_across_user_names(hub):
    hub.app.state.hub.extra["login_limiter"] = LoginLimiter(per_user=100, per_address=3, window_s=600)
    for i in range(3):
        assert sign_in(hub, user=f"guess{i}", password="x" * 8).status_code == 401
    assert sign_in(hub).status_code == 429


def test_a_success_clears_the_user_s_failures(hub):
    hub.app.state.hub.extra["login_limiter"] = LoginLimiter(per_user=3, per_address=50, window_s=600)
    sign_in(hub, password="guess")
    sign_in(hub, password="guess")
    assert sign_in(hub).status_code == 303
    hub.cookies.clear()
    sign_in(hub, password="guess")
    sign_in(hub, password="guess")
    assert sign_in(hub).status_code == 303  # two new failures, not four


def test_pages_carry_a_strict_content_security_policy(hub):
    for r in (hub.get("/login"), (sign_in(hub), hub.get("/"))[1]):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in r.text and " style=" not in r.text and " onclick=" not in r.text


def test_the_page_script_and_style_are_served_by_the_hub_itself(hub):
    page = hub.get("/login").text
    assert '<script src="/static/dashboard.js"' in page and 'href="/static/dashboard.css"' in page
    assert "http://" not in page.split("<body", 1)[0] and "https://" not in page.split("<body", 1)[0]
    js = hub.get("/static/dashboard.js")
    css = hub.get("/static/dashboard.css")
    assert js.status_code == css.status_code == 200 and "fetch(" in js.text and ":root" in css.text
