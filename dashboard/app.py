"""The Dash app: the page shell, the five pages and their callbacks.

Callbacks are thin: each reads the signed-in user (:func:`dashboard.auth.current_user`), narrows
the request to the institutions that user may see (:meth:`DataService.scope`), fetches through
:class:`DataService` and hands the tables to :mod:`dashboard.figures`. A request for an institution
the user may not see gets the "no access" answer and no data, whatever the browser sent.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from datetime import date, datetime, timedelta
from html import escape as html_escape
from pathlib import Path
from typing import Any

import chinese_calendar
import dash
import dash_bootstrap_components as dbc
import flask
import numpy as np
import pandas as pd
from dash import ALL, Input, Output, State, dcc, html

from accounting.errors import LedgerImportError
from accounting.ledgers import import_ledger
from accounting.report import write_report
from dashboard import figures as fig
from dashboard.auth import RateLimiter, User, current_user, install_auth, load_users
from dashboard.data import LEDGER_KINDS, DataService
from dashboard.i18n import fmt_age, fmt_date, fmt_datetime, fmt_number, fmt_pct, is_missing, t
from dashboard.projection import Projections

__all__ = ["PAGES", "create_app"]

log = logging.getLogger("dashboard.app")
ASSETS = Path(__file__).with_name("assets")
#: path → (label key, roles that may open it).
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "/live": ("nav.live", ("manager", "officer", "leader", "admin")),
    "/statistics": ("nav.statistics", ("manager", "officer", "leader", "admin")),
    "/carbon": ("nav.carbon", ("manager", "officer", "leader", "admin")),
    "/benchmarking": ("nav.benchmarking", ("manager", "officer", "leader", "admin")),
    "/system": ("nav.system", ("admin",)),
}
HOME = {"manager": "/live", "officer": "/statistics", "leader": "/carbon", "admin": "/system"}
#: The quota indicator whose band is shown beside a benchmarking indicator (the quota tables
#: judge energy per m² without heating, and electricity per m²).
QUOTA_SUBJECT = {"kgce_per_m2": "non_heating_kgce_per_m2", "kwh_per_m2": "electricity_kwh_per_m2"}
#: A meter or gateway without a reading for this long is stale. [s]
STALE_S = 900.0


#: Rows an HTML table shows (the browser renders every cell as a component: keep pages light).
MAX_ROWS = 60
#: Rows a page of a paged table (the league, the review list) shows: each row is a few
#: components with a traceability button, and an officer's city has hundreds of rows.
PAGE_ROWS = 50


#: A display table: column label → the column's values (equal-length lists). Callbacks that
#: format a few rows build these directly: a DataFrame of them costs more than the formatting.
Columns = dict[str, list]


def _columns(frame: pd.DataFrame | Columns | None) -> Columns:
    """The columns of a display table given as a frame or as :data:`Columns`."""
    if frame is None:
        return {}
    if isinstance(frame, dict):
        return frame
    return {str(c): frame[c].tolist() for c in frame.columns}


def _table(frame: pd.DataFrame | Columns | None, table_id: str, trace_column: str | None = None,
           lang: str = "zh", year: int = 0, max_rows: int = MAX_ROWS,
           total: int | None = None) -> Any:
    """An HTML table of at most ``max_rows`` rows (a note says how many more there are); with
    ``trace_column`` each row gets a 🔎 button opening its traceability.

    ``frame``: a DataFrame or :data:`Columns`; an ``institution_id`` column is not shown.
    ``total``: the rows of the whole table when ``frame`` holds only its first rows (callbacks
    format only the rows shown); the rows of ``frame`` by default.
    """
    columns = _columns(frame)
    n = len(next(iter(columns.values()), []))
    if n == 0:
        return html.P(t("common.no_rows", lang), className="text-muted", id=table_id)
    total = n if total is None else max(total, n)
    columns = {c: values[:max_rows] for c, values in columns.items()}
    if trace_column is None:
        return _static_table(columns, table_id, total, lang)
    shown = [c for c in columns if c != "institution_id"]
    header = html.Thead(html.Tr([html.Th(c) for c in shown] + [html.Th("")]))
    opener = "» " + t("trace.open", lang)
    rows = []
    for i, (inst, *values) in enumerate(zip(columns[trace_column], *(columns[c] for c in shown),
                                            strict=True)):
        cells = [html.Td(str(v)) for v in values]
        cells.append(html.Td(html.Button(
            opener, id={"type": "trace-btn", "inst": inst, "row": i, "year": year},
            className="btn btn-link btn-sm p-0") if inst else ""))
        rows.append(html.Tr(cells))
    table = dbc.Table([header, html.Tbody(rows)], id=table_id, bordered=False, hover=True,
                      size="sm", striped=True, responsive=True)
    if total <= len(rows):
        return table
    return html.Div([table, html.Small(t("common.rows_shown", lang, shown=len(rows), n=total),
                                       className="text-muted")])


def _page_of(rows: int, page: int | None, page_rows: int) -> tuple[int, int]:
    """(page, pages): ``page`` (1-based) clamped to the pages ``rows`` fill, ``page_rows`` a
    page; an empty table has one (empty) page."""
    pages = max(1, -(-rows // page_rows))
    return min(max(1, int(page or 1)), pages), pages


def _pager(pager_id: str) -> Any:
    """The page control under a paged table (its pages are set by the table's callback)."""
    return dbc.Pagination(id=pager_id, max_value=1, active_page=1, fully_expanded=False,
                          first_last=True, previous_next=True, size="sm",
                          className="mt-2 mb-0")


def _paged_table(rows: pd.DataFrame, page: int, table_id: str, lang: str, year: int,
                 total: int | None = None) -> Any:
    """Page ``page`` (1-based, :data:`PAGE_ROWS` rows) of a table with traceability buttons
    and a note of the rows shown. ``rows``: the whole table, or (with ``total``) the page's
    rows only, already cut out (then formatted only for the page)."""
    if total is None:
        total = len(rows)
        rows = rows.iloc[(page - 1) * PAGE_ROWS:page * PAGE_ROWS]
    first = (page - 1) * PAGE_ROWS
    table = _table(rows, table_id, "institution_id", lang, year, max_rows=PAGE_ROWS)
    if total <= PAGE_ROWS:
        return table
    return html.Div([table, html.Small(t("common.page_rows", lang, first=first + 1,
                                         last=first + len(rows), n=total),
                                       className="text-muted d-block")])


def _static_table(columns: Columns, table_id: str, total: int, lang: str) -> Any:
    """A read-only table as one component (escaped HTML in a Markdown block): the browser renders
    a page of rows at once instead of one component per cell."""
    shown = [c for c in columns if c != "institution_id"]
    head = "".join(f"<th>{html_escape(str(c))}</th>" for c in shown)
    cells = [[f"<td>{html_escape(str(v))}</td>" for v in columns[c]] for c in shown]
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in zip(*cells, strict=True))
    n = len(cells[0]) if cells else 0
    markup = (f'<table class="table table-sm table-striped table-hover mb-0"><thead><tr>{head}'
              f"</tr></thead><tbody>{body}</tbody></table>")
    if total > n:
        markup += (f'<small class="text-muted">'
                   f"{html_escape(t('common.rows_shown', lang, shown=n, n=total))}</small>")
    return dcc.Markdown(markup, id=table_id, dangerously_allow_html=True,
                        className="table-responsive")


def _no_access(lang: str) -> Any:
    return dbc.Alert(t("common.no_access", lang), color="warning", className="no-access")


