"""Grouping (SPEC section 8): stored reports and state events become outages.

One pass runs in one transaction under the grouper lock, so however many `serve` processes share
the database, events are grouped and notifications queued by one of them at a time:
1. take the ungrouped events, oldest first; apply each to its laptop and groups;
2. let report-only members go after an hour without another report;
3. recount the touched groups; resolve the empty ones; open or refresh the automatic incident;
4. queue the notifications that are due (first after group_wait_s, then one per
   group_interval_s while the group grows, one when it resolves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, case, false, func, insert, literal, select, update

from app.hub import bulk, incidents, notify
from app.hub import schema as t
from app.hub.store import GROUPER_LOCK, Store

if TYPE_CHECKING:
    from app.hub.settings import HubSettings

log = logging.getLogger(__name__)

BATCH = 500  # events per pass: the pass holds the write lock, so keep it short
REPORT_MEMBER_TTL = timedelta(hours=1)
_CHUNK = 500  # IN (...) lists stay well under every database's parameter limit


@dataclass
class PassResult:
    locked: bool = True
    events: int = 0
    touched: set[int] = field(default_factory=set)
    queued: int = 0
    more: bool = False  # more ungrouped events wait: run again at once


@dataclass
class Pacing:
    """What a long-running grouper does less often than every pass, so that a pass stays short
    however large an outage grows: recounting a group costs time in proportion to its members,
    and letting report-only members go (an hour's rule) scans the open groups' members.

    A group of `big_group` laptops or more is recounted at most every `recount_every_s` (its
    counts are then at most that late; smaller groups are recounted on every pass that touches
    them), and report-only members are let go every `expire_every_s`. Without a Pacing, a pass
    does everything (tests, one-off passes)."""

    recount_every_s: float = 1.0
    big_group: int = 500
    expire_every_s: float = 30.0
    pending: set[int] = field(default_factory=set)  # touched big groups waiting for their recount
    recounted: dict[int, datetime] = field(default_factory=dict)
    expired_at: datetime | None = None
    # a new grouper (or one whose last pass failed, so what it deferred may be lost) recounts
    # every open group once
    recount_all: bool = True

    def expire_due(self, now: datetime) -> bool:
        if self.expired_at is not None and (now - self.expired_at).total_seconds() < self.expire_every_s:
            return False
        self.expired_at = now
        return True

    def due_before(self, now: datetime) -> set[int]:
        """The waiting big groups whose recount is due: counted before the pass's transaction."""
        return {gid for gid in self.pending
                if (last := self.recounted.get(gid)) is None or (now - last).total_seconds() >= self.recount_every_s}

    def recount_now(self, touched: set[int], open_groups: dict[int, dict[str, Any]], now: datetime) -> set[int]:
        """Of the touched groups and those waiting, the ones to recount in this pass."""
        now_ids: set[int] = set(open_groups) if self.recount_all else set()
        self.recount_all = False
        for gid in touched | self.pending:
            group = open_groups.get(gid)
            last = self.recounted.get(gid)
            if group is None or group["laptops"] < self.big_group or last is None \
                    or (now - last).total_seconds() >= self.recount_every_s:
                now_ids.add(gid)
        self.pending = (touched | self.pending) - now_ids
        for gid in now_ids:
            self.recounted[gid] = now
        for gid in [g for g in self.recounted if g not in open_groups and g not in now_ids]:
            del self.recounted[gid]  # resolved: forget it
        return now_ids


def chunks(items: list, size: int = _CHUNK):
    """`items` in slices of `size`: IN (...) lists under every database's parameter limit."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Pass:
    """The working set of one pass: the laptops, open groups and memberships it touches."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn, self.now = conn, now
        self.bulk = bulk.of(conn.dialect)
        self.groups: dict[str, dict[str, Any]] = {}  # open groups by key
        self.groups_by_id: dict[int, dict[str, Any]] = {}
        for row in conn.execute(select(t.groups).where(t.groups.c.state == "open")):
            g = dict(row._mapping)
            self.groups[g["key"]] = g
            self.groups_by_id[g["id"]] = g
        self.laptops: dict[str, dict[str, Any]] = {}
        self.new_laptops: set[str] = set()
        self.dirty_laptops: set[str] = set()
        self.members: dict[tuple[int, str], dict[str, Any]] = {}  # (group, laptop) in open groups
        self.new_members: set[tuple[int, str]] = set()
        self.dirty_members: set[tuple[int, str]] = set()
        self.by_laptop: dict[str, set[int]] = {}  # laptop -> open groups it is (or was) a member of
        self.touched: set[int] = set()
        self.report_groups: list[tuple[int, int]] = []  # (stored report's seq, group id)

    def load(self, laptop_ids: list[str]) -> None:
        for chunk in chunks(laptop_ids):
            for row in self.conn.execute(laptops_query(self.bulk, chunk)):
                self.laptops[row.id] = dict(row._mapping)
            if self.groups_by_id:
                for row in self.conn.execute(members_query(self.bulk, chunk, self.groups_by_id)):
                    self.members[(row.group_id, row.laptop)] = dict(row._mapping)
                    self.by_laptop.setdefault(row.laptop, set()).add(row.group_id)

    def laptop(self, laptop_id: str, when: datetime) -> dict[str, Any]:
        row = self.laptops.get(laptop_id)
        if row is None:
            row = {"id": laptop_id, "first_seen": when, "last_seen": when, "verdict": "", "layer": "",
                   "headline": "", "network": "", "username": "", "app_version": "", "state_at": None}
            self.laptops[laptop_id] = row
            self.new_laptops.add(laptop_id)
        row["last_seen"] = max(row["last_seen"], when)
        self.dirty_laptops.add(laptop_id)
        return row

    def open_group(self, ev: dict[str, Any]) -> dict[str, Any]:
        group = self.groups.get(ev["group_key"])
        if group is not None:
            return group
        values = {"key": ev["group_key"], "state": "open", "verdict": ev["verdict"], "layer": ev["layer"],
                  "failing": ev["failing"], "headline": ev["headline"], "laptops": 0, "people": 0, "networks": 0,
                  "first_at": self.now, "last_at": self.now, "changed_at": self.now, "notified_laptops": 0,
                  "resolved_at": None, "incident_id": None, "notified_at": None}
        group_id = self.conn.execute(insert(t.groups).values(**values).returning(t.groups.c.id)).scalar_one()
        group = {"id": group_id, **values}
        self.groups[group["key"]] = group
        self.groups_by_id[group_id] = group
        return group

    def join(self, group: dict[str, Any], ev: dict[str, Any], when: datetime, *, by_state: bool) -> None:
        key = (group["id"], ev["laptop"])
        member = self.members.get(key)
        if member is None:
            member = {"group_id": group["id"], "laptop": ev["laptop"], "since": when, "left_at": None, "by_state": by_state}
            self.members[key] = member
            self.new_members.add(key)
            self.by_laptop.setdefault(ev["laptop"], set()).add(group["id"])
        elif member["left_at"] is not None:  # back in the same outage
            member.update(since=when, left_at=None, by_state=by_state)
        member["by_state"] = member["by_state"] or by_state
        member["last_at"] = max(member.get("last_at") or when, when)
        if by_state:  # the state says where the laptop is now; a report only fills gaps
            member["username"] = ev["username"] or member.get("username") or ""
            member["network"] = ev["network"] or member.get("network") or ""
        else:
            member["username"] = member.get("username") or ev["username"]
            member["network"] = member.get("network") or ev["network"]
        self.dirty_members.add(key)
        group["last_at"] = self.now
        if not group["headline"] and ev["headline"]:
            group["headline"] = ev["headline"]
        self.touched.add(group["id"])

    def leave_others(self, laptop_id: str, keep_key: str | None, when: datetime) -> None:
        for group_id in self.by_laptop.get(laptop_id, ()):
            group = self.groups_by_id.get(group_id)
            member = self.members.get((group_id, laptop_id))
            if group is None or member is None or member["left_at"] is not None:
                continue
            if group["key"] != keep_key and when >= member["since"]:
                member["left_at"] = when
                self.dirty_members.add((group_id, laptop_id))
                self.touched.add(group_id)

    # -------------------------------------------------------- events

    def apply_state(self, ev: dict[str, Any]) -> None:
        laptop = self.laptop(ev["laptop"], ev["received_at"])
        if laptop["state_at"] is not None and ev["at"] <= laptop["state_at"]:
            return  # an older state that arrived late changes nothing
        laptop.update(state_at=ev["at"], verdict=ev["verdict"], layer=ev["layer"], headline=ev["headline"],
                      network=ev["network"], app_version=ev["app_version"] or laptop["app_version"])
        if ev["username"]:
            laptop["username"] = ev["username"]
        ok = ev["verdict"] == "ok"
        self.leave_others(ev["laptop"], None if ok else ev["group_key"], ev["at"])
        if not ok:
            self.join(self.open_group(ev), ev, ev["at"], by_state=True)

    def apply_report(self, ev: dict[str, Any], incident_groups: dict[str, int]) -> None:
        laptop = self.laptop(ev["laptop"], ev["received_at"])
        if ev["username"] and not laptop["username"]:
            laptop["username"] = ev["username"]
        if ev["network"] and not laptop["network"]:
            laptop["network"] = ev["network"]
        if not laptop["verdict"]:  # no state yet: the report is what the hub knows
            laptop.update(verdict=ev["verdict"], layer=ev["layer"], headline=ev["headline"])
        group = None
        if ev["known_incident"]:
            group = self.groups_by_id.get(incident_groups.get(ev["known_incident"]) or -1)
        if group is None and ev["verdict"] != "ok":
            group = self.open_group(ev)
            if ev["known_incident"] and group["incident_id"] is None and ev["known_incident"] in incident_groups:
                group["incident_id"] = ev["known_incident"]  # IT's incident had no group yet
                incidents.link_group(self.conn, ev["known_incident"], group["id"])
        if group is not None:
            # the hub's clock, not the laptop's: the hour a report-only member stays is counted here
            self.join(group, ev, ev["received_at"], by_state=False)
            if "seq" in ev:
                self.report_groups.append((ev["seq"], group["id"]))
            else:  # arriving in this pass: stored with its group
                ev["group_id"] = group["id"]

    # -------------------------------------------------------- writing back

    def flush(self) -> None:
        write = self.bulk
        write.insert(self.conn, t.laptops, _LAPTOP, [self.laptops[i] for i in self.new_laptops])
        write.update(self.conn, t.laptops, ("id",), _LAPTOP_CHANGES,
                     [self.laptops[i] for i in self.dirty_laptops - self.new_laptops])
        write.insert(self.conn, t.group_members, _MEMBER, [self.members[key] for key in self.new_members])
        write.update(self.conn, t.group_members, ("group_id", "laptop"), _MEMBER_CHANGES,
                     [self.members[key] for key in self.dirty_members - self.new_members])
        # grouped with their group in one write: each update rewrites the row
        write.update(self.conn, t.reports, ("seq",), ("group_id", "grouped"),
                     [{"seq": seq, "group_id": gid, "grouped": True} for seq, gid in self.report_groups])


_LAPTOP = tuple(c.name for c in t.laptops.c)
_LAPTOP_CHANGES = tuple(c for c in _LAPTOP if c not in ("id", "first_seen"))
_MEMBER = tuple(c.name for c in t.group_members.c)
_MEMBER_CHANGES = tuple(c for c in _MEMBER if c not in ("group_id", "laptop"))
# what grouping reads of an event (not a report's body or note)
_EVENT = {table.name: [table.c[name] for name in (*names, "seq", "laptop", "received_at", "verdict", "layer", "group_key",
                                                     "failing", "headline", "username", "network")]
          for table, names in ((t.reports, ("known_incident",)), (t.states, ("at", "app_version")))}


def laptops_query(b: bulk.Bulk, laptop_ids: list[str]) -> Any:
    return select(t.laptops).where(b.among(t.laptops.c.id, laptop_ids))


def members_query(b: bulk.Bulk, laptop_ids: list[str], group_ids: Any) -> Any:
    """These laptops' memberships in these groups (an open outage can have 100,000 members)."""
    m = t.group_members.c
    return select(t.group_members).where(b.among(m.laptop, laptop_ids), b.among(m.group_id, group_ids))


def ungrouped_query(table: Any) -> Any:
    """The oldest events waiting for grouping, read through the table's partial index: its
    condition (grouped = false) is this query's own."""
    return select(*_EVENT[table.name]).where(table.c.grouped == false()).order_by(table.c.seq).limit(BATCH)


def _ungrouped(conn: Connection, table: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(ungrouped_query(table))]


def _mark_grouped(conn: Connection, table: Any, seqs: list[int]) -> None:
    for chunk in chunks(seqs, 2000):
        conn.execute(update(table).where(bulk.of(conn.dialect).among(table.c.seq, chunk)).values(grouped=True))


def _expire_report_members(conn: Connection, now: datetime) -> set[int]:
    m = t.group_members.c
    open_ids = select(t.groups.c.id).where(t.groups.c.state == "open")
    rows = conn.execute(
        update(t.group_members)
        .where(m.by_state == literal(False), m.left_at.is_(None), m.last_at < now - REPORT_MEMBER_TTL, m.group_id.in_(open_ids))
        .values(left_at=now)
        .returning(m.group_id)
    )
    return {r[0] for r in rows}


def count(conn: Connection, group_ids: set[int]) -> dict[int, tuple[int, int, int]]:
    """(laptops, people, networks) now in each group: a person is a user name, or the laptop when
    it sends none."""
    m = t.group_members.c
    person = case((m.username == "", literal("laptop:") + m.laptop), else_=m.username)
    network = case((m.network == "", None), else_=m.network)
    ids = sorted(group_ids)
    counts = {gid: (0, 0, 0) for gid in ids}
    for chunk in chunks(ids):
        rows = conn.execute(
            select(m.group_id, func.count(), func.count(person.distinct()), func.count(network.distinct()))
            .where(m.group_id.in_(chunk), m.left_at.is_(None))
            .group_by(m.group_id)
        )
        for gid, laptops, people, networks in rows:
            counts[gid] = (laptops, people, networks)
    return counts


def store_counts(conn: Connection, counts: dict[int, tuple[int, int, int]], now: datetime) -> None:
    bulk.of(conn.dialect).update(conn, t.groups, ("id",), ("laptops", "people", "networks", "changed_at"),
                                 [{"id": gid, "laptops": c[0], "people": c[1], "networks": c[2], "changed_at": now}
                                  for gid, c in counts.items()])


def _save_groups(conn: Connection, work: _Pass) -> None:
    work.bulk.update(conn, t.groups, ("id",), ("last_at", "headline", "incident_id"),
                     [work.groups_by_id[gid] for gid in work.touched if gid in work.groups_by_id])


def run_pass(store: Store, settings: HubSettings, now: datetime, pacing: Pacing | None = None,
             incoming: dict[str, list[dict[str, Any]]] | None = None) -> PassResult:
    """One grouping pass; does nothing (locked=False) while another process runs one. The
    grouper loop passes its Pacing; without one, the pass recounts and expires everything.

    `incoming`: rows not stored yet (the journal's, by kind, each key once). The pass stores them
    already grouped, in its own transaction: one write of each row instead of an insert, a read
    and an update. A row stored already (a repeat the journal could not know of) is neither
    applied nor stored again. While another process holds the grouper lock, they are stored
    ungrouped, for its next pass."""
    result = PassResult()
    incoming = {kind: rows for kind, rows in (incoming or {}).items() if rows}
    # a big group's recount reads every member: the due ones are counted first, in a read-only
    # transaction, because on SQLite the pass's own transaction holds the write lock that every
    # ingest commit waits for
    early: dict[int, tuple[int, int, int]] = {}
    if pacing is not None and (due := pacing.due_before(now)):
        with store.read() as conn:
            early = {gid: c for gid, c in count(conn, due).items() if c[0] > 0}  # an emptied one: below
    with store.begin() as conn:
        if not store.try_lock(conn, GROUPER_LOCK):
            _store_incoming(conn, incoming, grouped=False)
            result.locked = False
            return result
        incoming = _not_stored(conn, incoming)
        states = _ungrouped(conn, t.states)
        reports = _ungrouped(conn, t.reports)
        events = [("state", e) for e in states + incoming.get("state", [])] + \
                 [("report", e) for e in reports + incoming.get("report", [])]
        # stored ones first among those received at the same instant: they were taken in earlier
        events.sort(key=lambda ke: (ke[1]["received_at"], ke[0] == "report", ke[1].get("seq", _NOT_STORED)))
        result.events = len(events)
        result.more = len(states) == BATCH or len(reports) == BATCH
        work = _Pass(conn, now)
        if events:
            work.load(sorted({e["laptop"] for _, e in events}))
            incident_groups = incidents.group_of_incidents(
                conn, {e["known_incident"] for kind, e in events if kind == "report" and e["known_incident"]})
            for kind, ev in events:
                if kind == "state":
                    work.apply_state(ev)
                else:
                    work.apply_report(ev, incident_groups)
            work.flush()
            _save_groups(conn, work)
            _mark_grouped(conn, t.states, [e["seq"] for e in states])
            with_group = {seq for seq, _ in work.report_groups}
            _mark_grouped(conn, t.reports, [e["seq"] for e in reports if e["seq"] not in with_group])
            _store_incoming(conn, incoming, grouped=True)
        touched = set(work.touched)
        if pacing is None or pacing.expire_due(now):
            touched |= _expire_report_members(conn, now)
        if pacing is not None:
            touched = pacing.recount_now(touched, work.groups_by_id, now)
        if touched:
            counted = {gid: early[gid] for gid in touched & early.keys()}
            counted.update(count(conn, touched - counted.keys()))
            store_counts(conn, counted, now)
            _after_recount(conn, settings, touched, now)
            if pacing is not None:  # what this pass added to them is in their next count
                pacing.pending |= counted.keys() & early.keys() & work.touched
        result.touched = touched
        result.queued = notify.schedule(conn, settings, now)
    return result


_NOT_STORED = float("inf")
_TABLE = {"report": t.reports, "state": t.states}


def _not_stored(conn: Connection, incoming: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    among = bulk.of(conn.dialect).among
    out = dict(incoming)
    if reports := incoming.get("report"):
        c = t.reports.c
        stored = {r[0] for r in conn.execute(select(c.id).where(among(c.id, [row["id"] for row in reports])))}
        out["report"] = [row for row in reports if row["id"] not in stored]
    if states := incoming.get("state"):
        c = t.states.c
        rows = conn.execute(select(c.laptop, c.at).where(among(c.laptop, sorted({row["laptop"] for row in states})),
                                                          c.at.in_(sorted({row["at"] for row in states}))))
        stored = {(laptop, bulk.comparable(at)) for laptop, at in rows}
        out["state"] = [row for row in states if (row["laptop"], bulk.comparable(row["at"])) not in stored]
    return {kind: rows for kind, rows in out.items() if rows}


def _store_incoming(conn: Connection, incoming: dict[str, list[dict[str, Any]]], *, grouped: bool) -> None:
    for kind, rows in incoming.items():
        group = {"group_id": None} if kind == "report" else {}  # a grouped report carries its own
        rows = [{**group, **row, "grouped": grouped} for row in rows]
        bulk.of(conn.dialect).insert(conn, _TABLE[kind], list(rows[0]), rows, skip_existing=True)


def _after_recount(conn: Connection, settings: HubSettings, touched: set[int], now: datetime) -> None:
    """Resolve groups nobody is left in; open or refresh their automatic incidents."""
    g = t.groups.c
    for chunk in chunks(sorted(touched)):
        for row in conn.execute(select(t.groups).where(g.id.in_(chunk), g.state == "open")):
            if row.laptops == 0:
                resolve_group(conn, settings, row, now, why="empty")
            elif row.laptops >= settings.detect_min_laptops and row.networks >= settings.detect_min_networks:
                incidents.auto_incident(conn, row, now)
            elif row.incident_id:
                incidents.refresh_auto_incident(conn, row, now)


def resolve_group(conn: Connection, settings: HubSettings, row: Any, now: datetime, *, why: str) -> None:
    """Close a group (nobody left, or IT resolved its incident) and queue its `resolved` note."""
    conn.execute(update(t.groups).where(t.groups.c.id == row.id).values(state="resolved", resolved_at=now, changed_at=now))
    if why == "empty" and row.incident_id:
        incidents.resolve_auto_incident(conn, row.incident_id, now)
    notify.queue_resolved(conn, settings, row.id, now)

