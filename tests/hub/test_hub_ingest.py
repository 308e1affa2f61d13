"""Ingest and the IT API on a real `hub serve` (uvicorn on loopback), SQLite and PostgreSQL:
status codes, idempotency, bounds, tokens, the feed's conditional GET, incidents."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.hub import laptops as lp
from tests.hub.conftest import store_for


def test_reports_and_state_are_stored_once_and_bounded(start_hub, hub_tokens, database_url):
    hub = start_hub(database=database_url, hub="group_wait_s = 0\n")
    laptop, admin = hub_tokens(database_url)
    report = lp.report("lap-1", note="cannot send since nine")
    first = lp.post(hub.url, laptop, "report", report)
    assert first.status_code == 201, first.text
    again = lp.post(hub.url, laptop, "report", report)
    assert again.status_code == 200 and again.json()["stored"] == "already stored"
    event = lp.state("lap-1", username="jo")
    assert lp.post(hub.url, laptop, "state", event).status_code == 201
    assert lp.post(hub.url, laptop, "state", event).status_code == 200  # idempotent by (laptop, at)
    assert lp.post(hub.url, admin, "state", lp.state("lap-2")).status_code == 201  # admin tokens may too

    for bad, why in [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"schema": 2}', "schema must be 1"),
    ]:
        answer = httpx.post(hub.url + "/api/v1/reports", content=bad, headers={"Authorization": f"Bearer {laptop}"})
        assert answer.status_code == 400 and why in answer.json()["error"], answer.text
    broken = lp.report("lap-1")
    broken["diagnosis"]["verdict"] = "on fire"
    answer = lp.post(hub.url, laptop, "report", broken)
    assert answer.status_code == 400 and "diagnosis.verdict" in answer.json()["error"]
    wrong_time = lp.state("lap-3")
    wrong_time["at"] = "yesterday"
    assert lp.post(hub.url, laptop, "state", wrong_time).status_code == 400
    answer = httpx.post(hub.url + "/api/v1/state", content=b"\xff\xfe{}", headers={"Authorization": f"Bearer {laptop}"})
    assert answer.status_code == 400 and set(answer.json()) == {"error"}

    huge = lp.report("lap-1", note="x" * (1024 * 1024))
    answer = lp.post(hub.url, laptop, "report", huge)
    assert answer.status_code == 413 and "1 MB" in answer.json()["error"]

    def chunks():  # no Content-Length: the cap holds while reading
        for _ in range(40):
            yield b"x" * 32768

    answer = httpx.post(hub.url + "/api/v1/reports", content=chunks(), headers={"Authorization": f"Bearer {laptop}"})
    assert answer.status_code == 413

    for headers in ({}, {"Authorization": "Bearer mbh_nonsense"}, {"Authorization": f"Basic {laptop}"}):
        answer = httpx.post(hub.url + "/api/v1/reports", json=lp.report("lap-9"), headers=headers)
        assert answer.status_code == 401 and "token" in answer.json()["error"]

    # nothing rejected was stored; what was accepted is there exactly once, as sent
    groups = httpx.get(hub.url + "/api/v1/groups", headers={"Authorization": f"Bearer {admin}"})
    assert groups.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not groups.json()["groups"]:
        time.sleep(0.1)
        groups = httpx.get(hub.url + "/api/v1/groups", headers={"Authorization": f"Bearer {admin}"})
    [group] = groups.json()["groups"]
    detail = httpx.get(f"{hub.url}/api/v1/groups/{group['id']}", headers={"Authorization": f"Bearer {admin}"}).json()
    assert [r["id"] for r in detail["reports"]] == [report["id"]]
    assert detail["reports"][0]["note"] == "cannot send since nine"
    assert sorted(m["laptop"] for m in detail["members"]) == ["lap-1", "lap-2"]


def test_laptop_tokens_stay_out_of_the_it_api(start_hub, hub_tokens, isolated_home):
    hub = start_hub()
    laptop, admin = hub_tokens()
    as_laptop = {"Authorization": f"Bearer {laptop}"}
    for method, path in (("GET", "/api/v1/groups"), ("GET", "/api/v1/groups/1"), ("POST", "/api/v1/incidents"),
                         ("PATCH", "/api/v1/incidents/INC-1")):
        answer = httpx.request(method, hub.url + path, headers=as_laptop, json={"title": "x"})
        assert answer.status_code == 403, (method, path, answer.text)
        assert httpx.request(method, hub.url + path, json={"title": "x"}).status_code == 401
    assert httpx.get(hub.url + "/feed.json", headers=as_laptop).status_code == 200
    assert httpx.get(hub.url + "/feed.json").status_code == 401

    # a revoked token stops at once when it was never used (and within seconds when cached)
    from app.hub import accounts

    store = store_for("", isolated_home)
    spare = accounts.create_token(store, "spare")
    accounts.revoke_token(store, "spare")
    store.dispose()
    assert lp.post(hub.url, spare, "state", lp.state("lap-1")).status_code == 401


def test_incidents_and_the_feed_with_conditional_get(start_hub, hub_tokens, isolated_home):
    database_url = ""
    hub = start_hub(database=database_url)
    laptop, admin = hub_tokens(database_url)
    it = {"Authorization": f"Bearer {admin}"}
    reader = {"Authorization": f"Bearer {laptop}"}
    empty = httpx.get(hub.url + "/feed.json", headers=reader)
    assert empty.json()["incidents"] == [] and empty.json()["schema"] == 1

    posted = httpx.post(hub.url + "/api/v1/incidents", headers=it, json={
        "id": "INC-7", "title": "Mail server outage", "message": "We are on it.",
        "next_update_at": lp.iso(lp.now() + lp.minutes(30))})
    assert posted.status_code == 201, posted.text
    assert posted.json()["status"] == "investigating"
    assert httpx.post(hub.url + "/api/v1/incidents", headers=it, json={"id": "INC-7", "title": "again"}).status_code == 409
    assert httpx.post(hub.url + "/api/v1/incidents", headers=it, json={"message": "no title"}).status_code == 400
    bad = httpx.post(hub.url + "/api/v1/incidents", headers=it, json={"title": "t", "status": "panicking"})
    assert bad.status_code == 400 and "must be one of" in bad.json()["error"]

    feed = httpx.get(hub.url + "/feed.json", headers=reader)
    [incident] = feed.json()["incidents"]
    assert incident["id"] == "INC-7" and incident["title"] == "Mail server outage"
    assert set(incident) == {"id", "title", "status", "message", "started_at", "updated_at", "next_update_at", "affects"}
    etag, modified = feed.headers["etag"], feed.headers["last-modified"]
    assert httpx.get(hub.url + "/feed.json", headers={**reader, "If-None-Match": etag}).status_code == 304
    assert httpx.get(hub.url + "/feed.json", headers={**reader, "If-Modified-Since": modified}).status_code == 304
    assert httpx.get(hub.url + "/feed.json", headers={**reader, "If-None-Match": '"other"'}).status_code == 200

    time.sleep(1.1)  # Last-Modified has whole seconds: the next change must fall in a later one
    changed = httpx.patch(hub.url + "/api/v1/incidents/INC-7", headers=it,
                          json={"status": "identified", "message": "A disk is full; replacing it."})
    assert changed.status_code == 200 and changed.json()["status"] == "identified"
    assert httpx.patch(hub.url + "/api/v1/incidents/INC-404", headers=it, json={"status": "resolved"}).status_code == 404
    assert httpx.patch(hub.url + "/api/v1/incidents/INC-7", headers=it, json={"colour": "red"}).status_code == 400
    fresh = httpx.get(hub.url + "/feed.json", headers={**reader, "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert fresh.json()["incidents"][0]["message"] == "A disk is full; replacing it."
    assert httpx.get(hub.url + "/feed.json", headers={**reader, "If-Modified-Since": modified}).status_code == 200

    # an IT session may use the API too, with the page's CSRF token on changes
    from app.hub import accounts
    from app.hub.app import CSRF_HEADER, SESSION_COOKIE

    store = store_for(database_url, isolated_home)
    accounts.add_user(store, "alice", "correct horse battery")
    user = accounts.verify_password(store, "alice", "correct horse battery")
    assert user is not None and accounts.verify_password(store, "alice", "wrong password") is None
    cookie, session = accounts.create_session(store, user)
    store.dispose()
    browser = httpx.Client(base_url=hub.url, cookies={SESSION_COOKIE: cookie})
    assert browser.get("/api/v1/groups").status_code == 200
    assert browser.patch("/api/v1/incidents/INC-7", json={"status": "resolved"}).status_code == 403
    done = browser.patch("/api/v1/incidents/INC-7", json={"status": "resolved"}, headers={CSRF_HEADER: session.csrf})
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    stale = httpx.Client(base_url=hub.url, cookies={SESSION_COOKIE: "forged"})
    assert stale.get("/api/v1/groups").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/state"])
def test_wrong_method_and_unknown_paths_answer_json(start_hub, path):
    hub = start_hub()
    answer = httpx.get(hub.url + path)
    assert answer.status_code == 405 and "error" in answer.json()
    assert httpx.get(hub.url + "/api/v1/groups/abc", headers={}).status_code == 401