def _card(title: str, body: Any, card_id: str | None = None) -> Any:
    kwargs = {"id": card_id} if card_id else {}
    return dbc.Card([dbc.CardHeader(title), dbc.CardBody(body)], className="mb-3", **kwargs)


def _year_options(lang: str, today: date) -> list[dict]:
    return [{"label": str(y) if lang == "en" else f"{y}年", "value": y}
            for y in range(today.year, 2019, -1)]


def _institution_options(data: DataService, user: User, lang: str, every: bool,
                         compounds: bool = False) -> list[dict]:
    """The institutions ``user`` sees as dropdown options; with ``compounds`` also the compounds
    whose meters they may read as a member (the Live page), labelled as compounds."""
    table = data.visible_institutions(user)
    options = [{"label": t("common.all_institutions", lang), "value": "*"}] if every else []
    options += [{"label": f"{r.name} ({r.institution_id})" if isinstance(r.name, str)
                 else r.institution_id, "value": r.institution_id} for r in table.itertuples()]
    if compounds:
        shared = data.member_compounds(user)
        names = data.names()
        for option in options:
            if option["value"] in shared:
                option["label"] = t("live.compound_option", lang,
                                    name=names.get(option["value"], option["value"]),
                                    id=option["value"])
        listed = {o["value"] for o in options}
        options += [{"label": t("live.compound_option", lang, name=names.get(c, c), id=c),
                     "value": c} for c in shared if c not in listed]
    return options


# ---------------------------------------------------------------------------------------------
# Page layouts (labels only; data comes from the callbacks)
# ---------------------------------------------------------------------------------------------


def live_page(data: DataService, user: User, lang: str) -> Any:
    """实时监测: latest readings, offline devices, today's hours, sub-items, base load, trend."""
    options = _institution_options(data, user, lang, every=False, compounds=True)
    return html.Div([
        html.H2(t("nav.live", lang), className="h4 page-title"),
        dbc.Row([dbc.Col([dbc.Label(t("common.institution", lang)), dcc.Dropdown(
            id="live-inst", options=options, value=options[0]["value"] if options else None,
            clearable=False)], md=4)], className="mb-3"),
        dcc.Interval(id="live-tick", interval=30_000),
        dbc.Row([dbc.Col(_card(t("live.latest_title", lang), html.Div(id="live-latest")), md=7),
                 dbc.Col(_card(t("live.offline_title", lang), html.Div(id="live-offline")), md=5)]),
        dbc.Row([dbc.Col(dcc.Graph(id="live-hourly"), md=7),
                 dbc.Col(dcc.Graph(id="live-subitem"), md=5)]),
        _card(t("live.baseload_title", lang), html.Div(id="live-baseload")),
        dbc.Row([dbc.Col([dbc.Label(t("live.meter", lang)),
                          dcc.Dropdown(id="live-meter", clearable=False)], md=4)]),
        dcc.Graph(id="live-trend"),
    ])


def statistics_page(data: DataService, user: User, lang: str, today: date) -> Any:
    """统计: monthly quantities, completeness, the review list, ledgers, upload, workbook."""
    options = _institution_options(data, user, lang, every=True)
    upload = []
    if user.can_upload:
        upload = [_card(t("stats.upload_title", lang), [
            dbc.Row([dbc.Col(dcc.Dropdown(
                id="stats-upload-kind", value="headcount", clearable=False,
                options=[{"label": t(f"ledger.{k}", lang), "value": k} for k in LEDGER_KINDS]),
                md=3),
                dbc.Col(dcc.Upload(id="stats-upload", children=html.Div(
                    t("stats.upload_hint", lang)), className="border border-2 rounded p-2 "
                    "text-center", style={"borderStyle": "dashed"}), md=9)]),
            html.Div(id="stats-upload-result", className="mt-2")])]
    return html.Div([
        html.H2(t("nav.statistics", lang), className="h4 page-title"),
        dbc.Row([
            dbc.Col([dbc.Label(t("common.year", lang)), dcc.Dropdown(
                id="stats-year", options=_year_options(lang, today), value=today.year,
                clearable=False)], md=2),
            dbc.Col([dbc.Label(t("common.institution", lang)), dcc.Dropdown(
                id="stats-inst", options=options, value="*", clearable=False)], md=4),
            dbc.Col(html.Div(id="stats-tools"), md=6,
                    className="d-flex align-items-end justify-content-end"),
        ], className="mb-3"),
        dcc.Loading(html.Div(id="stats-status")),
        _card(t("stats.monthly_title", lang), html.Div(
            id="stats-monthly", style={"maxHeight": "28rem", "overflowY": "auto"})),
        dcc.Graph(id="stats-heatmap"),
        _card(t("stats.review_title", lang), [html.Div(
            id="stats-review", style={"maxHeight": "24rem", "overflowY": "auto"}),
            _pager("stats-review-page")]),
        _card(t("stats.ledgers_title", lang), [
            dcc.Dropdown(id="stats-ledger-kind", value="institutions", clearable=False,
                         options=[{"label": t(f"ledger.{k}", lang), "value": k}
                                  for k in LEDGER_KINDS], className="mb-2"),
            html.Div(id="stats-ledger", style={"maxHeight": "24rem", "overflowY": "auto"})]),
        _card(t("stats.compounds_title", lang), html.Div(id="stats-compounds")),
        *upload,
    ])


def carbon_page(data: DataService, user: User, lang: str, today: date) -> Any:
    """碳排放: monthly tce and CO2 by scope or carrier, the 十四五 path, the projection."""
    options = _institution_options(data, user, lang, every=True)
    return html.Div([
        html.H2(t("nav.carbon", lang), className="h4 page-title"),
        dbc.Row([
            dbc.Col([dbc.Label(t("common.year", lang)), dcc.Dropdown(
                id="carbon-year", options=_year_options(lang, today), value=today.year,
                clearable=False)], md=2),
            dbc.Col([dbc.Label(t("common.institution", lang)), dcc.Dropdown(
                id="carbon-inst", options=options, value="*" if len(options) > 2
                else options[-1]["value"], clearable=False)], md=4),
            dbc.Col([dbc.Label(t("carbon.split", lang)), dbc.RadioItems(
                id="carbon-by", inline=True, value="scope", options=[
                    {"label": t("carbon.by_scope", lang), "value": "scope"},
                    {"label": t("carbon.by_carrier", lang), "value": "carrier"}])], md=3),
            dbc.Col([dbc.Label(t("carbon.indicator", lang)), dcc.Dropdown(
                id="carbon-subject", value="kgce_per_m2", clearable=False, options=[
                    {"label": t(f"indicator.{s}", lang), "value": s} for s in
                    ("kgce_per_m2", "kgce_per_person", "kgco2_per_m2", "water_m3_per_person")])],
                md=3),
        ], className="mb-3"),
        dcc.Loading(html.Div(id="carbon-totals")),
        dbc.Row([dbc.Col(dcc.Graph(id="carbon-tce"), md=6),
                 dbc.Col(dcc.Graph(id="carbon-co2"), md=6)]),
        dcc.Graph(id="carbon-fyp14"),
        _card(t("carbon.projection_title", lang), html.Div(id="carbon-projection")),
        dcc.Interval(id="carbon-poll", interval=3000, disabled=False),
    ])


