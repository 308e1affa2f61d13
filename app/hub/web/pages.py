"""The dashboard's pages: the overview (open groups live, the fleet, incidents), one group's
timeline, the incident editor, one report's full JSON, and the live endpoint the page's own
script polls. Every page needs a session; every change needs the session's CSRF token."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.hub.clock import utc_now
from app.hub.web import auth, incident_forms, queries
from app.hub.web.fleet import counts_for
from app.hub.web.render import fragment, render

log = logging.getLogger(__name__)

POLL_MS = 2000  # the page asks for changes this often (SPEC: new members within 5 s)


def _store(request: Request):
    from app.hub.app import hub_of

    return hub_of(request).store


def _fleet(request: Request) -> dict[str, Any] | None:
    """The counts kept by the background counter; None right after start-up (the page says
    "counting" and the live update fills them in)."""
    from app.hub.app import hub_of

    return counts_for(hub_of(request)).value


def _overview(request: Request) -> dict[str, Any]:
    from app.hub.app import hub_of

    now = utc_now()
    counted = counts_for(hub_of(request)).counted
    with _store(request).read() as conn:
        return {
            # the fleet counts change the page too, each time the counter has run
            "version": f"{queries.version(conn)}|{counted}",
            "groups": queries.open_groups(conn),
            "resolved": queries.recent_resolved(conn, now - timedelta(hours=24)),
            "fleet": _fleet(request),
            "incidents": queries.incidents(conn, resolved_since=now - timedelta(hours=24)),
            "now": now,
        }


@auth.page
async def overview(request: Request) -> Response:
    data = await run_in_threadpool(_overview, request)
    return render(request, "overview.html", active="overview", poll_ms=POLL_MS, **data)


def _live(request: Request, known: str) -> dict[str, Any]:
    data = _overview(request)
    if data["version"] == known:
        return {"version": known, "changed": False}
    ctx = {**data, "csrf": request.state.session.csrf}
    return {
        "version": data["version"],
        "changed": True,
        "parts": {
            "groups": fragment("_groups.html", **ctx),
            "fleet": fragment("_fleet.html", **ctx),
            "incidents": fragment("_incident_list.html", **ctx),
        },
        "counts": {"groups": len(data["groups"]),
                   "laptops": sum(g.laptops for g in data["groups"])},
    }


@auth.fetch
async def live(request: Request) -> Response:
    known = request.query_params.get("v", "")[:500]
    return JSONResponse(await run_in_threadpool(_live, request, known), headers={"Cache-Control": "no-store"})


def _group(request: Request, group_id: int) -> dict[str, Any] | None:
    with _store(request).read() as conn:
        return queries.group_detail(conn, group_id)


@auth.page
async def group_page(request: Request) -> Response:
    try:
        group_id = int(request.path_params["group_id"])
    except ValueError:
        group_id = -1
    detail = await run_in_threadpool(_group, request, group_id)
    if detail is None:
        return render(request, "error.html", status=404, title="No such group",
                      message="There is no outage group with this number. It may have been removed "
                              "by the retention period.")
    return render(request, "group.html", active="overview", now=utc_now(), **detail)


def _report(request: Request, report_id: str) -> dict[str, Any] | None:
    with _store(request).read() as conn:
        return queries.report_body(conn, report_id)


@auth.page
async def report_page(request: Request) -> Response:
    report_id = request.path_params["report_id"][:100]
    raw = report_id.endswith(".json")
    row = await run_in_threadpool(_report, request, report_id[:-5] if raw else report_id)
    if row is None:
        return render(request, "error.html", status=404, title="No such report",
                      message="There is no report with this id. It may be older than the retention period.")
    if raw:
        return Response(row["body"], media_type="application/json",
                        headers={"Content-Disposition": f'inline; filename="report-{row["id"]}.json"'})
    return render(request, "report.html", active="overview", report=row)


@auth.page
async def incidents_page(request: Request) -> Response:
    def load() -> dict[str, Any]:
        with _store(request).read() as conn:
            return queries.incidents(conn, resolved_since=utc_now() - timedelta(days=7))

    data = await run_in_threadpool(load)
    prefill = await run_in_threadpool(incident_forms.prefill, _store(request), request.query_params.get("group"))
    return render(request, "incidents.html", active="incidents", incidents=data, prefill=prefill,
                  errors={}, values={}, now=utc_now())


@auth.page
async def incident_post(request: Request) -> Response:
    form = dict(await request.form(max_files=0, max_fields=20))
    if not await auth.csrf_ok(request, form):
        return auth.forbidden(request)
    result = await run_in_threadpool(incident_forms.post, _store(request), form, request.state.session.user.name)
    return await _after(request, result, form)


@auth.page
async def incident_change(request: Request) -> Response:
    form = dict(await request.form(max_files=0, max_fields=20))
    if not await auth.csrf_ok(request, form):
        return auth.forbidden(request)
    incident_id = request.path_params["incident_id"][:200]
    from app.hub.app import hub_of

    result = await run_in_threadpool(incident_forms.change, _store(request), hub_of(request).settings,
                                     incident_id, form, request.state.session.user.name)
    return await _after(request, result, form)


async def _after(request: Request, result: incident_forms.Result, form: dict[str, Any]) -> Response:
    if result.ok:
        return RedirectResponse(f"/incidents?done={result.incident_id}#incident-{result.incident_id}",
                                status_code=303)

    def load() -> dict[str, Any]:
        with _store(request).read() as conn:
            return queries.incidents(conn, resolved_since=utc_now() - timedelta(days=7))

    data = await run_in_threadpool(load)
    return render(request, "incidents.html", status=400, active="incidents", incidents=data,
                  prefill=None, errors=result.errors, values={"form": result.form_id, **form}, now=utc_now())


def routes() -> list[Route]:
    return [
        Route("/", overview, methods=["GET"]),
        Route("/live", live, methods=["GET"]),
        Route("/groups/{group_id}", group_page, methods=["GET"]),
        Route("/reports/{report_id}", report_page, methods=["GET"]),
        Route("/incidents", incidents_page, methods=["GET"]),
        Route("/incidents", incident_post, methods=["POST"]),
        Route("/incidents/{incident_id}", incident_change, methods=["POST"]),
    ]
