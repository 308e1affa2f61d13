"""The grouping rules of SPEC section 8, pass by pass on a real database (SQLite and PostgreSQL),
with the hub's clock given explicitly: no sleeping for the hour a report-only member stays."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, insert, select

from app.hub import grouping, incidents, queries
from app.hub import schema as t
from app.hub.ingest import network_id, parse_report, parse_state
from app.hub.settings import HubSettings
from app.hub.store import Store
from tests.hub import laptops as lp


@pytest.fixture
def hub_db(database_url, tmp_path):
    settings = HubSettings(database=database_url, data_dir=tmp_path, group_wait_s=30, group_interval_s=600,
                           detect_min_laptops=3, detect_min_networks=2)
    settings.notify["webhook_url"] = "http://127.0.0.1:9/hook"  # queued only: nothing is sent here
    store = Store(settings.database_url)
    store.migrate()
    yield store, settings
    store.dispose()


def feed(store, kind, doc, received):
    row = (parse_report if kind == "report" else parse_state)(orjson.dumps(doc), received)
    with store.begin() as conn:
        conn.execute(insert(t.reports if kind == "report" else t.states).values(**row))


def open_groups(store):
    return queries.list_groups(store, "open")


def queued(store):
    with store.read() as conn:
        rows = conn.execute(select(t.notifications.c.event, t.notifications.c.payload).order_by(t.notifications.c.id))
        return [(r.event, orjson.loads(r.payload)) for r in rows]


def test_same_key_groups_counts_laptops_people_networks(hub_db):
    store, settings = hub_db
    t0 = lp.now()
    feed(store, "state", lp.state("a", username="ann", network="aaaaaaaaaaaa"), t0)
    feed(store, "state", lp.state("b", username="ann", network="aaaaaaaaaaaa"), t0)  # ann's second laptop
    feed(store, "state", lp.state("c", username="", network="bbbbbbbbbbbb"), t0)  # no user name: its own person
    feed(store, "state", lp.state("d", failing=lp.IMAP_DOWN, network="bbbbbbbbbbbb"), t0)  # another outage
    feed(store, "report", lp.report("e", note="nothing sends"), t0)  # joins by report alone
    grouping.run_pass(store, settings, t0)
    groups = {g["failing"][0]["kind"]: g for g in open_groups(store)}
    smtp, imap = groups["smtp"], groups["imap"]
    assert (smtp["laptops"], smtp["people"], smtp["networks"]) == (4, 3, 3)
    assert (imap["laptops"], imap["people"], imap["networks"]) == (1, 1, 1)
    e_network = network_id("10.0.0.1", ["10.0.0.53"])
    detail = queries.get_group(store, smtp["id"])
    assert {m["laptop"]: m["network"] for m in detail["members"]}["e"] == e_network
    assert [r["note"] for r in detail["reports"]] == ["nothing sends"]


def test_leaving_resolving_and_the_notification_cycle(hub_db):
    store, settings = hub_db
    t0 = lp.now()
    for name in ("a", "b"):
        feed(store, "state", lp.state(name, at=t0 - timedelta(seconds=5)), t0)
    grouping.run_pass(store, settings, t0)
    assert queued(store) == []  # group_wait_s has not passed
    grouping.run_pass(store, settings, t0 + timedelta(seconds=31))
    [(event, group)] = queued(store)
    assert event == "opened" and group["laptops"] == 2 and len(group["members"]) == 2

    feed(store, "state", lp.state("c", network="cccccccccccc"), t0 + timedelta(seconds=40))
    grouping.run_pass(store, settings, t0 + timedelta(seconds=40))
    assert len(queued(store)) == 1  # grew, but group_interval_s has not passed
    grouping.run_pass(store, settings, t0 + timedelta(seconds=31 + 600))
    assert [e for e, _ in queued(store)] == ["opened", "grew"] and queued(store)[1][1]["laptops"] == 3
    grouping.run_pass(store, settings, t0 + timedelta(seconds=31 + 1300))
    assert len(queued(store)) == 2  # no growth, no digest

    # a later state of another key leaves; an older one arriving late changes nothing
    feed(store, "state", lp.state("a", "ok", at=t0 + timedelta(seconds=50)), t0 + timedelta(seconds=1400))
    feed(store, "state", lp.state("b", at=t0 - timedelta(seconds=60), failing=lp.IMAP_DOWN), t0 + timedelta(seconds=1400))
    grouping.run_pass(store, settings, t0 + timedelta(seconds=1400))
    [group] = open_groups(store)
    assert group["laptops"] == 2 and group["failing"] == lp.SMTP_DOWN
    for name in ("b", "c"):
        feed(store, "state", lp.state(name, "ok", at=t0 + timedelta(seconds=100)), t0 + timedelta(seconds=1500))
    grouping.run_pass(store, settings, t0 + timedelta(seconds=1500))
    assert open_groups(store) == []
    assert [e for e, _ in queued(store)] == ["opened", "grew", "resolved"]
    assert queued(store)[-1][1]["state"] == "resolved"


def test_report_only_member_leaves_after_an_hour_without_another_report(hub_db):
    store, settings = hub_db
    t0 = lp.now()
    feed(store, "report", lp.report("r1"), t0)
    feed(store, "state", lp.state("s1"), t0)
    grouping.run_pass(store, settings, t0)
    feed(store, "report", lp.report("r1"), t0 + timedelta(minutes=50))  # another report: the hour restarts
    grouping.run_pass(store, settings, t0 + timedelta(minutes=50))
    grouping.run_pass(store, settings, t0 + timedelta(minutes=70))
    assert open_groups(store)[0]["laptops"] == 2
    grouping.run_pass(store, settings, t0 + timedelta(minutes=111))
    [group] = open_groups(store)
    assert group["laptops"] == 1 and [m["laptop"] for m in queries.get_group(store, group["id"])["members"]] == ["s1"]
    # a laptop that also sent a state is not on the report clock
    feed(store, "report", lp.report("s1"), t0 + timedelta(minutes=112))
    grouping.run_pass(store, settings, t0 + timedelta(minutes=300))
    assert open_groups(store)[0]["laptops"] == 1
    feed(store, "report", lp.report("lonely", failing=lp.IMAP_DOWN), t0 + timedelta(minutes=301))
    grouping.run_pass(store, settings, t0 + timedelta(minutes=301))
    assert len(open_groups(store)) == 2
    grouping.run_pass(store, settings, t0 + timedelta(minutes=362))
    assert len(open_groups(store)) == 1  # nobody left: resolved


def test_auto_incident_known_incident_and_it_edits_win(hub_db):
    store, settings = hub_db
    t0 = lp.now()
    feed(store, "state", lp.state("a", network="aaaaaaaaaaaa"), t0)
    feed(store, "state", lp.state("b", network="aaaaaaaaaaaa"), t0)
    feed(store, "state", lp.state("c", network="aaaaaaaaaaaa"), t0)
    grouping.run_pass(store, settings, t0)
    assert incidents.list_incidents(store) == []  # three laptops, but one network
    feed(store, "state", lp.state("d", network="dddddddddddd"), t0)
    grouping.run_pass(store, settings, t0)
    [incident] = incidents.list_incidents(store)
    [group] = open_groups(store)
    assert incident["status"] == "investigating" and incident["title"] == lp.HEADLINE
    assert "alerted automatically" in incident["message"] and "4 laptops" in incident["message"]
    assert group["incident"] == incident["id"] and incident["group"] == group["id"]

    # a report naming the incident joins its group even when its own failure reads differently
    feed(store, "report", lp.report("e", failing=lp.IMAP_DOWN, known_incident=incident["id"]), t0)
    grouping.run_pass(store, settings, t0)
    [group] = open_groups(store)
    assert group["laptops"] == 5
    assert "5 laptops" in incidents.list_incidents(store)[0]["message"]

    # IT takes over the words: the hub's counts no longer rewrite them
    incidents.update_incident(store, settings, incident["id"], {"message": "Replacing the disk; back by noon."})
    feed(store, "state", lp.state("f", network="ffffffffffff"), t0)
    grouping.run_pass(store, settings, t0)
    assert incidents.list_incidents(store)[0]["message"] == "Replacing the disk; back by noon."
    assert open_groups(store)[0]["laptops"] == 6

    # IT resolves the incident: the group resolves with it, and IT hears so once
    grouping.run_pass(store, settings, t0 + timedelta(seconds=31))
    incidents.update_incident(store, settings, incident["id"], {"status": "resolved"})
    assert open_groups(store) == []
    assert [e for e, _ in queued(store)] == ["opened", "resolved"]


def test_auto_incident_resolves_itself_when_the_outage_ends(hub_db):
    store, settings = hub_db
    t0 = lp.now()
    for name, net in (("a", "aaaaaaaaaaaa"), ("b", "bbbbbbbbbbbb"), ("c", "bbbbbbbbbbbb")):
        feed(store, "state", lp.state(name, network=net, at=t0), t0)
    grouping.run_pass(store, settings, t0)
    for name in ("a", "b", "c"):
        feed(store, "state", lp.state(name, "ok", at=t0 + timedelta(seconds=1)), t0 + timedelta(seconds=5))
    grouping.run_pass(store, settings, t0 + timedelta(seconds=5))
    [incident] = incidents.list_incidents(store)
    assert incident["status"] == "resolved" and "works again" in incident["message"]
    assert queued(store) == []  # over before group_wait_s: IT was never paged, so no "resolved" either


def test_a_paced_grouper_recounts_big_groups_at_most_every_second_and_never_forgets_one(hub_db):
    """The grouper loop's passes stay short as an outage grows: a big group's recount waits up to
    recount_every_s (with no new event it still comes), a small group is recounted every pass."""
    store, settings = hub_db
    t0 = lp.now()
    pacing = grouping.Pacing(recount_every_s=1.0, big_group=5, expire_every_s=30.0)
    for i in range(6):
        feed(store, "state", lp.state(f"big-{i}", network=f"{i:012x}"), t0)
    feed(store, "state", lp.state("small-0", failing=lp.IMAP_DOWN), t0)
    grouping.run_pass(store, settings, t0, pacing)
    counts = {g["failing"][0]["kind"]: g["laptops"] for g in open_groups(store)}
    assert counts == {"smtp": 6, "imap": 1}

    later = t0 + timedelta(milliseconds=300)
    feed(store, "state", lp.state("big-6"), later)
    feed(store, "state", lp.state("small-1", failing=lp.IMAP_DOWN), later)
    grouping.run_pass(store, settings, later, pacing)
    counts = {g["failing"][0]["kind"]: g["laptops"] for g in open_groups(store)}
    assert counts == {"smtp": 6, "imap": 2}  # the big group waits, the small one does not
    assert pacing.pending

    grouping.run_pass(store, settings, t0 + timedelta(seconds=1.1), pacing)  # no new event
    counts = {g["failing"][0]["kind"]: g["laptops"] for g in open_groups(store)}
    assert counts == {"smtp": 7, "imap": 2} and not pacing.pending

    # a grouper that starts afresh (or whose pass failed) recounts every open group once
    with store.begin() as conn:
        conn.execute(t.groups.update().values(laptops=0, people=0, networks=0))
    fresh = grouping.Pacing(big_group=5)
    grouping.run_pass(store, settings, t0 + timedelta(seconds=1.2), fresh)
    assert {g["failing"][0]["kind"]: (g["laptops"], g["networks"]) for g in open_groups(store)} == {
        "smtp": (7, 7), "imap": (2, 1)}

    # a waiting big group's due recount is read before the pass, outside its write transaction
    # (which every ingest commit waits for): what that pass adds comes with the next recount
    def smtp() -> int:
        return next(g["laptops"] for g in open_groups(store) if g["failing"][0]["kind"] == "smtp")

    feed(store, "state", lp.state("big-7"), t0 + timedelta(seconds=1.5))
    grouping.run_pass(store, settings, t0 + timedelta(seconds=1.5), fresh)
    assert smtp() == 7 and fresh.pending  # not due yet: waits
    feed(store, "state", lp.state("big-8"), t0 + timedelta(seconds=2.6))
    grouping.run_pass(store, settings, t0 + timedelta(seconds=2.6), fresh)
    assert smtp() == 8 and fresh.pending  # counted before this pass; big-8 is in the next count
    grouping.run_pass(store, settings, t0 + timedelta(seconds=3.7), fresh)  # no new event
    assert smtp() == 9 and not fresh.pending


def test_a_paced_grouper_lets_report_only_members_go_on_its_own_slower_clock(hub_db):
    store, settings = hub_db
    t0 = lp.now()
    pacing = grouping.Pacing(expire_every_s=30.0)
    feed(store, "report", lp.report("r1"), t0)
    feed(store, "state", lp.state("s1"), t0)
    grouping.run_pass(store, settings, t0, pacing)
    assert open_groups(store)[0]["laptops"] == 2
    hour_later = t0 + timedelta(minutes=61)
    grouping.run_pass(store, settings, hour_later, pacing)
    assert open_groups(store)[0]["laptops"] == 1  # the first pass past the hour lets r1 go
    feed(store, "report", lp.report("r2"), hour_later)
    grouping.run_pass(store, settings, hour_later, pacing)
    two_hours = t0 + timedelta(minutes=122)
    feed(store, "state", lp.state("s2"), two_hours)
    grouping.run_pass(store, settings, two_hours, pacing)
    assert open_groups(store)[0]["laptops"] == 2  # r2 was let go, s2 joined
    grouping.run_pass(store, settings, two_hours + timedelta(seconds=10), pacing)
    assert open_groups(store)[0]["laptops"] == 2


def _script(t0):
    """An outage told in batches: laptops joining by state and by report, one moving to another
    outage, one recovering, a report naming an incident, a repeat of a stored report."""
    a_report = lp.report("r1", note="cannot send", username="rita")
    batches = [
        [("state", lp.state(f"s{i}", username=f"u{i}", network=f"{i % 3:012d}", at=t0)) for i in range(6)]
        + [("report", a_report), ("report", lp.report("r2", gateway="10.9.0.1"))],
        [("state", lp.state("s1", "ok", at=t0 + timedelta(seconds=5))),
         ("state", lp.state("s2", failing=lp.IMAP_DOWN, at=t0 + timedelta(seconds=5))),
         ("state", lp.state("s3", at=t0 - timedelta(seconds=5))),  # older than what s3 said: changes nothing
         ("report", lp.report("s4", note="me too", username="u4")),
         ("report", lp.report("r3", known_incident="inc-1"))],
        [("report", a_report),  # the same report again (a retry the journal could not recognise)
         ("state", lp.state("s0", "ok", at=t0 + timedelta(seconds=9))),
         ("report", lp.report("r4", verdict="ok", failing=[]))],
    ]
    return [[(kind, doc, t0 + timedelta(seconds=step)) for kind, doc in batch] for step, batch in enumerate(batches)]


def _outcome(store):
    with store.read() as conn:
        keys = {r.id: r.key for r in conn.execute(select(t.groups))}
        groups = sorted((r.key, r.state, r.laptops, r.people, r.networks, r.headline, r.incident_id)
                        for r in conn.execute(select(t.groups)))
        members = sorted((keys[r.group_id], r.laptop, r.username, r.network, r.since, r.last_at, r.by_state, r.left_at)
                         for r in conn.execute(select(t.group_members)))
        laptops = sorted(tuple(r) for r in conn.execute(select(t.laptops)))
        reports = sorted((r.id, keys.get(r.group_id), r.grouped) for r in conn.execute(select(t.reports)))
        states = sorted((r.laptop, r.at, r.grouped) for r in conn.execute(select(t.states)))
        notes = sorted((r.event, keys[r.group_id]) for r in conn.execute(select(t.notifications)))
    return groups, members, laptops, reports, states, notes


def test_rows_grouped_as_they_are_stored_end_exactly_as_rows_stored_then_grouped(hub_db, database_url, request, tmp_path):
    """The journal's loader hands its rows to the pass (run_pass incoming=...), which stores them
    grouped in its own transaction; the outcome is row for row what storing first and grouping
    afterwards gives, a repeat of a stored report included."""
    store, settings = hub_db
    other_url = request.getfixturevalue("pg_cluster").new_database() if database_url else ""
    other_settings = HubSettings(database=other_url, data_dir=tmp_path / "other", group_wait_s=30, group_interval_s=600,
                                 detect_min_laptops=3, detect_min_networks=2)
    other_settings.notify["webhook_url"] = settings.notify["webhook_url"]
    other = Store(other_settings.database_url)
    other.migrate()
    with store.begin() as conn:
        conn.execute(insert(t.incidents).values(id="inc-1", title="Sending mail", status="investigating",
                                                started_at=lp.now(), updated_at=lp.now()))
    with other.begin() as conn:
        conn.execute(insert(t.incidents).values(id="inc-1", title="Sending mail", status="investigating",
                                                started_at=lp.now(), updated_at=lp.now()))
    t0 = lp.now().replace(microsecond=0)
    for step, batch in enumerate(_script(t0)):
        now = t0 + timedelta(seconds=step, milliseconds=500)
        for kind, doc, received in batch:  # stored first, then grouped
            if not (kind == "report" and step == 2 and doc["reporter"]["laptop"] == "r1"):
                feed(store, kind, doc, received)
        grouping.run_pass(store, settings, now)
        rows = {"report": [], "state": []}
        for kind, doc, received in batch:  # handed to the pass, stored by it
            rows[kind].append((parse_report if kind == "report" else parse_state)(orjson.dumps(doc), received))
        result = grouping.run_pass(other, other_settings, now, incoming=rows)
        assert result.locked and result.events == len(batch) - (step == 2)  # the repeat is not applied
    assert _outcome(other) == _outcome(store)
    groups, members, _laptops, reports, states, _notes = _outcome(other)
    assert len(reports) == 4 + 1 and all(grouped for *_, grouped in reports + states)  # r1 once, r4 (ok) too
    open_keys = {g[0] for g in groups if g[1] == "open"}
    assert len(open_keys) == 2 and any(m[-1] is not None for m in members)  # two outages; someone left one
    assert sum(1 for r in reports if r[1] is None) == 1  # the report saying mail works belongs to no outage
    other.dispose()


def test_rows_handed_to_a_pass_while_another_process_groups_are_stored_for_its_next_pass(pg_cluster, tmp_path):
    """PostgreSQL only: on SQLite a pass is always the one writer, so it always has the lock."""
    settings = HubSettings(database=pg_cluster.new_database(), data_dir=tmp_path, group_wait_s=30)
    store = Store(settings.database_url)
    store.migrate()
    t0 = lp.now()
    rows = {"state": [parse_state(orjson.dumps(lp.state(f"w{i}", at=t0)), t0) for i in range(3)], "report": []}
    with store.engine.connect() as holder:  # another process's pass holds the grouper lock
        assert store.try_lock(holder, grouping.GROUPER_LOCK)
        result = grouping.run_pass(store, settings, t0, incoming=rows)
        assert not result.locked
        with store.read() as conn:
            assert sorted((r.laptop, r.grouped) for r in conn.execute(select(t.states))) == [
                ("w0", False), ("w1", False), ("w2", False)]
        holder.rollback()
    result = grouping.run_pass(store, settings, t0)  # that process's next pass (or ours) takes them
    assert result.events == 3
    assert [g["laptops"] for g in open_groups(store)] == [3]
    store.dispose()


def _rows_read(plan: dict) -> int:
    """Rows an EXPLAIN ANALYZE plan's scans read: those they returned and those they threw away."""
    own = 0
    if "Scan" in plan["Node Type"]:
        own = (plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
               + plan.get("Rows Removed by Index Recheck", 0)) * plan["Actual Loops"]
    return own + sum(_rows_read(child) for child in plan.get("Plans", []))