def benchmarking_page(data: DataService, user: User, lang: str, today: date) -> Any:
    """对标: league tables in peer groups, bands, certification, scatter, year-on-year."""
    return html.Div([
        html.H2(t("nav.benchmarking", lang), className="h4 page-title"),
        dbc.Row([
            dbc.Col([dbc.Label(t("common.year", lang)), dcc.Dropdown(
                id="bench-year", options=_year_options(lang, today), value=today.year,
                clearable=False)], md=2),
            dbc.Col([dbc.Label(t("carbon.indicator", lang)), dcc.Dropdown(
                id="bench-indicator", value="kgce_per_m2", clearable=False,
                options=[{"label": f"{t(f'indicator.{k}', lang)} ({unit})", "value": k}
                         for k, unit in fig.INDICATORS.items()])], md=4),
        ], className="mb-3"),
        dcc.Loading(_card(t("bench.league_title", lang), [html.Div(id="bench-league"),
                                                           _pager("bench-league-page")])),
        _card(t("bench.peers_title", lang), html.Div(id="bench-peers")),
        dcc.Graph(id="bench-scatter"),
        _card(t("bench.cert_title", lang), html.Div(id="bench-cert")),
        dcc.Loading(_card(t("bench.county_title", lang), html.Div(id="bench-county"))),
    ])


def system_page(data: DataService, user: User, lang: str) -> Any:
    """System (admin): collectors and gateways, spool, store."""
    return html.Div([
        html.H2(t("nav.system", lang), className="h4 page-title"),
        dcc.Interval(id="system-tick", interval=30_000),
        _card(t("system.store_title", lang), html.Div(id="system-store")),
        _card(t("system.gateways_title", lang), html.Div(id="system-gateways")),
        _card(t("system.meters_title", lang), html.Div(id="system-meters")),
    ])


def navbar(user: User, lang: str, path: str) -> Any:
    """The top bar: pages the user may open, who is signed in, the language switch."""
    links = [dbc.NavItem(dbc.NavLink(t(key, lang), href=p, active=p == path,
                                     id=f"nav-{p.strip('/')}"))
             for p, (key, roles) in PAGES.items() if user.role in roles]
    return dbc.Navbar(dbc.Container([
        dbc.NavbarBrand(t("app.title", lang), href="/", id="brand"),
        dbc.Nav(links, navbar=True),
        html.Div([
            html.Span(t("app.signed_in_as", lang, name=user.name,
                        role=t(f"role.{user.role}", lang)), className="text-light me-3 small",
                      id="who"),
            html.Button(t("lang.switch", lang), id="lang-toggle",
                        className="btn btn-sm btn-outline-light me-2"),
            html.A(t("app.sign_out", lang), href="/logout", className="btn btn-sm btn-light",
                   id="sign-out"),
        ], className="d-flex align-items-center"),
    ], fluid=True), color="dark", dark=True, className="mb-3")


# ---------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------


