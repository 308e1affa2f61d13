"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real
`mailbeacon hub serve` on loopback: signing in, an outage group appearing and growing live
without a reload, posting and resolving an incident on the page with the feed following, and a
report's full JSON. Screenshots of each page are kept (MB_HUB_SCREENSHOTS: docs/screenshots)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.hub.browser import (
    IT_PASSWORD,
    IT_USER,
    launch,
    post_state,
    prepare,
    report_body,
    shot,
    sign_in,
    state_event,
)

pytestmark = pytest.mark.slow
playwright_api = pytest.importorskip("playwright.sync_api")
LIVE_MS = 5000  # SPEC 8: new members show within 5 s without a reload


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB",
                                  timezone_id="UTC")
    # loopback only: anything else the page might ask for is refused before it leaves
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    # a refused sign-in is a 4xx page the browser logs; what must never happen is a script
    # error, a failing live poll, or a missing script or style sheet
    p.on("console", lambda msg: errors.append(msg.text)
         if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    p.on("response", lambda r: errors.append(f"{r.status} {r.url}")
         if r.status >= 500 or ("/static/" in r.url and r.status != 200) or ("/live" in r.url and r.status != 200)
         else None)
    yield p
    context.close()
    assert errors == [], errors


@pytest.fixture
def hub(start_hub):
    # a short wait before the first notification and a low bar for the hub's own incident
    h = start_hub(hub="group_wait_s = 1\ngroup_interval_s = 2\ndetect_min_laptops = 3\ndetect_min_networks = 2\n")
    h.tokens = prepare(h)
    return h


def test_sign_in_through_the_form(hub, page, tmp_path):
    page.goto(hub.url + "/")
    assert page.url == hub.url + "/login"
    shot(page, "login", tmp_path)
    page.fill("#username", IT_USER)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "do not match" in page.inner_text("[role=alert]")
    assert page.input_value("#username") == IT_USER  # what was typed is kept
    page.fill("#password", IT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(hub.url + "/")
    assert page.inner_text("h1") == "Overview" and IT_USER in page.inner_text("header")
    cookie = next(c for c in page.context.cookies() if c["name"] == "mbhub_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # the session cookie is out of the page's script's reach
    assert "mbhub_session" not in page.evaluate("document.cookie")


def test_a_group_appears_and_grows_live_without_a_reload(hub, page, tmp_path):
    sign_in(page, hub.url)
    assert "No open outages" in page.inner_text("#live-groups")
    page.evaluate("window.__sameDocument = 'yes'")
    laptop = hub.tokens["laptop"]

    post_state(hub.url, laptop, state_event("a" * 32, "down", "0000000000a1", user="jo"))
    card = page.locator("#live-groups [data-group]")
    card.first.wait_for(timeout=LIVE_MS + 2000)  # the grouping pass, then one poll
    assert card.count() == 1
    assert page.locator(".count-laptops").first.inner_text() == "1 laptop"

    post_state(hub.url, laptop, state_event("b" * 32, "down", "0000000000b2", user="sam"))
    # Playwright's own polling: the page's CSP rightly forbids evaluating strings
    playwright_api.expect(page.locator("#live-groups .count-laptops")).to_have_text("2 laptops", timeout=LIVE_MS + 2000)
    assert page.inner_text("#live-groups .count-networks") == "2 networks"
    assert page.inner_text("#live-groups .count-people") == "2 people"
    assert page.evaluate("window.__sameDocument") == "yes"  # updated in place, never reloaded

    r = httpx.post(hub.url + "/api/v1/reports", content=json.dumps(report_body("a" * 32, "Outlook is offline since 9")),
                   headers={"Authorization": f"Bearer {laptop}", "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 201, r.text
    page.wait_for_selector("#live-groups .notes blockquote", timeout=LIVE_MS + 2000)
    assert "Outlook is offline since 9" in page.inner_text("#live-groups .notes")
    shot(page, "overview", tmp_path)

    page.click("#live-groups h3 a")
    assert page.locator("h1").inner_text().endswith("The mail server is not answering.")
    timeline = page.inner_text(".timeline")
    assert "jo joined" in timeline and "sam joined" in timeline and "Outlook is offline since 9" in timeline
    assert "smtp.corp.example:587" in page.inner_text(".summary")
    shot(page, "group", tmp_path)

    page.click(".reports a")
    pre = page.inner_text("pre.json")
    doc = json.loads(pre)
    assert doc["note"] == "Outlook is offline since 9" and doc["reporter"]["laptop"] == "a" * 32
    shot(page, "report-json", tmp_path)


def feed(hub) -> dict:
    r = httpx.get(hub.url + "/feed.json", headers={"Authorization": f"Bearer {hub.tokens['laptop']}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def feed_until(hub, check, timeout_s: float = 5.0) -> dict:
    """The feed once `check(feed)` holds: the hub rebuilds its feed within a second of a change."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        doc = feed(hub)
        if check(doc) or time.monotonic() > deadline:
            return doc
        time.sleep(0.2)


def test_post_update_and_resolve_an_incident_on_the_page_and_the_feed_follows(hub, page, tmp_path):
    sign_in(page, hub.url)
    page.click("text=Incidents")
    page.wait_for_url(hub.url + "/incidents")
    # a title left empty is refused by the page itself; the hub's own check speaks too
    page.fill("#new-title-input", "Mail server disk full")
    page.fill("#new-message", "We are freeing space; mail is queued, not lost.")
    page.select_option("#new-next", "30m")
    before = datetime.now(UTC)
    with page.expect_navigation():
        page.click("text=Post incident")
    assert "The feed is updated" in page.inner_text(".notice")
    [incident] = feed_until(hub, lambda d: len(d["incidents"]) == 1)["incidents"]
    assert incident["title"] == "Mail server disk full" and incident["status"] == "investigating"
    promised = datetime.fromisoformat(incident["next_update_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) <= promised - before <= timedelta(minutes=31)
    shot(page, "incidents", tmp_path)

    card = page.locator(f"#incident-{incident['id']}")
    card.locator("select[name=status]").select_option("identified")
    card.locator("textarea[name=message]").fill("A log volume filled up; cleaning it now.")
    card.locator("select[name=next_update]").select_option("1h")
    with page.expect_navigation():
        card.locator("text=Post update").click()
    assert "The feed is updated" in page.inner_text(".notice")
    [updated] = feed_until(hub, lambda d: d["incidents"][0]["status"] == "identified")["incidents"]
    assert updated["status"] == "identified" and updated["message"].startswith("A log volume")

    with page.expect_navigation():
        page.locator(f"#incident-{incident['id']}").locator("text=Resolve").click()
    assert "The feed is updated" in page.inner_text(".notice")
    doc = feed_until(hub, lambda d: all(i["status"] == "resolved" for i in d["incidents"]))
    assert [i["status"] for i in doc["incidents"] if i["id"] == incident["id"]] in ([], ["resolved"])
    assert "None." in page.inner_text("#open-title + *") or page.locator(f"#incident-{incident['id']} form").count() == 0


def test_a_form_from_another_page_is_refused(hub, page, browser):
    sign_in(page, hub.url)
    # another site's page posting into the hub with the IT person's cookie
    evil = browser.new_context()
    try:
        r = page.request.post(hub.url + "/incidents", form={"title": "x", "message": "y"},
                              headers={"Origin": "http://127.0.0.2:9"})
        assert r.status == 403
    finally:
        evil.close()
    assert feed(hub)["incidents"] == []