def test_a_pass_looks_up_its_laptops_without_reading_a_whole_outage_once_the_tables_grew(pg_cluster, tmp_path):
    """PostgreSQL only (SQLite plans by its indexes without statistics). An outage fills
    `laptops` and `group_members` from nothing within seconds; the hub makes their statistics
    again as they grow (Store.analyze_grown), so the next pass finds 50 laptops' rows by index,
    not by reading the outage's 20,000 members."""
    from sqlalchemy import text

    from app.hub import bulk

    settings = HubSettings(database=pg_cluster.new_database(), data_dir=tmp_path, group_wait_s=30)
    store = Store(settings.database_url)
    store.migrate()
    with store.begin() as conn:  # autovacuum stays out of it: only the hub's own ANALYZE counts
        for name in ("laptops", "group_members"):
            conn.execute(text(f"ALTER TABLE {name} SET (autovacuum_enabled = false)"))
    t0 = lp.now()
    for start in range(0, 20_000, 1000):
        states = [parse_state(orjson.dumps(lp.state(f"big-{i:05d}", at=t0)), t0) for i in range(start, start + 1000)]
        grouping.run_pass(store, settings, t0, incoming={"state": states, "report": []})
    with store.read() as conn:
        (group,) = conn.execute(select(t.groups.c.id)).scalars().all()
        assert conn.execute(select(func.count()).select_from(t.group_members)).scalar() == 20_000

    store.engine.dispose()  # a connection's counts of changed rows reach the statistics when it ends
    assert {"laptops", "group_members", "states"} <= set(store.analyze_grown())
    assert store.analyze_grown() == []  # nothing changed since: nothing to do again

    wanted = [f"big-{i:05d}" for i in range(1000, 1050)]
    b = bulk.of(store.engine.dialect)
    with store.read() as conn:
        for query in (grouping.laptops_query(b, wanted), grouping.members_query(b, wanted, [group])):
            compiled = query.compile(conn)
            (plan,) = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.params).scalar()
            assert _rows_read(plan["Plan"]) <= 200, plan  # without the statistics: 40,000 members
    store.dispose()