def create_app(settings: Any, users: dict[str, User] | None = None,
               data: DataService | None = None, projections: Projections | None = None,
               secret_key: str | None = None, limiter: RateLimiter | None = None,
               warm: bool = True) -> dash.Dash:
    """The dashboard's Dash app, guarded by the sign-in.

    Parameters
    ----------
    settings
        The composed settings (``[dashboard]``, the store, the ledgers, the meters).
    users
        Who may sign in; :func:`dashboard.auth.load_users` of the settings when None.
    data, projections
        Shared services (made from the settings when None).
    secret_key
        The cookie signing key (``secret_key_env`` or random when None).
    limiter
        The sign-in rate limit.
    warm
        Compute the current year's account in a background thread at once, so that the first
        person to open a page does not wait for it.
    """
    users = load_users(settings.dashboard) if users is None else users
    data = data or DataService(settings)
    projections = projections or Projections(settings)
    default_lang = settings.dashboard.language
    app = dash.Dash(__name__, assets_folder=str(ASSETS), title="节能 Jieneng",
                    update_title=None, suppress_callback_exceptions=True, serve_locally=True)
    install_auth(app.server, users, settings.dashboard, limiter=limiter, secret_key=secret_key)
    app.jieneng_data = data  # type: ignore[attr-defined]  (for tests and the benchmark)
    tz = settings.site.tzinfo

    def today() -> date:
        return datetime.now(tz).date()

    if warm:
        data.prefetch(today().year)

    def shell() -> Any:
        lang = flask.request.cookies.get("jieneng_lang") if flask.has_request_context() else None
        return html.Div([
            dcc.Location(id="url"),
            dcc.Store(id="lang", data=lang if lang in ("zh", "en") else default_lang,
                      storage_type="local"),
            dcc.Store(id="width", data=fig.DEFAULT_WIDTH_PX),
            html.Div(id="navbar"),
            dbc.Container(html.Div(id="page"), fluid=True),
            dbc.Offcanvas(html.Div(id="trace-body"), id="trace", placement="end",
                          is_open=False, style={"width": "48rem"}),
        ])

    app.layout = shell

    app.clientside_callback(
        "function(p) { return Math.max(300, Math.round(window.innerWidth * 0.9)); }",
        Output("width", "data"), Input("url", "pathname"))

    @app.callback(Output("lang", "data"), Input("lang-toggle", "n_clicks"), State("lang", "data"),
                  prevent_initial_call=True)
    def toggle_language(clicks: int | None, lang: str) -> str:
        if not clicks:  # the navbar is re-rendered with a fresh button: not a click
            raise dash.exceptions.PreventUpdate
        return "en" if lang == "zh" else "zh"

    @app.callback(Output("navbar", "children"), Output("page", "children"),
                  Input("url", "pathname"), Input("lang", "data"))
    def render(path: str | None, lang: str) -> tuple[Any, Any]:
        user = current_user()
        if user is None:
            raise dash.exceptions.PreventUpdate
        lang = lang if lang in ("zh", "en") else default_lang
        path = path if path in PAGES else HOME[user.role]
        if user.role not in PAGES[path][1]:
            return navbar(user, lang, path), _no_access(lang)
        builders = {
            "/live": lambda: live_page(data, user, lang),
            "/statistics": lambda: statistics_page(data, user, lang, today()),
            "/carbon": lambda: carbon_page(data, user, lang, today()),
            "/benchmarking": lambda: benchmarking_page(data, user, lang, today()),
            "/system": lambda: system_page(data, user, lang),
        }
        return navbar(user, lang, path), builders[path]()

    # -- live ------------------------------------------------------------------------------------

    @app.callback(Output("live-latest", "children"), Output("live-offline", "children"),
                  Output("live-hourly", "figure"), Output("live-subitem", "figure"),
                  Output("live-baseload", "children"), Output("live-meter", "options"),
                  Output("live-meter", "value"),
                  Input("live-inst", "value"), Input("live-tick", "n_intervals"),
                  State("lang", "data"), State("live-meter", "value"))
    def live(institution: str | None, _tick: int | None, lang: str, meter: str | None) -> tuple:
        user = current_user()
        # an institution the user sees, or a compound one of theirs is a member of (read-only)
        scope = data.meter_scope(user, institution) if user and institution else []
        if not scope:
            empty = fig.empty_figure(t("common.no_access", lang), lang)
            return _no_access(lang), "", empty, empty, "", [], None
        inst = scope[0]
        now = datetime.now(tz)
        meters = data.meters_of(scope)
        latest = data.latest(scope)
        health = data.health(scope, now - timedelta(days=7))
        offline = _offline_rows(_meter_states(meters, health, latest, now), tz, lang)
        start = datetime.combine(now.date() - timedelta(days=7), datetime.min.time(), tz)
        hours = data.hourly(inst, start - timedelta(hours=1), now)
        month_start = now.date().replace(day=1)
        daily = data.daily(scope, month_start, now.date() + timedelta(days=1))
        days = hours["day"].to_numpy()
        hour_of, quantity = hours["hour"].to_numpy(dtype=int), hours["quantity"].to_numpy(float)

        def day_series(day: date) -> pd.Series:
            return fig.day_hours(hour_of[days == day], quantity[days == day])

        hourly = fig.hourly_figure(day_series(now.date()), day_series(now.date() - timedelta(1)),
                                   day_series(now.date() - timedelta(7)), "kWh", lang) \
            if len(hours) else fig.empty_figure(t("live.no_hourly", lang), lang)
        subitems = fig.subitem_figure(fig.subitem_totals(daily), lang)
        workdays = {d: chinese_calendar.is_workday(d) for d in set(days)}
        load = fig.base_load(hours[hours["day"] < now.date()], workdays)
        baseload = html.Div([
            html.Span(t("live.night", lang) + f": {fmt_number(load['night'], lang, 1)} kWh/h · "),
            html.Span(t("live.daytime", lang) + f": {fmt_number(load['day'], lang, 1)} kWh/h · "),
            html.Span(t("live.restday", lang) + f": {fmt_number(load['rest'], lang, 1)} kWh/h · "),
            html.Strong(t("live.ratio", lang) + f": {fmt_pct(load['ratio'], lang)}"),
        ], id="live-baseload-text")
        meter_options = [{"label": f"{m} ({t(f'carrier.{c}', lang)})", "value": m}
                         for m, c in zip(meters["meter"], meters["carrier"], strict=True)]
        meter = meter if meter in set(meters["meter"]) else (
            meter_options[0]["value"] if meter_options else None)
        latest_table = _table(_latest_rows(latest, now, lang), "live-latest-table", lang=lang)
        if inst in data.member_compounds(user):  # a compound's meters (read-only)
            latest_table = html.Div([html.Small(t("live.compound_note", lang,
                                                  name=data.names().get(inst, inst)),
                                                className="text-muted d-block mb-2",
                                                id="live-compound-note"), latest_table])
        return latest_table, offline, hourly, subitems, baseload, meter_options, meter

    @app.callback(Output("live-trend", "figure"), Input("live-meter", "value"),
                  Input("width", "data"), State("lang", "data"))
    def live_trend(meter: str | None, width: int | None, lang: str) -> Any:
        user = current_user()
        m = data.meter(meter)
        if user is None or m is None or not data.reads_meter(user, meter):
            return fig.empty_figure(t("common.no_access", lang), lang)
        now = datetime.now(tz)
        with data.store() as store:
            raw = store.read_readings(now - timedelta(days=7), now, meters=[meter],
                                      points=[m["point"]])
        good = (raw["quality"] == "good").to_numpy()
        if not good.any():
            return fig.empty_figure(t("live.no_readings", lang), lang)
        times = pd.DatetimeIndex(raw["time"][good]).tz_convert(tz).tz_localize(None).to_numpy()
        return fig.trend_figure(times, raw["value"].to_numpy(dtype=float)[good], meter,
                                m["unit"], lang, int(width or fig.DEFAULT_WIDTH_PX))

    # -- statistics --------------------------------------------------------------------------------

    @app.callback(Output("stats-monthly", "children"), Output("stats-heatmap", "figure"),
                  Output("stats-status", "children"), Output("stats-tools", "children"),
                  Input("stats-year", "value"), Input("stats-inst", "value"),
                  Input("width", "data"), State("lang", "data"))
    def statistics(year: int, institution: str | None, width: int | None, lang: str) -> tuple:
        user = current_user()
        scope = data.scope(user, institution) if user else []
        if not scope:
            return _no_access(lang), fig.empty_figure(t("common.no_access", lang), lang), "", ""
        yd = data.year_data(int(year))
        names = data.names()
        wide = yd.monthly_by_institution()
        wide = wide[wide["institution_id"].isin(scope)]
        table = fig.monthly_quantities(wide.head(MAX_ROWS), names, lang)
        heat = data.completeness(int(year), scope)
        if len(heat) > 40:  # the least complete first: the review is about them
            heat = heat.loc[heat.mean(axis=1).sort_values().index[:40]]
        heatmap = fig.completeness_heatmap(heat, names, lang, int(width or fig.DEFAULT_WIDTH_PX))
        status = html.Small(t("stats.computed", lang, seconds=f"{yd.seconds:.1f}"),
                            className="text-muted")
        tools = html.A("↓ " + t("stats.download", lang) + f" {year}", id="stats-download",
                       className="btn btn-outline-primary", href=f"/download/report/{year}.xlsx"
                       ) if user.can_download else ""
        return (_table(table, "stats-monthly-table", lang=lang, total=len(wide)), heatmap, status,
                tools)

    @app.callback(Output("stats-review", "children"), Output("stats-review-page", "max_value"),
                  Output("stats-review-page", "active_page"),
                  Input("stats-year", "value"), Input("stats-inst", "value"),
                  Input("stats-review-page", "active_page"), State("lang", "data"))
    def review(year: int, institution: str | None, page: int | None, lang: str) -> tuple:
        user = current_user()
        scope = data.scope(user, institution) if user else []
        if not scope:
            return _no_access(lang), 1, 1
        yd = data.year_data(int(year))
        rows = yd.derived(("review", lang), lambda: _review_rows(yd, data.names(), lang))
        rows = rows[rows["institution_id"].isin(scope)] if len(rows) else rows
        if dash.ctx.triggered_id != "stats-review-page":  # another year or institution
            page = 1
        page, pages = _page_of(len(rows), page, PAGE_ROWS)
        return (_paged_table(rows, page, "stats-review-table", lang, int(year)), pages, page)

    @app.callback(Output("stats-ledger", "children"), Input("stats-ledger-kind", "value"),
                  State("lang", "data"))
    def ledger(kind: str, lang: str) -> Any:
        user = current_user()
        if user is None or kind not in LEDGER_KINDS:
            return _no_access(lang)
        table = data.ledger(kind, user)
        note = html.Small(t("stats.ledger_rows", lang, n=len(table), shown=min(len(table), 50)),
                          className="text-muted")
        return [note, _table(table.head(200).astype(object).where(table.head(200).notna(), "–"),
                             "stats-ledger-table", lang=lang, max_rows=50)]

    @app.callback(Output("stats-compounds", "children"), Input("stats-year", "value"),
                  State("lang", "data"))
    def compounds(year: int, lang: str) -> Any:
        user = current_user()
        if user is None:
            return _no_access(lang)
        # DataService.compounds narrows a manager to the compounds their institutions are in,
        # and there to the compound total and their own members' shares
        table = data.compounds(int(year), user)
        note = html.Small(t("stats.compounds_note", lang), className="text-muted") \
            if user.institutions is not None else ""
        return [_table(_compound_rows(table, data.names(), lang), "stats-compounds-table",
                       lang=lang), note]

    @app.callback(Output("stats-upload-result", "children"), Input("stats-upload", "contents"),
                  State("stats-upload", "filename"), State("stats-upload-kind", "value"),
                  State("lang", "data"), prevent_initial_call=True)
    def upload(contents: str | None, filename: str | None, kind: str, lang: str) -> Any:
        user = current_user()
        if user is None or not user.can_upload:
            return _no_access(lang)
        if not contents or kind not in LEDGER_KINDS:
            raise dash.exceptions.PreventUpdate
        return _import_upload(settings, contents, filename or "upload.csv", kind, lang)

    @app.server.route("/download/report/<int:year>.xlsx")
    def download_report(year: int) -> flask.Response:
        user = current_user()
        if user is None or not user.can_download:
            return flask.Response(t("common.no_access", default_lang), 403)
        yd = data.year_data(year)
        with tempfile.TemporaryDirectory(prefix="jieneng-report-") as folder:
            out = write_report(yd.account, Path(folder) / f"jieneng-{year}.xlsx", settings,
                               as_of=today())
            payload = out.read_bytes()
        response = flask.Response(payload, mimetype="application/vnd.openxmlformats-"
                                  "officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = (
            f"attachment; filename=jieneng-report-{year}.xlsx")
        return response

    # -- carbon ----------------------------------------------------------------------------------

    @app.callback(Output("carbon-tce", "figure"), Output("carbon-co2", "figure"),
                  Output("carbon-fyp14", "figure"), Output("carbon-totals", "children"),
                  Input("carbon-year", "value"), Input("carbon-inst", "value"),
                  Input("carbon-by", "value"), Input("carbon-subject", "value"),
                  State("lang", "data"))
    def carbon(year: int, institution: str | None, by: str, subject: str, lang: str) -> tuple:
        user = current_user()
        scope = data.scope(user, institution) if user else []
        if not scope:
            empty = fig.empty_figure(t("common.no_access", lang), lang)
            return empty, empty, empty, _no_access(lang)
        yd = data.year_data(int(year))
        by = by if by in ("scope", "carrier") else "scope"
        kg = yd.monthly_kg(by)
        kg = kg[kg["institution_id"].isin(scope)]
        tce = fig.monthly_figure(kg, "kgce", by, lang)
        co2 = fig.monthly_figure(kg, "kgco2", by, lang)
        figures = yd.account.figures[yd.account.figures["institution_id"].isin(scope)]
        if len(scope) == 1:
            v = yd.verdicts_of("fyp14", lang)
            rows = v[(v["institution_id"] == scope[0]) & (v["subject"] == str(subject))]
            path = fig.fyp14_figure(rows, _projected(projections, data, yd, scope[0], subject),
                                    lang)
        else:
            path = fig.empty_figure(t("carbon.pick_one", lang), lang)
        totals = html.Div([
            html.Span(f"{t('carbon.total_tce', lang)}: "
                      f"{fmt_number(figures['energy_tce'].sum(min_count=1), lang, 1)} tce · "),
            html.Span(f"{t('carbon.total_co2', lang)}: "
                      f"{fmt_number(figures['co2_t'].sum(min_count=1), lang, 1)} tCO2 · "),
            html.Span(f"{t('carbon.scope1', lang)}: "
                      f"{fmt_number(figures['scope1_co2_t'].sum(min_count=1), lang, 1)} · "
                      f"{t('carbon.scope2', lang)}: "
                      f"{fmt_number(figures['scope2_co2_t'].sum(min_count=1), lang, 1)} tCO2"),
        ], id="carbon-totals-text")
        return tce, co2, path, totals

    @app.callback(Output("carbon-projection", "children"), Output("carbon-poll", "disabled"),
                  Input("carbon-year", "value"), Input("carbon-inst", "value"),
                  Input("carbon-poll", "n_intervals"), State("lang", "data"))
    def projection(year: int, institution: str | None, _n: int | None, lang: str) -> tuple:
        user = current_user()
        scope = data.scope(user, institution) if user else []
        if not scope:
            return _no_access(lang), True
        yd = data.year_data(int(year))
        state = projections.get(int(year), _projection_state(yd))
        if state.status == "missing":
            return dbc.Alert(t("carbon.forecast_missing", lang), color="secondary",
                             id="projection-missing"), True
        if state.status == "computing":
            return html.Div([dbc.Spinner(size="sm"), " " + t("carbon.computing", lang)],
                            id="projection-computing"), False
        if state.status == "failed":
            return dbc.Alert(t("carbon.forecast_failed", lang, error=state.error),
                             color="danger"), True
        return _projection_tables(state.result, scope, data.names(), lang), True

    # -- benchmarking ------------------------------------------------------------------------------

    @app.callback(Output("bench-league", "children"), Output("bench-league-page", "max_value"),
                  Output("bench-league-page", "active_page"),
                  Input("bench-year", "value"), Input("bench-indicator", "value"),
                  Input("bench-league-page", "active_page"), State("lang", "data"))
    def league(year: int, indicator: str, page: int | None, lang: str) -> tuple:
        user = current_user()
        if user is None or indicator not in fig.INDICATORS:
            return _no_access(lang), 1, 1
        yd = data.year_data(int(year))
        previous = data.cached_year(int(year) - 1)
        if previous is None:  # year-on-year needs last year's account: computed aside
            data.prefetch(int(year) - 1)
        visible = None if user.institutions is None else set(user.institutions)
        # the league of every institution is computed once per account; a request narrows it
        # to the reader (a manager: the peer groups their institutions are in) and one page
        frame = yd.derived(("league", indicator, previous.key if previous else None),
                           lambda: _league_frame(yd, previous, indicator))
        own = None
        if visible is not None:
            frame = frame[_in_groups(frame, frame[frame["institution_id"].isin(visible)])]
            own = np.flatnonzero(frame["institution_id"].isin(visible).to_numpy())
        if dash.ctx.triggered_id != "bench-league-page":
            # a new table: a manager's opens at the page of their first row
            page = 1 + int(own[0]) // PAGE_ROWS if own is not None and len(own) else 1
        page, pages = _page_of(len(frame), page, PAGE_ROWS)
        first = (page - 1) * PAGE_ROWS
        rows = fig.league_rows(frame.iloc[first:first + PAGE_ROWS], visible, lang)
        note = html.Small(t("bench.yoy_pending", lang, year=int(year) - 1),
                          className="text-muted d-block") if previous is None else ""
        return (html.Div([_paged_table(rows, page, "bench-league-table", lang, int(year),
                                       total=len(frame)), note]), pages, page)

    @app.callback(Output("bench-peers", "children"), Output("bench-scatter", "figure"),
                  Output("bench-cert", "children"),
                  Input("bench-year", "value"), Input("bench-indicator", "value"),
                  State("lang", "data"))
    def benchmarking(year: int, indicator: str, lang: str) -> tuple:
        user = current_user()
        if user is None or indicator not in fig.INDICATORS:
            empty = fig.empty_figure(t("common.no_access", lang), lang)
            return _no_access(lang), empty, ""
        yd = data.year_data(int(year))
        visible = None if user.institutions is None else set(user.institutions)
        # the peer and certification tables hold every institution and are computed once per
        # account (and language); each request only narrows them to the reader
        peers = yd.derived(("peers", indicator),
                           lambda: fig.peer_table(yd.account.figures, indicator))
        certs = yd.derived(("certifications", lang), lambda: _cert_rows(yd, data.names(), lang))
        if visible is not None:  # a manager sees the peer groups their institutions are in
            figures = yd.account.figures
            peers = peers[_in_groups(peers, figures[figures["institution_id"].isin(visible)])]
            certs = certs[certs["institution_id"].isin(visible)]
        scatter = fig.benchmark_scatter(yd.account.figures, visible, lang)
        return (_table(_peer_rows(peers, lang), "bench-peers-table", lang=lang), scatter,
                _table(certs.head(MAX_ROWS), "bench-cert-table", lang=lang, total=len(certs)))

    @app.callback(Output("bench-county", "children"), Input("bench-year", "value"),
                  State("lang", "data"))
    def county_league(year: int, lang: str) -> Any:
        user = current_user()
        if user is None:
            return _no_access(lang)
        # County scores are aggregates over each county's institutions and name no single
        # institution's figures: officers, leaders and admins see the whole league, and so does
        # a manager (keep it so only while the league shows nothing but county aggregates).
        # the same for every reader: rendered once per account and language
        yd = data.year_data(int(year))
        return yd.derived(("county_league", lang),
                          lambda: _county_league(data.evaluation(int(year)), lang))

    # -- traceability ------------------------------------------------------------------------------

    @app.callback(Output("trace", "is_open"), Output("trace", "title"),
                  Output("trace-body", "children"),
                  Input({"type": "trace-btn", "inst": ALL, "row": ALL, "year": ALL}, "n_clicks"),
                  State("lang", "data"), prevent_initial_call=True)
    def trace(clicks: list, lang: str) -> tuple:
        user = current_user()
        trigger = dash.ctx.triggered_id
        if user is None or not isinstance(trigger, dict) or not any(clicks or []):
            raise dash.exceptions.PreventUpdate
        inst = str(trigger.get("inst", ""))
        if not inst or not user.sees(inst):
            return True, t("trace.title", lang), _no_access(lang)
        year = int(trigger.get("year") or today().year)
        return True, t("trace.title", lang), _trace_body(data.year_data(year), inst,
                                                         data.names(), lang)

    # -- system ----------------------------------------------------------------------------------

    @app.callback(Output("system-store", "children"), Output("system-gateways", "children"),
                  Output("system-meters", "children"), Input("system-tick", "n_intervals"),
                  State("lang", "data"))
    def system(_n: int | None, lang: str) -> tuple:
        user = current_user()
        if user is None or user.role != "admin":
            return _no_access(lang), "", ""
        status = data.system_status()
        now = datetime.now(tz)
        store_rows = pd.DataFrame([
            {t("col.item", lang): t("system.backend", lang), t("col.value", lang):
             status["backend"]},
            {t("col.item", lang): t("system.path", lang), t("col.value", lang):
             status.get("store_path", "–")},
            {t("col.item", lang): t("system.size", lang), t("col.value", lang):
             _megabytes(status.get("store_bytes"), lang)},
            {t("col.item", lang): t("system.latest_write", lang), t("col.value", lang):
             fmt_datetime(status["latest_write"].astimezone(tz), lang)
             if status["latest_write"] else "–"},
            {t("col.item", lang): t("system.series", lang), t("col.value", lang):
             str(status["series"])},
            {t("col.item", lang): t("system.spool", lang), t("col.value", lang):
             f"{status['spool_path']} · {_megabytes(status['spool_bytes'], lang)} · "
             + t("system.pending", lang, n="–" if status["spool_pending"] is None
                 else status["spool_pending"])},
        ])
        health = data.health(None, now - timedelta(days=1))
        latest = data.latest(list(data.meters["institution_id"].unique()))
        states = _meter_states(data.meters, health, latest, now)
        return (_table(store_rows, "system-store-table", lang=lang),
                _table(_gateway_rows(states, lang), "system-gateways-table", lang=lang),
                _table(_meter_rows(states.head(MAX_ROWS), tz, lang), "system-meters-table",
                       lang=lang, total=len(states)))

    return app


