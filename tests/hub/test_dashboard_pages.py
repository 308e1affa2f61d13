"""The dashboard's pages in process, fed through the hub's real ingest API: what each page says,
that people's words are shown as text (never as markup), the incident forms' checks and CSRF,
and the live endpoint's answers."""

from __future__ import annotations

import time

import pytest

from app.hub.accounts import create_token
from tests.hub.browser import report_body, state_event
from tests.hub.web_client import hidden, make_hub, sign_in


@pytest.fixture
def hub(tmp_path):
    client, store = make_hub(tmp_path, workers=True, group_wait_s=0, detect_min_laptops=50)
    with client:
        client.token = create_token(store, "laptops")
        sign_in(client)
        yield client


def ingest(hub, path: str, body: dict) -> None:
    r = hub.post(path, json=body, headers={"Authorization": f"Bearer {hub.token}"})
    assert r.status_code in (200, 201), r.text


def until(check, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def open_group(hub) -> str:
    ingest(hub, "/api/v1/state", state_event("c" * 32, "down", "0000000000c1", user="kim"))
    return until(lambda: "data-group=" in (page := hub.get("/").text) and page)


def test_the_overview_shows_the_group_its_counts_checks_and_notes_as_plain_text(hub):
    ingest(hub, "/api/v1/reports", report_body("d" * 32, '<img src=x onerror="alert(1)"> & <b>bold</b>'))
    page = until(lambda: "report" in (p := hub.get("/").text) and "data-group=" in p and p)
    assert "1 laptop" in page and "tcp_timeout" in page and "smtp.corp.example:587" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x" not in page and "<b>bold" not in page


def test_the_live_endpoint_answers_unchanged_then_changed(hub):
    open_group(hub)
    # hold the fleet counter still, so only the outage groups move the version here
    counts = hub.app.state.hub.extra["web_fleet"]
    until(lambda: counts.counted > 0)
    counts.stop()
    first = hub.get("/live", params={"v": ""}).json()
    assert first["changed"] is True and "1 laptop" in first["parts"]["groups"]
    assert hub.get("/live", params={"v": first["version"]}).json() == {"version": first["version"], "changed": False}
    ingest(hub, "/api/v1/state", state_event("e" * 32, "down", "0000000000e1", user="lee"))
    changed = until(lambda: (r := hub.get("/live", params={"v": first["version"]}).json())["changed"]
                    and "2 laptops" in r["parts"]["groups"] and r)
    assert set(changed["parts"]) == {"groups", "fleet", "incidents"}
    assert changed["counts"] == {"groups": 1, "laptops": 2}
    assert hub.get("/live", params={"v": changed["version"]}).json()["changed"] is False


def test_a_group_and_a_report_page_and_what_is_not_there(hub):
    open_group(hub)
    body = report_body("c" * 32, "Since the fire drill")
    ingest(hub, "/api/v1/reports", body)
    group_id = until(lambda: hub.get("/api/v1/groups?state=open").json()["groups"])[0]["id"]
    page = until(lambda: "Since the fire drill" in (p := hub.get(f"/groups/{group_id}").text) and p)
    assert "kim joined" in page and f'/reports/{body["id"]}' in page
    report = hub.get(f"/reports/{body['id']}")
    assert report.status_code == 200 and "Since the fire drill" in report.text
    raw = hub.get(f"/reports/{body['id']}.json")
    assert raw.headers["content-type"].startswith("application/json") and raw.json()["id"] == body["id"]
    assert hub.get("/groups/99999").status_code == 404 and hub.get("/groups/x").status_code == 404
    missing = hub.get("/reports/no-such-report")
    assert missing.status_code == 404 and "No such report" in missing.text


def test_incident_forms_check_what_was_typed_and_keep_it(hub):
    form = hub.get("/incidents")
    token = hidden(form.text)
    r = hub.post("/incidents", data={"csrf": token, "title": "", "message": "Mail is slow", "next_update": "30m"})
    assert r.status_code == 400 and "Give the incident a title" in r.text and "Mail is slow" in r.text
    r = hub.post("/incidents", data={"csrf": token, "title": "Slow mail", "message": "x", "next_update": "soonish"})
    assert r.status_code == 400 and "duration like 30m" in r.text and 'value="Slow mail"' in r.text
    assert "incident-INC" not in hub.get("/incidents").text  # nothing was posted
    r = hub.post("/incidents", data={"csrf": token, "title": "Slow mail", "message": "Looking into it", "next_update": ""},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/incidents?done=")
    incident_id = r.headers["location"].split("done=", 1)[1].split("#", 1)[0]
    r = hub.post(f"/incidents/{incident_id}", data={"csrf": token, "action": "update", "status": "sideways"})
    assert r.status_code == 400 and "Choose one of the listed states" in r.text
    r = hub.post("/incidents/INC-NOPE", data={"csrf": token, "action": "resolve"})
    assert r.status_code == 400 and "INC-NOPE" in r.text


def test_incident_forms_need_the_session_s_csrf_token(hub):
    for path in ("/incidents", "/incidents/INC-1"):
        r = hub.post(path, data={"title": "Forged", "message": "x", "action": "resolve"})
        assert r.status_code == 403
        r = hub.post(path, data={"csrf": "not-the-token", "title": "Forged", "message": "x"})
        assert r.status_code == 403
    assert "Forged" not in hub.get("/incidents").text


def test_posting_from_a_group_links_the_incident_to_it(hub):
    open_group(hub)
    group_id = until(lambda: hub.get("/api/v1/groups?state=open").json()["groups"])[0]["id"]
    form = hub.get(f"/incidents?group={group_id}")
    assert 'value="The mail server is not answering"' in form.text  # the title, prefilled
    r = hub.post("/incidents", data={"csrf": hidden(form.text), "group": str(group_id), "title": "Mail down",
                                     "message": "On it", "next_update": "1h"}, follow_redirects=False)
    assert r.status_code == 303
    group = hub.get(f"/api/v1/groups/{group_id}").json()
    assert group["incident"] is not None
    # resolving it on the page resolves the outage group too (SPEC 8)
    token = hidden(hub.get("/incidents").text)
    hub.post(f"/incidents/{group['incident']}", data={"csrf": token, "action": "resolve"})
    assert until(lambda: hub.get(f"/api/v1/groups/{group_id}").json()["state"] == "resolved")


def test_fleet_counts_the_last_day_by_verdict_and_network(tmp_path):
    from datetime import timedelta

    from sqlalchemy import insert

    from app.hub import schema as t
    from app.hub.clock import utc_now
    from app.hub.web import queries
    from app.hub.web.fleet import MAX_REFRESH_S, MIN_REFRESH_S, FleetCounts

    _, store = make_hub(tmp_path)
    now = utc_now()
    rows = [("ok", "aaaaaaaaaaaa", 1), ("ok", "aaaaaaaaaaaa", 2), ("down", "aaaaaaaaaaaa", 3),
            ("down", "bbbbbbbbbbbb", 4), ("local", "", 5), ("down", "cccccccccccc", 30)]  # hours ago
    with store.begin() as conn:
        conn.execute(insert(t.laptops), [
            {"id": f"{i:032x}", "first_seen": now - timedelta(days=2), "last_seen": now - timedelta(hours=h),
             "verdict": v, "network": n} for i, (v, n, h) in enumerate(rows)])
    with store.read() as conn:
        fleet = queries.fleet(conn, now)
    assert fleet["total"] == 5  # the laptop last seen 30 h ago is not in today's fleet
    assert fleet["by_verdict"] == {"ok": 2, "down": 2, "local": 1}
    assert fleet["networks"][0] == {"network": "aaaaaaaaaaaa", "laptops": 3, "affected": 1}
    assert {n["network"]: n["affected"] for n in fleet["networks"]} == {"aaaaaaaaaaaa": 1, "bbbbbbbbbbbb": 1, "": 1}
    assert fleet["network_count"] == 2  # "unknown" is not a network

    counts = FleetCounts(store)
    assert counts.value is None
    assert counts.count_now()["total"] == 5 and counts.value["total"] == 5
    counts.last_cost_s = 0.001
    assert counts.next_wait_s() == MIN_REFRESH_S
    counts.last_cost_s = 1.5  # a slow database: counted less often, bounded
    assert counts.next_wait_s() == 30.0
    counts.last_cost_s = 100.0
    assert counts.next_wait_s() == MAX_REFRESH_S
