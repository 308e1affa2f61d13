"""Screenshots for review: the tray on Xvfb with trayer as the system tray, light and dark, at
100 % and 200 % (QT_SCALE_FACTOR=2): each icon state, the menu, the tooltip, Details (staff and IT
view), the report dialog (normal, IT already aware, no channel) and each notification.

    python -m tests.e2e.screenshots docs/screenshots
    python -m tests.e2e.screenshots docs/screenshots --only icons,notifications

--only shoots only those pictures (icons, notifications, menu, tooltip, details, report); the
scene still runs in full order, so each picture shows the same state as in a full run.

Not a test: a person looks at every picture. The tray runs in this process with canned diagnoses
(real headlines from app.diagnosis.verdict), so each picture shows one known state."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

THEMES = {"light": "0xf2f2f2", "dark": "0x2b2b2b"}
SCALES = (1, 2)
PANEL = 28  # trayer height at 100 %
WIDTH, HEIGHT = 1100, 700


# ---------------------------------------------------------------- outer: one desktop per variant


SECTIONS = ("icons", "notifications", "menu", "tooltip", "details", "report")


def main(out: Path, only: str = "") -> int:
    unknown = set(filter(None, only.split(","))) - set(SECTIONS)
    if unknown:
        print(f"unknown --only {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        for scale in SCALES:
            _run_variant(out, theme, scale, only)
    return 0


def _run_variant(out: Path, theme: str, scale: int, only: str = "") -> None:
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{WIDTH * scale}x{HEIGHT * scale}x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        display = f":{pipe.readline().strip()}"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DBUS_SESSION_BUS_ADDRESS")}
    env.update(DISPLAY=display, QT_SCALE_FACTOR=str(scale), SHOT_THEME=theme, SHOT_SCALE=str(scale), SHOT_ONLY=only)
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", str(PANEL * scale),
         "--tint", THEMES[theme], "--transparent", "true", "--alpha", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        subprocess.run([sys.executable, "-m", "tests.e2e.screenshots", "--scene", str(out)], env=env, check=True,
                       timeout=240)
    finally:
        for proc in (trayer, xvfb):
            proc.terminate()
            proc.wait(5)


# ---------------------------------------------------------------- inner: the scene


def scene(out: Path) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    theme, scale = os.environ["SHOT_THEME"], int(os.environ["SHOT_SCALE"])
    home = Path(tempfile.mkdtemp(prefix="mb-shots-"))
    os.environ["MAILBEACON_HOME"] = str(home)
    app = QApplication([])
    app.setQuitOnLastWindowClosed(False)  # a tray app: closing a window is not quitting
    if theme == "dark":
        _dark(app)
    tag = f"{theme}-{scale * 100}"
    steps = _steps(out, tag, scale, home)

    def advance() -> None:
        try:
            wait_ms = next(steps)
        except StopIteration:
            app.quit()
            return
        QTimer.singleShot(wait_ms, advance)

    QTimer.singleShot(500, advance)
    app.exec()
    return 0


def _dark(app) -> None:
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in {
        QPalette.ColorRole.Window: "#2d2d2d", QPalette.ColorRole.WindowText: "#eeeeee",
        QPalette.ColorRole.Base: "#1f1f1f", QPalette.ColorRole.AlternateBase: "#2a2a2a",
        QPalette.ColorRole.Text: "#eeeeee", QPalette.ColorRole.Button: "#3a3a3a",
        QPalette.ColorRole.ButtonText: "#eeeeee", QPalette.ColorRole.Highlight: "#3d6fb4",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#3a3a3a",
        QPalette.ColorRole.ToolTipText: "#eeeeee", QPalette.ColorRole.PlaceholderText: "#9a9a9a",
    }.items():
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)


def _checks(state: str):
    from app.diagnosis.model import Check

    def c(kind, target, code, detail, data=None):
        from app.diagnosis.model import status_of

        return Check(f"{kind} {target}", kind, target, status_of(code), code, detail, 24.0, data or {})

    link = c("link", "this computer", "ok", "Connected via wlan0 (192.168.1.23).")
    internet = c("internet", "connectivitycheck.gstatic.com", "ok", "The internet probe answered 204.")
    dns = c("dns", "connectivitycheck.gstatic.com", "ok", "Resolved to 142.250.74.99.")
    tls = {"version": "TLS 1.3", "cipher": "TLS_AES_256_GCM_SHA384"}
    smtp_ok = c("smtp", "smtp.example.com:587", "ok",
                "The mail server at smtp.example.com port 587 answers over TLS 1.3 and offers sign-in (PLAIN, LOGIN).",
                {"greeting": "220 smtp.example.com ESMTP Postfix", "auth_mechanisms": ["PLAIN", "LOGIN"], "tls": tls})
    imap_ok = c("imap", "imap.example.com:993", "ok",
                "The IMAP server at imap.example.com port 993 answers over TLS 1.3 and offers sign-in (PLAIN).",
                {"greeting": "* OK Dovecot ready.", "auth_mechanisms": ["PLAIN"], "tls": tls})
    web_ok = c("https", "mail.example.com:443", "ok", "The web server at https://mail.example.com/owa/ answers over TLS 1.3 (200).",
               {"http_status": 200, "tls": tls})
    timeout = "The server at {} did not answer (no reply to the connection)."
    if state == "ok":
        return [link, internet, dns, smtp_ok, imap_ok, web_ok]
    if state == "down":
        return [link, internet, dns,
                c("smtp", "smtp.example.com:587", "tcp_timeout", timeout.format("smtp.example.com port 587")),
                c("imap", "imap.example.com:993", "tcp_timeout", timeout.format("imap.example.com port 993")),
                c("https", "mail.example.com:443", "tcp_timeout", timeout.format("mail.example.com port 443"))]
    if state == "degraded":
        return [link, internet, dns,
                c("smtp", "smtp.example.com:587", "tcp_refused",
                  "The server at 203.0.113.25 port 587 refused the connection (nothing is listening)."),
                imap_ok, web_ok]
    if state == "local":
        fail = "The name lookup got no answer in time."
        return [link, c("internet", "connectivitycheck.gstatic.com", "internet_unreachable", "The internet check got no answer in time."),
                c("dns", "connectivitycheck.gstatic.com", "dns_timeout", fail),
                c("smtp", "smtp.example.com:587", "dns_timeout", fail), c("imap", "imap.example.com:993", "dns_timeout", fail),
                c("https", "mail.example.com:443", "dns_timeout", fail)]
    return [link, internet, dns]


def _diagnosis(state: str, it_status=None, when: datetime | None = None):
    from app.diagnosis.model import Diagnosis
    from app.diagnosis.verdict import decide
    from app.jsonio import iso_utc

    checks = _checks(state)
    result = decide(checks, ca_file_set=True)
    return Diagnosis(result.verdict, result.layer, result.headline, result.advice,
                     iso_utc(when or datetime.now(UTC)), 310.0, checks, it_status)


def _steps(out: Path, tag: str, scale: int, home: Path) -> Iterator[int]:
    from app import config as config_mod
    from app import feed as feed_mod
    from app.history import History
    from app.paths import user_paths
    from app.ui.report_dialog import ReportDialog
    from app.ui.tray import TrayApp

    only = set(filter(None, os.environ.get("SHOT_ONLY", "").split(",")))

    def want(section: str) -> bool:
        return not only or section in only

    feed_file = home / "status.json"
    feed_mod.create_empty(feed_file)
    cfg = home / "mailbeacon.toml"
    cfg.write_text(
        '[mail]\naddress = "jo@example.com"\nwebmail_url = "https://mail.example.com/owa/"\n'
        f'[feed]\nurl = "{feed_file}"\n[report]\nwebhook_url = "http://127.0.0.1:9/hook"\n'
        '[[endpoints]]\nkind = "smtp"\nhost = "smtp.example.com"\nport = 587\n'
        '[[endpoints]]\nkind = "imap"\nhost = "imap.example.com"\nport = 993\ntls = "implicit"\n'
        '[[endpoints]]\nkind = "https"\nhost = "mail.example.com"\nport = 443\nurl = "https://mail.example.com/owa/"\n',
        encoding="utf-8",
    )
    config = config_mod.load(cfg, system_file=None, policy_file=None, registry=False, env={})
    history = History(user_paths().history_db)
    now = datetime.now(UTC)
    for minutes, state in ((300, "ok"), (95, "degraded"), (80, "ok"), (42, "down")):
        history.record(_diagnosis(state, when=now - timedelta(minutes=minutes)), confirmed=True)
    current = {"d": _diagnosis("ok")}
    tray = TrayApp(config, diagnose=lambda c: current["d"], history=history,
                   tray_available=lambda: True, watch_network=False)
    tray.use_toast = True  # Xvfb has no notification daemon: what such desktops show
    tray.tray.show()
    yield 1500
    panel = PANEL * scale
    screen_w = WIDTH * scale
    icon = (screen_w - panel, 0, panel, panel)

    def root(name: str, box: tuple[int, int, int, int]) -> Path:
        x, y, w, h = box
        path = out / f"{name}-{tag}.png"
        subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(path)], check=True)
        _shrink(path)
        print(path, flush=True)
        return path

    def grab(widget, name: str) -> Path:
        path = out / f"{name}-{tag}.png"
        widget.grab().save(str(path))
        _shrink(path)
        print(path, flush=True)
        return path

    def become(diagnosis) -> None:
        current["d"] = diagnosis
        for _ in range(2):
            if tray.verdict == diagnosis.verdict:
                break
            tray.monitor.started()
            tray.apply_diagnosis(diagnosis)

    # each icon state, in the tray
    cells = []
    for state in ("ok", "degraded", "down", "local", "unknown"):
        become(_diagnosis(state))
        yield 900
        if want("icons"):
            # the panel only: trayer is as wide as the icon, left of it is Xvfb's bare black root
            geo = tray.tray.geometry()
            box = icon if geo.isEmpty() else (geo.x() * scale, 0, screen_w - geo.x() * scale, panel)
            cells.append(root(f"icon-{state}", box))
    _strip(cells, out / f"icons-{tag}.png")
    if only == {"icons"}:  # nothing after this is wanted
        for path in cells:
            path.unlink()
        tray.stop()
        history.close()
        yield 200
        return

    # the notifications, as they come: each a toast beside the tray, never on the icon
    toasts: list[Path] = []

    def toast_shot(name: str) -> Callable[[], None]:
        def take() -> None:
            if not want("notifications"):
                return
            geo = tray._toast.frameGeometry() if tray._toast is not None and tray._toast.isVisible() else None
            if geo is None:
                print(f"no notification for {name}", flush=True)
                return
            bottom = (geo.y() + geo.height()) * scale + 8 * scale
            left = min(geo.x() * scale, icon[0]) - 8 * scale
            toasts.append(root(f"notify-{name}", (left, 0, screen_w - left, bottom)))
        return take

    become(_diagnosis("ok"))
    yield 300
    for name, state in (("down", "down"), ("recovered", "ok"), ("local", "local"), ("recovered-local", "ok"),
                        ("degraded", "degraded")):
        become(_diagnosis(state))
        yield 900
        toast_shot(name)()
    # IT posts, updates and resolves, read from the feed file as every tray reads it
    become(_diagnosis("down"))
    yield 600
    incident = feed_mod.post(feed_file, "Mail server outage", "The mail server does not respond; we are on it.",
                             next_update="45m")
    tray.poll_feed()
    yield 1500
    toast_shot("it-posted")()
    feed_mod.update(feed_file, incident, status="identified", message="A disk is full; we are freeing space.",
                    next_update="30m")
    tray.poll_feed()
    yield 1500
    toast_shot("it-updated")()
    # mail comes back, then goes down again while IT's incident is open: lead with what IT said
    become(_diagnosis("ok"))
    yield 600
    become(_diagnosis("down"))
    yield 900
    toast_shot("down-it-aware")()
    if tray._toast is not None:
        tray._toast.hide()

    # the menu and the tooltip while mail is down and IT is aware
    it_status = feed_mod.read_it_status(config, __import__("app.diagnosis.probes.base", fromlist=["Deadline"]).Deadline(3))
    down = _diagnosis("down", it_status=it_status)
    tray.monitor.started()
    tray.apply_diagnosis(down)
    yield 600
    cx, cy = icon[0] + icon[2] // 2, icon[3] // 2
    subprocess.run(["xdotool", "mousemove", str(cx), str(cy), "click", "3"], check=True)
    yield 1200
    menu = tray.menu.frameGeometry()
    if want("menu"):
        root("menu", (menu.x() * scale - 8 * scale, 0, screen_w - menu.x() * scale + 8 * scale,
                      (menu.y() + menu.height()) * scale + 8 * scale))
    subprocess.run(["xdotool", "key", "Escape"], check=True)
    yield 500
    subprocess.run(["xdotool", "mousemove", str(cx - 3 * scale), str(cy + 2)], check=True)
    yield 400
    subprocess.run(["xdotool", "mousemove", str(cx), str(cy)], check=True)
    yield 2500
    if want("tooltip"):
        root("tooltip", (screen_w - 560 * scale, 0, 560 * scale, 150 * scale))
    subprocess.run(["xdotool", "mousemove", "10", str(300 * scale)], check=True)
    yield 300

    # Details: the staff view, then "Details for IT" open
    tray.show_details()
    yield 1500
    details = tray._details
    if want("details"):
        grab(details, "details-staff")
    details.it_toggle.click()
    yield 700
    if want("details"):
        grab(details, "details-it")
    details.close()

    # the report dialog: IT already aware (mail is down and IT posted), normal, no channel
    dialog = ReportDialog(config)
    dialog.open_for(down)
    yield from _until(lambda: dialog.report is not None)
    if want("report"):
        grab(dialog, "report-it-aware")
    dialog.open_for(_diagnosis("degraded"))
    yield from _until(lambda: dialog.report is not None)
    if want("report"):
        grab(dialog, "report-normal")
    dialog.note.setPlainText("Since 9:00, Outlook says it cannot send.\nThe printer mail works.")
    dialog.send()
    yield from _until(lambda: dialog.outcome is not None)
    if want("report"):
        grab(dialog, "report-after-send")
    dialog.close()
    bare_cfg = home / "bare.toml"
    bare_cfg.write_text(cfg.read_text().replace('webhook_url = "http://127.0.0.1:9/hook"', ""), encoding="utf-8")
    bare = ReportDialog(config_mod.load(bare_cfg, system_file=None, policy_file=None, registry=False, env={}))
    bare.open_for(_diagnosis("down"))
    yield from _until(lambda: bare.report is not None)
    if want("report"):
        grab(bare, "report-no-channel")
    bare.close()

    # IT resolves while this laptop still sees mail down, then mail recovers
    feed_mod.resolve(feed_file, incident, "The disk has space again; mail flows.")
    tray.poll_feed()
    yield 1500
    toast_shot("it-resolved-still-red")()
    incident2 = feed_mod.post(feed_file, "Webmail slow", "We are looking into slow webmail.")
    tray.poll_feed()
    yield 1200
    become(_diagnosis("ok"))
    yield 600
    feed_mod.resolve(feed_file, incident2, "Webmail is fast again.")
    tray.poll_feed()
    yield 1500
    toast_shot("it-resolved")()
    _strip(toasts, out / f"notifications-{tag}.png", vertical=True)
    for path in toasts + cells:
        path.unlink()
    tray.stop()
    history.close()
    yield 200


def _until(ready: Callable[[], bool], seconds: float = 20.0) -> Iterator[int]:
    """Let the event loop run until `ready()` (a background job reported back), then settle."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            print("gave up waiting", flush=True)
            break
        yield 200
    yield 400


def _shrink(path: Path) -> None:
    subprocess.run(["convert", str(path), "-strip", f"PNG8:{path}"], check=True)


def _strip(paths: list[Path], target: Path, vertical: bool = False) -> None:
    if not paths:
        return
    subprocess.run(["convert", *map(str, paths), "-background", "#808080", "-splice", "0x6" if vertical else "6x0",
                    "-append" if vertical else "+append", "-strip", f"PNG8:{target}"], check=True)
    print(target, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--scene"]:
        sys.exit(scene(Path(sys.argv[2])))
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.e2e.screenshots")
    parser.add_argument("out", nargs="?", default="docs/screenshots", type=Path)
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(SECTIONS)}")
    args = parser.parse_args()
    sys.exit(main(args.out, args.only))
