"""What staff read, all in one place: verdict headlines and advice, the call to action once IT has
spoken, the tooltip (composed from short parts that fit Windows' 127 characters), the menu, the
notifications, the Details window's one sentence per check, and the report dialog.

Plain words only: no IP addresses, codes or protocol names; every problem says whose it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from app.bounds import MAX_MENU_LINE, MAX_NOTIFICATION, clip

# ---------------------------------------------------------------- time phrases


def format_duration(seconds: float) -> str:
    """'under 1 min', '47 min', '2 h 5 min', '3 days 4 h'."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


def since_clock(since: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """'17:02' today, 'yesterday 17:02', 'Mon 17:02' this week, else '24 Nov 17:02' (local time)."""
    local_since = since.astimezone(tz)
    local_now = now.astimezone(tz)
    hhmm = local_since.strftime("%H:%M")
    days_ago = (local_now.date() - local_since.date()).days
    if days_ago <= 0:
        return hhmm
    if days_ago == 1:
        return f"yesterday {hhmm}"
    if days_ago < 7:
        return f"{local_since.strftime('%a')} {hhmm}"
    return f"{local_since.day} {local_since.strftime('%b')} {hhmm}"


def next_update_clock(when: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """When IT's next update is due: '17:30', 'tomorrow 09:00', 'Tue 1 Dec 09:00', or with the
    year when it is more than half a year away ('Tue 1 Dec 2026 09:00')."""
    try:
        local = when.astimezone(tz)
    except OverflowError:  # 9999-12-31T23:00Z is already year 10000 east of UTC
        local = when
    today = now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.date() - today == timedelta(days=1):
        return local.strftime("tomorrow %H:%M")
    year = f" {local.year}" if abs((local.date() - today).days) > 180 else ""
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b')}{year} {local.strftime('%H:%M')}"


def ago(when: datetime, now: datetime) -> str:
    """'just now', '20 min ago', '3 h ago', '2 days ago' (a time ahead of `now`: 'just now')."""
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def _when(text: Any) -> datetime | None:
    """A feed's ISO time, or None when it is missing or no clock can show it."""
    from app.jsonio import parse_iso

    try:
        return parse_iso(text) if text else None
    except (TypeError, ValueError, AttributeError):
        return None


# ---------------------------------------------------------------- verdict headlines and advice

# whose problem it is, said the same way everywhere
IT_SIDE = "the problem is on IT's side, not your computer"
OK = ("Mail is working.", "Nothing to do: you can send and receive mail.")
UNKNOWN_HEADLINE = "MailBeacon does not know which mail server to check."
UNKNOWN_OFFLINE_HEADLINE = "This computer is not connected to a network, and no mail server is set up to check."
UNKNOWN_ADVICE = (
    "Choose \"Set up…\" in the MailBeacon menu and type your email address: MailBeacon finds your "
    "mail servers. Or ask IT to set it up for you."
)

LOCAL = {
    "link": (
        "This computer is not connected to any network.",
        "Turn on Wi-Fi or plug in a network cable. Mail will work again once you are connected.",
    ),
    "captive_portal": (
        "Your Wi-Fi is asking you to sign in.",
        "Open a web browser and sign in or accept the network's terms; mail will work after that.",
    ),
    "proxy_auth_required": (
        "Your network's proxy is asking you to sign in, so mail cannot get through.",
        "Open a web browser and sign in to the proxy. If that does not help, tell IT.",
    ),
    "dns": (
        "Your network cannot look up any names, so mail cannot be reached — this is your "
        "connection, not the mail server.",
        "Disconnect and reconnect to the network (or your VPN). At home, restarting the router "
        "usually helps.",
    ),
    "internet": (
        "Your internet connection is not working — this is your connection, not the mail server.",
        "Check your Wi-Fi or cable, or try another network. Mail will come back once you are online.",
    ),
}

REPORT_ADVICE = (
    "Nothing on your computer needs fixing. Report it to IT with one click so they get the facts; "
    "there is no need to restart anything."
)
CERT_ADVICE = (
    "Do not accept certificate warnings in your mail app. Report it to IT with one click so they "
    "can fix the certificate."
)
CERT_HERE_ADVICE = (
    "Do not accept certificate warnings in your mail app. Report it to IT with one click: either "
    "the server's certificate is wrong or this computer lacks the company's certificate."
)

# what stopped working, by the layer that failed (SPEC section 4: headlines name the layer)
DOWN = {
    "dns": (f"The mail server's name cannot be found — {IT_SIDE}.", REPORT_ADVICE),
    "server": (f"The mail server is not answering — {IT_SIDE}.", REPORT_ADVICE),
    "silent": (f"The mail server accepts connections but does not respond — {IT_SIDE}.", REPORT_ADVICE),
    "refused": (f"The mail server is refusing service right now — {IT_SIDE}.", REPORT_ADVICE),
    "secure": (f"The mail server cannot set up a secure connection — {IT_SIDE}.", REPORT_ADVICE),
    "certificate": (f"The mail server's security certificate is not valid — {IT_SIDE}.", CERT_ADVICE),
    # no company CA configured: the missing piece may be on this laptop, so no "not your computer"
    "certificate_here": ("This computer does not trust the mail server's security certificate.", CERT_HERE_ADVICE),
    "service": (f"The mail server answers but is not working properly — {IT_SIDE}.", REPORT_ADVICE),
}

# when webmail is the only thing checked: say webmail, not "the mail server"
DOWN_WEBMAIL = {
    "dns": (f"Webmail's address cannot be found — {IT_SIDE}.", REPORT_ADVICE),
    "server": (f"The webmail server is not answering — {IT_SIDE}.", REPORT_ADVICE),
    "silent": (f"The webmail server accepts connections but does not respond — {IT_SIDE}.", REPORT_ADVICE),
    "secure": (f"Webmail cannot set up a secure connection — {IT_SIDE}.", REPORT_ADVICE),
    "certificate": (f"Webmail's security certificate is not valid — {IT_SIDE}.", CERT_ADVICE),
    "certificate_here": ("This computer does not trust webmail's security certificate.", CERT_HERE_ADVICE),
    "service": (f"Webmail answers with an error page — {IT_SIDE}.", REPORT_ADVICE),
}

# a check's code -> the cause word used by DOWN and by the one-sentence check lines
_CAUSE = {
    "banner_timeout": "silent",
    "service_unavailable": "refused",
    "tls_handshake_failed": "secure",
    "starttls_failed": "secure",
    "starttls_unsupported": "secure",
    "tls_cert_expired": "certificate",
    "tls_cert_untrusted": "certificate",
    "tls_hostname_mismatch": "certificate",
}


def cause(code: str, layer: str) -> str:
    """'dns', 'server', or the service-layer cause of a failing check's code."""
    if layer in ("dns", "server"):
        return layer
    return _CAUSE.get(code, "service")


# what each kind of endpoint does, for people (sentence start / inside a sentence)
FUNCTION = {"smtp": "sending mail", "imap": "receiving mail", "pop3": "receiving mail",
            "https": "webmail", "tcp": "the mail service"}
# the server behind it, inside a sentence
SERVER = {"smtp": "the server for sending mail", "imap": "the server for receiving mail",
          "pop3": "the server for receiving mail", "https": "the webmail server", "tcp": "the mail server"}


def function_of(kind: str) -> str:
    return FUNCTION.get(kind, "the mail service")


def function_name(kind: str, name: str = "") -> str:
    """IT's own label for an endpoint inside a sentence ("outgoing mail"; "Outlook Web Access"
    keeps its capitals), else what the endpoint does."""
    if not name:
        return function_of(kind)
    return name[0].lower() + name[1:] if name[1:] == name[1:].lower() else name


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def join(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c' (duplicates dropped, order kept)."""
    unique = list(dict.fromkeys(parts))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def partly_headline(broken: list[str], partial: list[str], working: list[str], *, network_maybe: bool) -> str:
    """'Sending mail is not working, but receiving mail and webmail still work — …': functions
    wholly broken, partly broken (some of their servers fail) and working, without addresses."""
    clauses = []
    if broken:
        clauses.append(f"{join(broken)} {'is' if len(set(broken)) == 1 else 'are'} not working")
    if partial:
        clauses.append(f"{join(partial)} {'works' if len(set(partial)) == 1 else 'work'} only in part")
    text = " and ".join(clauses)
    if working:
        text += f", but {join(working)} still {'works' if len(set(working)) == 1 else 'work'}"
    whose = (
        "the cause is the mail server or the network you are on, not your computer"
        if network_maybe
        else IT_SIDE
    )
    return f"{_cap(text)} — {whose}."


PARTLY_ADVICE = "You can keep using what works. Report it to IT with one click so they get the facts."
WARN_ADVICE = "Nothing to do for now. IT may want to know: you can report it with one click."
WARN = {
    "slow": "Mail works, but the mail server is slow to answer.",
    "auth_not_offered": "Mail works, but the mail server does not offer sign-in right now.",
    "other": "Mail works, with a warning.",
}


def expiring_headline(days: float | None) -> str:
    if days is None:
        when = "soon"
    elif days < 1:
        when = "today"
    else:
        when = f"in {days:.0f} day{'s' if days >= 2 else ''}"
    return f"Mail works, but the mail server's security certificate expires {when}."


# ---------------------------------------------------------------- IT has spoken


def open_incident(it_status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The newest open incident IT posted, or None."""
    incidents = (it_status or {}).get("incidents") or []
    return incidents[0] if incidents else None


def it_aware(it_status: dict[str, Any] | None, now: datetime | None = None, *, title: bool = False) -> str | None:
    """'IT is aware — next update 17:30.' (or 'IT is aware of it.'); with `title`, 'IT is aware:
    Mail server outage — next update 17:30.' (the title cut to 40 characters). None when IT
    posted nothing."""
    incident = open_incident(it_status)
    if incident is None:
        return None
    head = "IT is aware"
    if title and incident.get("title"):
        name = str(incident["title"]).strip().rstrip(".")
        head += f": {name if len(name) <= 40 else name[:39] + '…'}"
    when = incident.get("next_update_at")
    if when:
        from app.jsonio import parse_iso

        try:
            return f"{head} — next update {next_update_clock(parse_iso(when), now or datetime.now(UTC))}."
        except (TypeError, ValueError):
            pass
    return f"{head}." if title else "IT is aware of it."


REPORT_BUTTON = "Report a problem…"
AFFECTED_BUTTON = "Add me to the affected list"
AFFECTED_ADVICE = "You do not need to report it again; you can add yourself to the list of people affected."


@dataclass(frozen=True)
class CallToAction:
    text: str  # the advice line under the headline
    button: str  # what the report button says


def call_to_action(verdict: str, advice: str, it_status: dict[str, Any] | None, now: datetime | None = None) -> CallToAction:
    """What to do now: once IT has posted an incident, lead with what IT said and offer to join
    the affected list, instead of asking for a report IT already has. A laptop whose own
    connection is down gets its own advice first: IT's incident is not why it is offline."""
    aware = it_aware(it_status, now)
    if aware and verdict in ("down", "degraded"):
        return CallToAction(f"{aware} {AFFECTED_ADVICE}", f"{AFFECTED_BUTTON}…")
    return CallToAction(advice, REPORT_BUTTON)


# ---------------------------------------------------------------- tooltip

TOOLTIP_LIMIT = 127  # Windows cuts a tray tooltip there
TOOLTIP_STATE = {
    "ok": "mail works",
    "degraded": "mail partly works",
    "down": "mail is down",
    "local": "your connection is down",
    "unknown": "not set up yet",
    "checking": "checking mail…",
}
TOOLTIP_WHOSE = {"down": "Not your computer.", "degraded": "Not your computer.", "local": "Not the mail server."}


def outbox_line(count: int) -> str:
    """'1 report waiting to be sent' (the menu line; the tooltip adds a full stop)."""
    return f"{count} {'report' if count == 1 else 'reports'} waiting to be sent"


def tooltip(
    verdict: str,
    since: datetime | None = None,
    now: datetime | None = None,
    *,
    it_lines: tuple[str, ...] = (),
    outbox: int = 0,
    whose: bool = True,
    tz: tzinfo | None = None,
) -> str:
    """'MailBeacon: mail is down (since 17:02, 47 min). Not your computer.' then what IT said and
    the outbox, each a sentence. `it_lines` are IT's line from longest to shortest. Parts that
    would pass 127 characters are shortened or left out, least useful first (the duration, then
    whose, then the outbox), so the state and what IT said always show."""
    state = TOOLTIP_STATE.get(verdict, TOOLTIP_STATE["checking"])
    clock = duration = ""
    if since is not None and verdict in TOOLTIP_WHOSE | {"ok": ""}:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        clock = since_clock(since, now, tz)
        duration = format_duration((now - since).total_seconds())

    def first(with_duration: bool) -> str:
        if not clock:
            return f"MailBeacon: {state}" + ("" if state.endswith("…") else ".")
        return f"MailBeacon: {state} (since {clock}" + (f", {duration})." if with_duration else ").")

    options = {
        "whose": [TOOLTIP_WHOSE[verdict]] if whose and verdict in TOOLTIP_WHOSE else [],
        "it": [line for line in it_lines if line],
        "outbox": [f"{outbox_line(outbox)}."] if outbox > 0 else [],
    }
    wanted = {n for n, alts in options.items() if alts}
    best: tuple[str, int] | None = None
    for with_duration in (True, False):
        head, chosen = first(with_duration), {}
        # most useful first: what IT said, then how many reports wait, then whose
        for name in ("it", "outbox", "whose"):
            for alt in options[name]:
                if len(_lines(head, {**chosen, name: alt})) <= TOOLTIP_LIMIT:
                    chosen[name] = alt
                    break
        text = _lines(head, chosen)
        if set(chosen) == wanted and chosen.get("it") in (options["it"][:1] or [None]):
            return text
        score = sum({"it": 8, "outbox": 4, "whose": 2}[n] for n in chosen) + (chosen.get("it") in options["it"][:1])
        if best is None or score > best[1]:
            best = (text, score)
    assert best is not None
    return best[0][:TOOLTIP_LIMIT]


def _lines(head: str, chosen: dict[str, str]) -> str:
    # whose problem it is belongs to the first sentence's line; the rest get their own lines
    first = head + (f" {chosen['whose']}" if "whose" in chosen else "")
    return "\n".join([first, *(chosen[n] for n in ("it", "outbox") if n in chosen)])


# ---------------------------------------------------------------- menu

MENU = {
    "checking": "Checking…",
    "check_now": "Check now",
    "report": REPORT_BUTTON,
    "details": "Details…",
    "webmail": "Open webmail",
    "setup": "Set up…",
    "pause": "Pause notifications for 1 hour",
    "autostart": "Start at login",
    "autostart_demo": "Start at login (off in the demo)",
    "outbox_tip": "Try to send the waiting reports now",
    "headline_tip": "Open the details",
    "quit": "Quit",
}

NO_TRAY_TEXT = (
    "No system tray was found on this desktop, so MailBeacon shows this window instead. "
    "It keeps checking while the window is open; closing it quits MailBeacon."
)

# ---------------------------------------------------------------- notifications

PROBLEM_TITLES = {
    "down": "Mail is down",
    "local": "No connection from this computer",
    "degraded": "Mail partly works",
}
_CLICK = {"down": "Click to report it to IT.", "degraded": "Click for details.", "local": ""}


def problem_notice(verdict: str, headline: str, it_status: dict[str, Any] | None, now: datetime | None = None) -> tuple[str, str]:
    """(title, text) of the notification for a confirmed problem."""
    title = PROBLEM_TITLES.get(verdict, "MailBeacon")
    aware = it_aware(it_status, now) if verdict in ("down", "degraded") else None
    click = f"{aware} Click to add yourself to the affected list." if aware else _CLICK.get(verdict, "")
    return title, f"{headline} {click}".strip()


RECOVERED_TITLE = "Mail works again"
_WAS = {
    "down": "It was down for {d}.",
    "local": "Your connection was down for {d}.",
    "degraded": "It had problems for {d}.",
}


def recovery_notice(current: str, previous: str, duration_s: float | None, headline: str) -> tuple[str, str] | None:
    """(title, text) when mail gets better; the text adds what the title does not say."""
    if current == "ok":
        was = _WAS.get(previous)
        if was and duration_s is not None:
            return RECOVERED_TITLE, was.format(d=format_duration(duration_s))
        return RECOVERED_TITLE, "You can send and receive mail."
    if current == "degraded" and previous in ("down", "local"):
        return "Mail partly works again", headline
    return None


def _sentence(text: str) -> str:
    text = (text or "").strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def _title(incident: dict[str, Any]) -> str:
    """IT's title inside a sentence: without its own full stop (the sentence brings one)."""
    return str(incident.get("title") or "").strip().rstrip(".").strip() or AN_INCIDENT


def incident_notice(kind: str, incident: dict[str, Any], verdict: str, now: datetime | None = None) -> tuple[str, str]:
    """(title, text) for IT posting, updating or resolving an incident. A resolve keeps IT's
    closing words; while MailBeacon still sees mail failing it says so instead of 'resolved'."""
    title = incident.get("title") or "a mail problem"
    message = _sentence(incident.get("message") or "")
    if kind == "resolved":
        if verdict in ("down", "degraded"):
            head = "IT says it is fixed"
            tail = "MailBeacon still sees a problem from here and keeps checking."
        else:
            head, tail = "IT has fixed it", ""
        return head, " ".join(p for p in (f"{_sentence(title)}", message, tail) if p)
    head = "IT is aware" if kind == "posted" else "IT posted an update"
    text = " ".join(p for p in (_sentence(title), message) if p)
    aware = it_aware({"incidents": [incident]}, now)
    if aware and incident.get("next_update_at"):
        text += " " + aware.replace("IT is aware — n", "N")
    return head, text


# ---------------------------------------------------------------- IT's status page
# the menu line, the Details paragraphs and the summary notification, from what IT posted

UNTITLED_INCIDENT = "Untitled incident"
AN_INCIDENT = "an incident"
# IT's (or Statuspage's) words for where an incident stands, as staff read them
INCIDENT_STATUS = {
    "investigating": "investigating",
    "identified": "cause found",
    "monitoring": "a fix is in place",
    "resolved": "fixed",
    "postmortem": "fixed",
    "scheduled": "planned work",
    "in_progress": "planned work under way",
    "verifying": "checking the work",
    "completed": "work finished",
}
INCIDENT_STATUS_UNKNOWN = "open"
FEED_UNREADABLE = "MailBeacon could not read IT's status page just now."
FEED_UNREADABLE_KEPT = "MailBeacon could not read IT's status page just now. Showing what IT posted last."
NOT_VERIFIED = (
    "This status came over plain http, so its source is not verified: anyone on the network "
    "path could have changed it."
)
SUMMARY_TITLE = "IT posted several updates"
_SUMMARY_PART = {"posted": "{n} new", "updated": "{n} updated", "resolved": "{n} resolved"}


def incident_status(status: Any) -> str:
    """'cause found' for "identified"; an unknown word is 'open', never a raw code."""
    return INCIDENT_STATUS.get(str(status or "").strip().lower(), INCIDENT_STATUS_UNKNOWN)


def it_status_line(it_status: dict[str, Any] | None, now: datetime | None = None) -> str | None:
    """'IT is aware: <title> — next update 17:30 (and 2 more; last update 3 h ago, may be out of
    date)' for the newest open incident: the menu line, at most 120 characters, the title cut
    first; None when IT posted nothing."""
    incidents = (it_status or {}).get("incidents") or []
    if not incidents:
        return None
    now = now or datetime.now(UTC)
    top = incidents[0]
    tail = ""
    due = _when(top.get("next_update_at"))
    if due is not None:
        tail += f" — next update {next_update_clock(due, now)}"
    notes = [f"and {len(incidents) - 1} more"] if len(incidents) > 1 else []
    if it_status.get("stale"):  # type: ignore[union-attr]
        since = _when(top.get("updated_at")) or _when(it_status.get("fetched_at"))  # type: ignore[union-attr]
        notes.append(f"last update {ago(since, now)}, may be out of date" if since else "may be out of date")
    if notes:
        tail += f" ({'; '.join(notes)})"
    # a long title gives way to the rest: when the next update is and whether it is current
    head = "IT is aware: "
    line = head + clip(_title(top), max(10, min(80, MAX_MENU_LINE - len(head) - len(tail)))) + tail
    return clip(line, MAX_MENU_LINE)


def _past_clock(when: datetime, now: datetime) -> str:
    try:
        return since_clock(when, now)
    except OverflowError:  # the last hours of year 9999 east of UTC
        return when.strftime("%d %b %Y %H:%M")


def incident_paragraphs(
    it_status: dict[str, Any] | None, now: datetime | None = None, *, verified: bool = True
) -> list[str]:
    """One paragraph per open incident for the Details window: title and where it stands, IT's
    message, when it was last updated and when the next update is due (local time); then, for a
    feed that came over plain http (`verified` false), that its source is not verified; last,
    that the status page could not be read just now (what IT posted last stays shown)."""
    if not it_status:
        return []
    now = now or datetime.now(UTC)
    lines = []
    for incident in it_status.get("incidents") or []:
        line = f"IT is aware: {_title(incident)} ({incident_status(incident.get('status'))})."
        if incident.get("message"):
            line += f" {_sentence(str(incident['message']))}"
        updated = _when(incident.get("updated_at"))
        if updated is not None:
            line += f" Last updated {_past_clock(updated, now)} ({ago(updated, now)})."
        due = _when(incident.get("next_update_at"))
        if due is not None:
            line += f" Next update {next_update_clock(due, now)}."
        lines.append(line)
    if lines and not verified:  # what IT posted came over plain http
        lines.append(NOT_VERIFIED)
    if it_status.get("error"):
        lines.append(FEED_UNREADABLE_KEPT if lines else FEED_UNREADABLE)
    return lines


def summary_notice(counts: dict[str, int]) -> tuple[str, str]:
    """(title, text) of the one notification for many changes at once: 'IT posted 50 changes
    to its status page (48 new, 2 resolved). Open Details to read them.'"""
    total = sum(counts.get(kind, 0) for kind in _SUMMARY_PART)
    parts = [_SUMMARY_PART[kind].format(n=counts[kind]) for kind in _SUMMARY_PART if counts.get(kind)]
    change = "change" if total == 1 else "changes"
    text = f"IT posted {total} {change} to its status page ({', '.join(parts)}). Open Details to read them."
    return SUMMARY_TITLE, clip(text, MAX_NOTIFICATION)


# ---------------------------------------------------------------- Details window

DETAILS_TITLE = "MailBeacon — mail status details"
DETAILS = {
    "checked_at": "Checked at {clock}",
    "changes": "Changes in the last 24 hours",
    "no_changes": "No changes.",
    "it_show": "Details for IT",
    "copy": "Copy as text",
    "check_now": "Check now",
    "close": "Close",
    "checks": "What MailBeacon checked",
    # the first line of "Copy as text"
    "copy_headline": "MailBeacon: {headline}",
    "copy_no_check": "MailBeacon: no check has finished yet.",
}
VERDICT_WORD = {
    "ok": "Mail works",
    "degraded": "Mail partly works",
    "down": "Mail server problem",
    "local": "Problem on this computer's network",
    "unknown": "Status unknown",
    "checking": "Checking…",
}
STATUS_WORD = {"ok": "OK", "warn": "Warning", "fail": "Failed", "skipped": "Skipped"}

_LAYER_SENTENCE = {
    ("link", "ok"): "This computer is connected to a network.",
    ("link", "fail"): "This computer is not connected to any network.",
    ("internet", "ok"): "The internet can be reached.",
    ("internet", "warn"): "The internet check did not get through (many offices block it; mail is not affected).",
    ("internet", "fail"): "The internet cannot be reached from this computer.",
    ("dns", "ok"): "Names can be looked up on this network.",
    ("dns", "warn"): "The test name could not be looked up (mail is not affected).",
    ("dns", "fail"): "Names cannot be looked up on this network.",
}
_ENDPOINT_FAIL = {
    "dns": "The name of {server} cannot be found.",
    "server": "{Server} is not answering.",
    "silent": "{Server} accepts connections but does not respond.",
    "refused": "{Server} is refusing service right now.",
    "secure": "{Server} cannot set up a secure connection.",
    "certificate": "{Server} has a security certificate problem.",
    "service": "{Server} is not working properly.",
}


def check_sentence(kind: str, status: str, code: str, layer: str, data: dict[str, Any] | None = None) -> str:
    """One plain sentence per check for the staff view of Details."""
    if status == "skipped":
        return "Not checked this time."
    if kind in ("link", "internet", "dns"):
        if code == "captive_portal":
            return "The network is asking you to sign in in a web browser."
        if code == "proxy_auth_required":
            return "The network's proxy is asking you to sign in."
        return _LAYER_SENTENCE.get((kind, status), _LAYER_SENTENCE.get((kind, "fail"), ""))
    what, server = function_of(kind), SERVER.get(kind, "the mail server")
    if status == "ok":
        return f"{_cap(what)} works."
    if status == "warn":
        if code == "slow":
            return f"{_cap(what)} works, but slowly."
        if code == "tls_cert_expiring":
            return f"{_cap(what)} works; its security certificate expires soon."
        if code == "auth_not_offered":
            if (data or {}).get("auth_after_starttls"):
                return f"{_cap(what)} answers; sign-in is offered only once the connection is secure."
            return f"{_cap(what)} answers, but does not offer sign-in."
        return f"{_cap(what)} works, with a warning."
    if kind == "https" and code == "http_status":
        return "Webmail answers with an error page."
    if kind == "https" and code == "http_timeout":
        return "Webmail is not answering."
    return _ENDPOINT_FAIL[cause(code, layer)].format(server=server, Server=_cap(server))


def check_title(kind: str, name: str = "") -> str:
    """The row title staff see: IT's own label when it has one, else what it does."""
    if kind in ("link", "internet", "dns"):
        return {"link": "Network connection", "internet": "Internet access", "dns": "Name lookup"}[kind]
    return name or _cap(function_of(kind))


# ---------------------------------------------------------------- report dialog

REPORT = {
    "title": "Report a problem to IT",
    "preparing": "Preparing the report…",
    "preparing_send": "Preparing the report… it will be sent as soon as it is ready.",
    "checking": "Checking your mail connection…",
    "receives": "IT will receive:",
    "no_secrets": "No passwords, tokens or other secrets are included.",
    "note_label": "Your note (Ctrl+Enter sends):",
    "note_placeholder": "Anything IT should know? (optional)",
    "show": "Show everything that will be sent",
    "hide": "Hide the details",
    "copy": "Copy to clipboard",
    "save": "Save to file…",
    "cancel": "Cancel",
    "close": "Close",
    "send": "Send",
    "affected": AFFECTED_BUTTON,
    "sending": "Sending…",
    "copied": "Copied to the clipboard.",
    "saved_to": "Saved to {path}",
    "save_failed": "Could not save to {path}: {reason}",
    "known": "{line}\nYou do not need to report it again: sending adds you to the list of people "
    "affected, with your computer's facts.",
    "known_fallback": "IT is aware of a mail problem.",
    "no_channel": "MailBeacon cannot send reports yet: IT has not set up where they go. Save the "
    "report to a file or copy it, and give it to IT another way (for example by phone or chat).",
    "queued": "Saved — it will be sent automatically when the connection is back.",
    "no_channel_kept": "Kept on this computer; it cannot be sent until IT sets up where reports go. "
    "Use Save to file or Copy to give it to IT now.",
    "build_failed": "Could not prepare the report: {reason}",
    "send_failed": "Could not save or send the report: {reason}. Use Save to file or Copy instead.",
}
# the report's diagnosis when none could be run (a bug or a broken configuration)
NO_DIAGNOSIS = ("MailBeacon could not run a diagnosis on this computer.",
                "Describe the problem in your note; IT will look into it.")
CHANNEL_WORDS = {"webhook": "IT's report service", "hub": "IT's MailBeacon hub", "teams": "IT's Teams channel",
                 "slack": "IT's Slack channel", "email": "IT's mailbox"}
# what the dialog lists as "IT will receive:"
REPORT_ITEMS = {
    "found": "What MailBeacon found: {headline}",
    "checks": "The results of {n} checks of the mail servers and your connection",
    "changes_one": "The {n} change in mail status over the last 24 hours",
    "changes": "The {n} changes in mail status over the last 24 hours",
    "who": "Who you are: {who}",
    "no_who": "Not your user name (turned off)",
    "host": "Your computer's name: {host}",
    "no_host": "Not your computer's name (turned off)",
    "device": "This computer's system, app version, uptime, CPU and memory use and battery",
    "network": "Your network: interfaces and addresses, gateway, DNS servers, proxy, VPN",
    "network_masked": "Your network: interfaces and addresses (last part of each address hidden), "
    "gateway, DNS servers, proxy, VPN",
    "note": "Your note, if you write one",
    "to": "Sent to: {where}",
    "nowhere": "Sent to: nobody yet, because no report channel is set up",
}


# ---------------------------------------------------------------- when the tray cannot start

CANNOT_START = {
    "window_title": "MailBeacon cannot start",
    "hint": "MailBeacon starts by itself as soon as the file is fixed and saved.",
    "open_config": "Open the config file",
    "open_logs": "Open the log folder",
    "quit": "Quit",
}
UNEXPECTED_ERROR = ("MailBeacon hit a problem",
                    "Something went wrong inside MailBeacon; it keeps running. IT can find the details in its log file.")


def cannot_start(what: str, *, name: str = "", where: str = "", key: str = "", expected: str = "",
                 detail: str = "", brief: bool = False) -> str:
    """'MailBeacon cannot start: …' in one sentence. `what` is setting | missing | unreadable |
    mistake | config | crash; `brief` is the menu's and tooltip's version (Windows cuts a tooltip
    at 127 characters), the full one is the window's; the log keeps the whole error."""
    if what == "setting":
        text = f"the setting {key} in {name} is not right" if brief else f"the setting {key} {where} should be {expected}"
    elif what == "missing":
        text = f"the config file {name} was not found"
    elif what == "unreadable":
        text = f"the config file {name} cannot be read" + (f" ({detail})" if detail and not brief else "")
    elif what == "mistake":
        text = f"the config file has a mistake {where}" + (f": {detail}" if detail and not brief else "")
    elif what == "config":
        place = where.removeprefix("in ")
        text = f"the config {place} is not right" if brief else f"the config {place}: {expected}"
    elif brief:
        text = "something went wrong while starting; the log file has the details"
    else:
        text = f"something went wrong while starting ({detail}); the log file has the details"
    return f"MailBeacon cannot start: {text.rstrip('.')}."