# ---------------------------------------------------------------------------------------------
# Helpers of the callbacks (pure, on tables)
# ---------------------------------------------------------------------------------------------


def _projection_state(yd: Any) -> tuple:
    """The data state a projection is fitted for: the ledgers, and the store by the hour (the
    account's state moves every ``refresh_s``; a fit is slower and needs not follow each step)."""
    _kind, _year, ledger, store = yd.key
    return (ledger, store // 12)


def _megabytes(size: int | None, lang: str) -> str:
    return "–" if size is None else f"{fmt_number(size / 1e6, lang, 1)} MB"


def _latest_rows(latest: pd.DataFrame, now: datetime, lang: str) -> Columns:
    """Display rows of the latest readings (one per meter and point), by building and meter."""
    names = ["building", "meter", "carrier", "value", "unit", "quality", "time"]
    rows = sorted(zip(*(latest[c].tolist() for c in names), strict=True),
                  key=lambda r: (str(r[0]), str(r[1])))
    now_ts = pd.Timestamp(now)
    return {
        t("col.building", lang): [r[0] for r in rows],
        t("col.meter", lang): [r[1] for r in rows],
        t("col.carrier", lang): [t(f"carrier.{r[2]}", lang) for r in rows],
        t("col.reading", lang): [f"{fmt_number(r[3], lang, 2)} {r[4]}" for r in rows],
        t("col.quality", lang): [fig.label_or_code(f"quality.{r[5]}", lang) for r in rows],
        t("col.age", lang): [fmt_age((now_ts - r[6]).total_seconds(), lang) for r in rows],
    }


def _meter_states(meters: pd.DataFrame, health: pd.DataFrame, latest: pd.DataFrame,
                  now: datetime) -> pd.DataFrame:
    """One row per meter of ``meters``: meter, gateway, state (ok / offline / stale), since
    (the last success of an offline meter, else the newest reading; UTC), age_s (of the newest
    reading; NaN without one) [s], and error (the last health record's, "" without one).

    A meter is offline when its newest health record says unavailable, stale when its newest
    reading is older than :data:`STALE_S` or it has none.
    """
    newest: dict[str, pd.Timestamp] = {}
    if len(latest):
        for meter, time in zip(latest["meter"].tolist(), latest["time"].tolist(), strict=True):
            if meter not in newest or time > newest[meter]:
                newest[meter] = time
    records: dict[str, tuple] = {}
    if len(health):  # the newest record of each meter is its last row
        records = {m: (a, s, e) for m, a, s, e in zip(
            health["meter"].tolist(), health["available"].tolist(),
            health["last_success"].tolist(), health["error"].tolist(), strict=True)}
    now_ts = pd.Timestamp(now)
    rows = []
    for meter, gateway in zip(meters["meter"].tolist(), meters["gateway"].tolist(), strict=True):
        last = newest.get(meter)
        age_s = (now_ts - last).total_seconds() if last is not None else np.nan
        available, last_success, error = records.get(meter, (None, None, ""))
        offline = available is not None and not bool(available)
        stale = last is None or age_s > STALE_S
        rows.append((meter, gateway, "offline" if offline else "stale" if stale else "ok",
                     last_success if offline else last, age_s,
                     "" if is_missing(error) else str(error)))
    return pd.DataFrame(rows, columns=["meter", "gateway", "state", "since", "age_s", "error"])


def is_missing_ts(value: Any) -> bool:
    """True for None/NaT."""
    return value is None or pd.isna(value)


def _meter_rows(states: pd.DataFrame, tz: Any, lang: str) -> Columns:
    """Display rows of :func:`_meter_states` rows (only those to show: formatting is per cell)."""
    since = [None if is_missing_ts(v) else pd.Timestamp(v).tz_convert(tz)
             for v in states["since"].tolist()]
    return {
        t("col.meter", lang): states["meter"].tolist(),
        t("col.gateway", lang): states["gateway"].tolist(),
        t("col.state", lang): [t(f"state.{s}", lang) for s in states["state"].tolist()],
        t("col.since", lang): ["–" if s is None else fmt_datetime(s.to_pydatetime(), lang)
                               for s in since],
        t("col.age", lang): [fmt_age(None if is_missing(a) else a, lang)
                             for a in states["age_s"].tolist()],
        t("col.error", lang): [e or "–" for e in states["error"].tolist()],
    }


def _gateway_rows(states: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One row per gateway: its meters, how many are ok, and its state."""
    if states.empty:
        return pd.DataFrame()
    out = states.assign(ok=states["state"] == "ok").groupby("gateway") \
        .agg(n=("ok", "size"), ok=("ok", "sum")).reset_index()
    return pd.DataFrame([{
        t("col.gateway", lang): r.gateway, t("col.meters", lang): int(r.n),
        t("col.ok", lang): int(r.ok),
        t("col.state", lang): t("state.ok" if r.ok == r.n else "state.offline" if r.ok == 0
                                else "state.partial", lang),
    } for r in out.itertuples()])


def _offline_rows(states: pd.DataFrame, tz: Any, lang: str) -> Any:
    """The meters that are not ok (offline or stale), or "all online"; times in ``tz``."""
    if states.empty:
        return html.P(t("common.no_rows", lang))
    down = states[(states["state"] != "ok").to_numpy()]
    if down.empty:
        return dbc.Alert(t("live.all_online", lang), color="success", className="mb-0")
    return _table(_meter_rows(down.head(MAX_ROWS), tz, lang), "live-offline-table",
                  lang=lang, total=len(down))


def _review_rows(yd: Any, names: dict[str, str], lang: str) -> pd.DataFrame:
    """Audit verdicts that are flagged, low coverage, and counter findings, of every
    institution (with ``institution_id``; a callback keeps the reader's)."""
    audit = yd.verdicts_of("audit", lang)
    audit = audit[audit["status"] == "flag"]
    rows = [{"institution_id": str(r.institution_id),
             t("col.institution", lang): names.get(str(r.institution_id), str(r.institution_id)),
             t("col.kind", lang): t("review.audit", lang), t("col.subject", lang): str(r.subject),
             t("col.reason", lang): r.reason or "–"} for r in audit.itertuples()]
    c = yd.account.carriers
    low = c[pd.to_numeric(c["coverage"], errors="coerce") < 0.8]
    rows += [{"institution_id": str(r.institution_id),
              t("col.institution", lang): names.get(str(r.institution_id), str(r.institution_id)),
              t("col.kind", lang): t("review.coverage", lang),
              t("col.subject", lang): t(f"carrier.{r.carrier}", lang),
              t("col.reason", lang): t("review.coverage_reason", lang,
                                       coverage=fmt_pct(r.coverage, lang))}
             for r in low.itertuples()]
    rows += [{"institution_id": str(r.institution_id),
              t("col.institution", lang): names.get(str(r.institution_id), str(r.institution_id)),
              t("col.kind", lang): t("review.counter", lang),
              t("col.subject", lang): f"{r.meter} {r.quality}",
              t("col.reason", lang): f"{r.start} – {r.end}: {r.note}"}
             for r in yd.findings.itertuples()]
    return pd.DataFrame(rows, columns=["institution_id"] if not rows else None)


#: The columns of a peer group (category × level × climate zone).
PEER_GROUP = ["category", "level", "climate_zone"]


def _in_groups(rows: pd.DataFrame, members: pd.DataFrame) -> np.ndarray:
    """True for each row of ``rows`` whose peer group (:data:`PEER_GROUP`) is one of
    ``members``' groups."""
    keys = pd.MultiIndex.from_frame(rows[PEER_GROUP].astype(str))
    return keys.isin(pd.MultiIndex.from_frame(members[PEER_GROUP].astype(str)))


def _league_frame(yd: Any, previous: Any, indicator: str) -> pd.DataFrame:
    """:func:`dashboard.figures.league_frame` of the year's account, with the band of the
    quota verdict that judges ``indicator`` (:data:`QUOTA_SUBJECT`)."""
    v = yd.account.verdicts
    quota = v[v["kind"].astype(str) == "quota"].copy()
    quota["subject"] = quota["subject"].astype(str).replace(
        {QUOTA_SUBJECT.get(indicator, indicator): indicator})
    return fig.league_frame(yd.account.figures,
                            previous.account.figures if previous is not None else None,
                            quota, indicator)


def _peer_rows(peers: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Display rows of :func:`dashboard.figures.peer_table` rows."""
    return pd.DataFrame([{
        t("col.group", lang): fig.peer_group_label((r.category, r.level, r.climate_zone), lang),
        t("col.peers", lang): r.n,
        "P25": fmt_number(r.p25, lang, 2),
        t("col.median", lang): fmt_number(r.median, lang, 2),
        "P75": fmt_number(r.p75, lang, 2),
        t("col.mean", lang): fmt_number(r.mean, lang, 2)} for r in peers.itertuples()])


def _cert_rows(yd: Any, names: dict[str, str], lang: str) -> pd.DataFrame:
    """Certification verdicts of every institution (with ``institution_id``)."""
    verdicts = yd.verdicts_of("certification", lang)
    return pd.DataFrame([{
        "institution_id": r.institution_id,
        t("col.institution", lang): names.get(r.institution_id, r.institution_id),
        t("col.certification", lang): t(f"cert.{r.subject}", lang),
        t("col.status", lang): fig.label_or_code(f"status.{r.status}", lang),
        t("col.reason", lang): r.reason or "–",
    } for r in verdicts.itertuples()], columns=["institution_id"] if verdicts.empty else None)


def _county_league(evaluation: Any, lang: str) -> Any:
    """The county league (one row per county by rank, then the city) and, per county and the
    city, an expandable table of its indicator points with their reasons."""
    scores = evaluation.scores
    if scores is None or scores.empty:
        return html.P(t("common.no_rows", lang), className="text-muted", id="bench-county-table")
    ordered = pd.concat([scores[~scores["is_city"]].sort_values(["rank", "region_code"]),
                         scores[scores["is_city"]]])
    league = pd.DataFrame([{
        t("col.rank", lang): t("bench.city", lang) if r["is_city"] else
        ("–" if is_missing(r["rank"]) else str(int(r["rank"]))),
        t("col.region_code", lang): str(r["region_code"]),
        t("col.county", lang): str(r["name"]),
        t("col.institutions", lang): str(int(r["institutions"])),
        t("col.score", lang): f"{fmt_number(r['score'], lang, 1)} / "
                              f"{fmt_number(r['max_score'], lang, 0)}",
    } for r in ordered.to_dict("records")])
    points = evaluation.points
    details = []
    for r in ordered.to_dict("records"):
        mine = points[points["region_code"] == r["region_code"]] if len(points) else points
        rows = pd.DataFrame([{
            t("col.indicator", lang): fig.label_or_code(f"evaluation.{p['indicator']}", lang),
            t("col.value", lang): _evaluation_value(p["value"], str(p["unit"]), lang),
            t("col.points", lang): f"{fmt_number(p['points'], lang, 1)} / "
                                   f"{fmt_number(p['max_points'], lang, 0)}",
            t("col.reason", lang): str(p["reason"]),
            t("col.source", lang): str(p["source"]),
        } for p in mine.to_dict("records")])
        code = str(r["region_code"]) or "city"
        details.append(html.Details([
            html.Summary(f"{r['name']} ({r['region_code']}) · "
                         f"{fmt_number(r['score'], lang, 1)}"),
            _table(rows, f"bench-county-points-{code}", lang=lang)], className="mb-1"))
    return html.Div([
        _table(league, "bench-county-table", lang=lang),
        html.Small(t("bench.county_note", lang), className="text-muted d-block mb-2"),
        html.H3(t("bench.county_points", lang), className="h6 mt-2"),
        *details,
    ], id="bench-county-content")


def _evaluation_value(value: Any, unit: str, lang: str) -> str:
    """An indicator's value: shares and changes as percentages, anything else with its unit."""
    if is_missing(value):
        return "–"
    if unit in ("share", "change"):
        return fmt_pct(value, lang, 1)
    return f"{fmt_number(value, lang, 2)} {unit}"


def _compound_rows(table: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """One row per compound: name, members, total, per m², per person, CO2 and the members'
    shares (whatever ``member_shares`` holds: the data service has narrowed it already)."""
    def shares(row: dict) -> str:
        total = row["energy_tce"]
        parts = []
        for inst, tce in sorted(row["member_shares"].items()):
            share = tce / total if not is_missing(total) and total > 0 else float("nan")
            parts.append(f"{names.get(inst, inst)}: {fmt_number(tce, lang, 1)} "
                         f"({fmt_pct(share, lang)})")
        return "; ".join(parts) or "–"

    return pd.DataFrame([{
        t("col.compound", lang): f"{r['name']} ({r['compound_id']})",
        t("col.members", lang): str(int(r["n_members"])),
        t("col.energy_tce", lang): fmt_number(r["energy_tce"], lang, 1),
        t("col.kgce_per_m2", lang): fmt_number(r["kgce_per_m2"], lang, 2),
        t("col.kgce_per_person", lang): fmt_number(r["kgce_per_person"], lang, 1),
        t("col.co2_t", lang): fmt_number(r["co2_t"], lang, 1),
        t("col.kgco2_per_m2", lang): fmt_number(r["kgco2_per_m2"], lang, 2),
        t("col.shares", lang): shares(r),
    } for r in table.to_dict("records")])


def _projected(projections: Projections, data: DataService, yd: Any, institution: str,
               subject: str) -> dict[str, float] | None:
    """p10/p50/p90 of the institution's year-end ``subject`` when the projection is ready."""
    state = projections.get(yd.year, _projection_state(yd))
    if state.status != "ready":
        return None
    ye = state.result.year_end
    row = ye[ye["institution_id"].astype(str) == institution]
    cols = [f"{subject}_p10", f"{subject}_p50", f"{subject}_p90"]
    if row.empty or not all(c in row.columns for c in cols):
        return None
    values = [float(row.iloc[0][c]) for c in cols]
    if any(is_missing(x) for x in values):
        return None
    return dict(zip(("p10", "p50", "p90"), values, strict=True))


def _projection_tables(result: Any, scope: list[str], names: dict[str, str], lang: str) -> Any:
    ye = result.year_end[result.year_end["institution_id"].astype(str).isin(scope)]
    rows = pd.DataFrame([{
        t("col.institution", lang): names.get(str(r["institution_id"]), str(r["institution_id"])),
        t("carbon.energy_tce", lang): f"{fmt_number(r['energy_tce_p50'], lang, 1)} "
        f"({fmt_number(r['energy_tce_p10'], lang, 1)}–{fmt_number(r['energy_tce_p90'], lang, 1)})",
        t("carbon.co2_t", lang): f"{fmt_number(r['co2_t_p50'], lang, 1)} "
        f"({fmt_number(r['co2_t_p10'], lang, 1)}–{fmt_number(r['co2_t_p90'], lang, 1)})",
    } for r in ye.to_dict("records")])
    risk = result.risk[result.risk["institution_id"].astype(str).isin(scope)]
    risk_rows = pd.DataFrame([{
        t("col.institution", lang): names.get(str(r["institution_id"]), str(r["institution_id"])),
        t("col.kind", lang): fig.label_or_code(f"kind.{r['kind']}", lang),
        t("col.subject", lang): fig.label_or_code(f"indicator.{r['subject']}", lang),
        t("col.level", lang): fig.label_or_code(f"band.{r['level']}", lang),
        t("col.threshold", lang): f"{fmt_number(r['threshold'], lang, 2)} {r['unit']}",
        t("col.probability", lang): fmt_pct(r["probability"], lang),
    } for r in risk.to_dict("records")])
    return html.Div([
        html.Small(t("carbon.as_of", lang, date=fmt_date(result.as_of, lang)),
                   className="text-muted"),
        _table(rows, "projection-table", lang=lang),
        html.H3(t("carbon.risk_title", lang), className="h6 mt-3"),
        _table(risk_rows, "risk-table", lang=lang),
    ], id="projection-ready")


def _trace_body(yd: Any, institution: str, names: dict[str, str], lang: str) -> Any:
    quantities, factors = fig.trace_tables(yd.account.carriers, yd.account.factors, yd.monthly,
                                           institution, lang)
    figures = yd.account.figures
    row = figures[figures["institution_id"].astype(str) == institution]
    headline = []
    if len(row):
        r = row.iloc[0]
        headline = [html.P([html.Strong(names.get(institution, institution)), f" · {yd.year} · ",
                            f"{fmt_number(r['energy_tce'], lang, 1)} tce · ",
                            f"{fmt_number(r['co2_t'], lang, 1)} tCO2 · ",
                            f"{fmt_number(r['kgce_per_m2'], lang, 2)} kgce/m² · ",
                            t("col.coverage", lang) + f" {fmt_pct(r['energy_coverage'], lang)} · ",
                            t("col.estimated", lang) + f" {fmt_pct(r['estimated_share'], lang)}"])]
    v = yd.verdicts(lang)
    mine = v[(v["institution_id"].astype(str) == institution)
             & v["kind"].astype(str).isin(["quota", "fyp14", "certification"])]
    verdicts = pd.DataFrame([{
        t("col.kind", lang): fig.label_or_code(f"kind.{r.kind}", lang),
        t("col.subject", lang): fig.label_or_code(f"indicator.{r.subject}", lang),
        t("col.status", lang): fig.label_or_code(f"status.{r.status}", lang),
        t("col.source", lang): str(r.source) if isinstance(r.source, str) else "–",
        t("col.reason", lang): r.reason or "–"} for r in mine.itertuples()])
    return html.Div([
        *headline,
        html.H3(t("trace.quantities", lang), className="h6"),
        _table(quantities, "trace-quantities", lang=lang),
        html.H3(t("trace.factors", lang), className="h6"),
        _table(factors, "trace-factors", lang=lang),
        html.H3(t("trace.verdicts", lang), className="h6"),
        _table(verdicts, "trace-verdicts", lang=lang),
    ], id="trace-content")


def _import_upload(settings: Any, contents: str, filename: str, kind: str, lang: str) -> Any:
    """Import an uploaded ledger atomically; every bad row is listed, nothing is imported."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        return dbc.Alert(t("stats.upload_suffix", lang, name=filename), color="danger")
    _header, _, encoded = contents.partition(",")
    with tempfile.TemporaryDirectory(prefix="jieneng-upload-") as folder:
        path = Path(folder) / Path(filename).name
        path.write_bytes(base64.b64decode(encoded))
        try:
            result = import_ledger(kind, path, settings)
        except LedgerImportError as exc:
            rows = pd.DataFrame([{
                t("col.row", lang): getattr(p, "row", "–"),
                t("col.column", lang): getattr(p, "column", "–") or "–",
                t("col.value", lang): str(getattr(p, "value", "–")),
                t("col.reason", lang): getattr(p, "reason", str(p)),
            } for p in exc.problems])
            return html.Div([dbc.Alert(t("stats.upload_failed", lang, name=filename,
                                         n=len(exc.problems)), color="danger"),
                             _table(rows, "upload-problems", lang=lang)])
        except (OSError, ValueError) as exc:
            return dbc.Alert(f"{filename}: {exc}".splitlines()[0], color="danger")
    return dbc.Alert(t("stats.upload_done", lang, name=filename, n=result.rows,
                       added=result.added, replaced=result.replaced), color="success",
                     id="upload-done")


