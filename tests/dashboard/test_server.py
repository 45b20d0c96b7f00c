"""The server side: nothing before sign-in, roles in every callback and download, rate limiting,
passwords, downsampling, the shared account cache (no browser)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
import requests
from pydantic import ValidationError

from dashboard import app as app_module
from dashboard import figures
from dashboard.auth import RateLimiter, User, hash_password, load_users, verify_password
from dashboard.data import DataService, current_compounds
from dashboard.i18n import t
from dashboard.settings import DashboardSettings
from tests.dashboard.conftest import (
    COMPOUND_METER,
    PASSWORDS,
    serve,
    session_for,
    with_compound_meter,
)

YEAR = datetime.now(UTC).year


def post_callback(session: requests.Session, url: str, output: str, outputs: list[dict],
                  inputs: list[dict], state: list[dict] | None = None,
                  changed: int = 0) -> requests.Response:
    """A hand-made POST to /_dash-update-component, as a browser's Dash renderer sends it
    when ``inputs[changed]`` changed."""
    body = {"output": output, "outputs": outputs, "inputs": inputs, "state": state or [],
            "changedPropIds": [f"{inputs[changed]['id']}.{inputs[changed]['property']}"]}
    return session.post(f"{url}/_dash-update-component", json=body, timeout=120)


def carbon_request(session, url: str, institution: str) -> requests.Response:
    outs = [{"id": "carbon-tce", "property": "figure"}, {"id": "carbon-co2", "property": "figure"},
            {"id": "carbon-fyp14", "property": "figure"},
            {"id": "carbon-totals", "property": "children"}]
    return post_callback(
        session, url, "..carbon-tce.figure...carbon-co2.figure...carbon-fyp14.figure..."
        "carbon-totals.children..", outs,
        [{"id": "carbon-year", "property": "value", "value": YEAR},
         {"id": "carbon-inst", "property": "value", "value": institution},
         {"id": "carbon-by", "property": "value", "value": "carrier"},
         {"id": "carbon-subject", "property": "value", "value": "kgce_per_m2"}],
        [{"id": "lang", "property": "data", "value": "en"}])


def test_nothing_but_the_sign_in_page_before_sign_in(served):
    anonymous = requests.Session()
    assert anonymous.get(f"{served.url}/_dash-layout", timeout=10).status_code == 401
    assert anonymous.get(f"{served.url}/_dash-dependencies", timeout=10).status_code == 401
    answer = carbon_request(anonymous, served.url, "gov01")
    assert answer.status_code == 401
    assert "gov01" not in answer.text
    assert anonymous.get(f"{served.url}/download/report/{YEAR}.xlsx",
                         timeout=10).status_code == 401
    page = anonymous.get(f"{served.url}/statistics", allow_redirects=False, timeout=10)
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/login")
    login = anonymous.get(f"{served.url}/login", timeout=10)
    assert login.status_code == 200
    assert 'id="username"' in login.text
    assert "_dash-config" not in login.text  # no Dash app, no layout, before sign-in


def test_session_cookie_is_httponly_and_samesite(served):
    answer = requests.post(f"{served.url}/login", allow_redirects=False, timeout=10,
                           data={"username": "officer", "password": PASSWORDS["officer"]})
    assert answer.status_code == 302
    cookie = next(c for c in answer.headers.get_all("Set-Cookie")
                  if c.startswith("jieneng_session=")) if hasattr(answer.headers, "get_all") \
        else answer.raw.headers.getlist("Set-Cookie")
    text = cookie if isinstance(cookie, str) else next(c for c in cookie
                                                       if c.startswith("jieneng_session="))
    assert "HttpOnly" in text
    assert "SameSite=Lax" in text


def test_a_manager_gets_nothing_of_another_institution_by_a_hand_made_post(served):
    manager = session_for(served, "manager")  # manages gov01 only
    own = carbon_request(manager, served.url, "gov01")
    assert own.status_code == 200
    assert '"type":"bar"' in own.text.replace(" ", "") or '"bar"' in own.text
    other = carbon_request(manager, served.url, "hos01")
    assert other.status_code == 200
    data = other.json()["response"]
    for graph in ("carbon-tce", "carbon-co2", "carbon-fyp14"):
        assert data[graph]["figure"]["data"] == []
    assert "may not see" in json.dumps(data)
    # and the officer does get hos01's figures through the same request
    officer = session_for(served, "officer")
    data = carbon_request(officer, served.url, "hos01").json()["response"]
    assert data["carbon-tce"]["figure"]["data"]


def league_request(session, url: str, page: int | None = None,
                   paging: bool = False) -> requests.Response:
    """The league's callback; ``paging``: as when the reader clicks page ``page``."""
    outs = [{"id": "bench-league", "property": "children"},
            {"id": "bench-league-page", "property": "max_value"},
            {"id": "bench-league-page", "property": "active_page"}]
    inputs = [{"id": "bench-year", "property": "value", "value": YEAR},
              {"id": "bench-indicator", "property": "value", "value": "kgce_per_m2"},
              {"id": "bench-league-page", "property": "active_page", "value": page}]
    return post_callback(session, url, "..bench-league.children...bench-league-page.max_value..."
                         "bench-league-page.active_page..", outs, inputs,
                         [{"id": "lang", "property": "data", "value": "en"}],
                         changed=2 if paging else 0)


def test_a_managers_league_table_names_no_other_institution(served):
    manager = session_for(served, "manager")
    outs = [{"id": i, "property": p} for i, p in (("bench-peers", "children"),
                                                   ("bench-scatter", "figure"),
                                                   ("bench-cert", "children"))]
    answer = post_callback(
        manager, served.url, "..bench-peers.children...bench-scatter.figure...bench-cert."
        "children..", outs,
        [{"id": "bench-year", "property": "value", "value": YEAR},
         {"id": "bench-indicator", "property": "value", "value": "kgce_per_m2"}],
        [{"id": "lang", "property": "data", "value": "en"}])
    assert answer.status_code == 200
    league = league_request(manager, served.url)
    assert league.status_code == 200, league.text[:300]
    text = json.dumps([answer.json(), league.json()], ensure_ascii=False)
    assert "市政府办公楼" in text  # gov01, the manager's own
    for other in ("市人民医院", "市发改委", "hos01", "gov02", "edu01"):
        assert other not in text, other
    assert "(another institution)" in text  # others appear only as a rank


def test_the_league_is_paged_on_the_server(served, monkeypatch):
    figures = served.app.jieneng_data.year_data(YEAR).account.figures
    n = len(figures)
    assert n > 4
    monkeypatch.setattr(app_module, "PAGE_ROWS", 3)  # read at each request
    officer = session_for(served, "officer")
    first = league_request(officer, served.url).json()["response"]
    pages = -(-n // 3)
    assert first["bench-league-page"]["max_value"] == pages
    assert first["bench-league-page"]["active_page"] == 1
    text = json.dumps(first["bench-league"], ensure_ascii=False)
    assert text.count('"trace-btn"') == 3  # one page of rows is shipped, not the table
    assert f"Rows 1–3 of {n}" in text
    last = league_request(officer, served.url, pages, paging=True).json()["response"]
    assert last["bench-league-page"]["active_page"] == pages
    text = json.dumps(last["bench-league"], ensure_ascii=False)
    assert text.count('"trace-btn"') == n - 3 * (pages - 1)
    beyond = league_request(officer, served.url, pages + 5, paging=True).json()["response"]
    assert beyond["bench-league-page"]["active_page"] == pages  # clamped
    # a manager's league holds only their peer groups, and opens at the page of their row
    manager = session_for(served, "manager")
    answer = league_request(manager, served.url).json()["response"]
    text = json.dumps(answer, ensure_ascii=False)
    assert "市政府办公楼" in text
    for other in ("市人民医院", "hos01", "gov02"):
        assert other not in text, other


def test_roles_on_pages_and_downloads(served):
    manager = session_for(served, "manager")
    assert manager.get(f"{served.url}/download/report/{YEAR}.xlsx",
                       timeout=60).status_code == 403
    outs = [{"id": "system-store", "property": "children"},
            {"id": "system-gateways", "property": "children"},
            {"id": "system-meters", "property": "children"}]
    answer = post_callback(manager, served.url, "..system-store.children...system-gateways."
                           "children...system-meters.children..", outs,
                           [{"id": "system-tick", "property": "n_intervals", "value": 1}],
                           [{"id": "lang", "property": "data", "value": "en"}])
    assert "may not see" in answer.text
    assert "gw-school" not in answer.text


def test_the_workbook_downloads_and_opens_with_openpyxl(served):
    officer = session_for(served, "officer")
    answer = officer.get(f"{served.url}/download/report/{YEAR}.xlsx", timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    assert "能源资源消费状况" in book.sheetnames
    assert "基本信息" in book.sheetnames


def test_the_account_is_computed_once_and_shared(served):
    data = served.app.jieneng_data
    first = data.year_data(YEAR)
    second = data.year_data(YEAR)
    assert first is second
    # every session and callback above used this one object
    assert data.cached_year(YEAR) is first


def test_sign_in_is_rate_limited(city):
    gen = serve(city, limiter=RateLimiter(max_failures=3, window_s=60))
    served = next(gen)
    try:
        for _ in range(3):
            answer = requests.post(f"{served.url}/login", timeout=10, allow_redirects=False,
                                   data={"username": "leader", "password": "wrong"})
            assert answer.status_code == 401
        answer = requests.post(f"{served.url}/login", timeout=10, allow_redirects=False,
                               data={"username": "leader", "password": PASSWORDS["leader"]})
        assert answer.status_code == 429  # even the right password waits now
        assert "Too many" in answer.text or "过多" in answer.text
    finally:
        gen.close()


def test_passwords_are_argon2_hashes():
    hashed = hash_password("s3cret")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "s3cret")
    assert not verify_password(hashed, "S3cret")
    settings = DashboardSettings.model_validate({"users": [
        {"name": "a", "role": "admin", "password_env": "PW_A"},
        {"name": "m", "role": "manager", "institutions": ["gov01"], "password_env": "PW_M"}]})
    users = load_users(settings, {"PW_A": "plain", "PW_M": hashed})
    assert users["a"].password_hash.startswith("$argon2id$")
    assert verify_password(users["a"].password_hash, "plain")
    assert users["m"].password_hash == hashed  # a hash is used as it is
    assert users["m"].institutions == frozenset({"gov01"})
    assert users["a"].institutions is None


def test_hash_password_command_prints_a_hash():
    run = subprocess.run([sys.executable, "-m", "jieneng.cli", "dashboard", "hash-password"],
                         input="horse battery\n", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert verify_password(run.stdout.strip(), "horse battery")


def test_a_manager_needs_institutions():
    with pytest.raises(ValidationError, match="manager"):
        DashboardSettings.model_validate(
            {"users": [{"name": "m", "role": "manager", "password_env": "X"}]})
    with pytest.raises(ValidationError, match="unique"):
        DashboardSettings.model_validate({"users": [
            {"name": "a", "role": "admin", "password_env": "X"},
            {"name": "a", "role": "leader", "password_env": "Y"}]})


def test_minmax_downsampling_keeps_at_most_twice_the_width():
    x = np.arange(100_000)
    y = np.sin(x / 500.0)
    y[12_345] = 9.0  # a spike must survive
    y[67_890] = -9.0
    dx, dy = figures.minmax_downsample(x, y, 400)
    assert len(dx) <= 800
    assert dy.max() == 9.0
    assert dy.min() == -9.0
    assert np.all(np.diff(dx) > 0)  # order kept
    short_x, _ = figures.minmax_downsample(x[:500], y[:500], 400)
    assert len(short_x) == 500  # short series are sent as they are


def test_the_meter_trend_ships_at_most_twice_its_width(served):
    admin = session_for(served, "admin")
    answer = post_callback(admin, served.url, "live-trend.figure",
                           {"id": "live-trend", "property": "figure"},
                           [{"id": "live-meter", "property": "value", "value": "gov01-main"},
                            {"id": "width", "property": "data", "value": 60}],
                           [{"id": "lang", "property": "data", "value": "en"}])
    assert answer.status_code == 200, answer.text[:300]
    trace = answer.json()["response"]["live-trend"]["figure"]["data"][0]
    x = trace["x"]
    n = len(x["bdata"]) if isinstance(x, dict) else len(x)
    assert 0 < n <= 120 or (isinstance(x, dict) and "shape" in x and int(x["shape"]) <= 120)
    _ = timedelta


def bench_county_request(session, url: str) -> requests.Response:
    return post_callback(session, url, "bench-county.children",
                         {"id": "bench-county", "property": "children"},
                         [{"id": "bench-year", "property": "value", "value": YEAR}],
                         [{"id": "lang", "property": "data", "value": "en"}])


def test_the_county_league_for_an_officer_and_a_manager(served):
    evaluation = served.app.jieneng_data.evaluation(YEAR)
    counties = evaluation.scores[~evaluation.scores["is_city"]]
    assert len(counties) >= 2
    assert evaluation.scores["is_city"].sum() == 1
    assert served.app.jieneng_data.evaluation(YEAR) is evaluation  # computed once, shared
    for name in ("officer", "manager"):  # county aggregates: a manager sees the league too
        answer = bench_county_request(session_for(served, name), served.url)
        assert answer.status_code == 200, answer.text[:300]
        text = json.dumps(answer.json(), ensure_ascii=False)
        assert "bench-county-table" in text
        for r in counties.itertuples():
            assert str(r.region_code) in text
            assert str(r.name) in text
        assert "reporting completeness" in text  # each county's indicator points
        first = evaluation.points["reason"].iloc[0]
        assert json.dumps(first, ensure_ascii=False)[1:-1] in text
        for other in ("市人民医院", "市发改委"):  # no institution's name in the league
            assert other not in text, other


def compounds_request(session, url: str) -> requests.Response:
    return post_callback(session, url, "stats-compounds.children",
                         {"id": "stats-compounds", "property": "children"},
                         [{"id": "stats-year", "property": "value", "value": YEAR}],
                         [{"id": "lang", "property": "data", "value": "en"}])


def test_compounds_a_manager_sees_only_their_own_members_share(served):
    data = served.app.jieneng_data
    every = User("o", "officer", None, "")
    all_rows = data.compounds(YEAR, every)
    assert len(all_rows)
    compound = all_rows.iloc[0]
    members = sorted(compound["member_shares"])
    assert len(members) >= 2
    mine, others = members[0], members[1:]
    manager = User("m", "manager", frozenset({mine}), "")
    rows = data.compounds(YEAR, manager)
    assert list(rows["compound_id"]) == [compound["compound_id"]]
    row = rows.iloc[0]
    assert set(row["member_shares"]) == {mine}
    assert not set(others) & set(row["member_shares"])
    assert row["members"] == [mine]
    assert row["energy_tce"] == compound["energy_tce"]  # the compound total is shown
    assert row["member_shares"][mine] == compound["member_shares"][mine]
    # a manager of no member sees no compound
    assert data.compounds(YEAR, User("m", "manager", frozenset({"gov01"}), "")).empty
    # through the server: the officer gets every member's share, the demo manager (gov01,
    # no compound member) none
    names = data.institutions().set_index("institution_id")["name"]
    text = json.dumps(compounds_request(session_for(served, "officer"), served.url).json(),
                      ensure_ascii=False)
    assert str(compound["name"]) in text
    for inst in members:
        assert str(names.get(inst, inst)) in text
    text = json.dumps(compounds_request(session_for(served, "manager"), served.url).json(),
                      ensure_ascii=False)
    assert str(compound["name"]) not in text
    for inst in members:
        assert str(names.get(inst, inst)) not in text


LIVE_OUTPUTS = [("live-latest", "children"), ("live-offline", "children"),
                ("live-hourly", "figure"), ("live-subitem", "figure"),
                ("live-baseload", "children"), ("live-meter", "options"), ("live-meter", "value")]


def live_request(session, url: str, unit: str) -> requests.Response:
    output = "..." .join(f"{i}.{p}" for i, p in LIVE_OUTPUTS)
    return post_callback(
        session, url, f"..{output}..", [{"id": i, "property": p} for i, p in LIVE_OUTPUTS],
        [{"id": "live-inst", "property": "value", "value": unit},
         {"id": "live-tick", "property": "n_intervals", "value": None}],
        [{"id": "lang", "property": "data", "value": "en"},
         {"id": "live-meter", "property": "value", "value": None}])


def trend_request(session, url: str, meter: str) -> requests.Response:
    return post_callback(session, url, "live-trend.figure",
                         {"id": "live-trend", "property": "figure"},
                         [{"id": "live-meter", "property": "value", "value": meter},
                          {"id": "width", "property": "data", "value": 800}],
                         [{"id": "lang", "property": "data", "value": "en"}])


def page_request(session, url: str, path: str) -> requests.Response:
    outs = [{"id": "navbar", "property": "children"}, {"id": "page", "property": "children"}]
    return post_callback(session, url, "..navbar.children...page.children..", outs,
                         [{"id": "url", "property": "pathname", "value": path},
                          {"id": "lang", "property": "data", "value": "en"}])


@pytest.fixture(scope="module")
def compound_served(city):
    """The demo city with cmp01's own meter configured, and two managers: m7 of gov07 (a
    member of cmp01) and the demo manager of gov01 (no member)."""
    users = {"m7": User("m7", "manager", frozenset({"gov07"}), hash_password("pw-m7")),
             "manager": User("manager", "manager", frozenset({"gov01"}),
                             hash_password(PASSWORDS["manager"]))}
    yield from serve(with_compound_meter(city), users=users)


def test_a_member_manager_sees_the_compounds_meters_and_no_one_else_does(compound_served):
    served = compound_served
    member = session_for(served, "m7", "pw-m7")
    page = json.dumps(page_request(member, served.url, "/live").json(), ensure_ascii=False)
    assert "cmp01, shared compound" in page  # offered, labelled as the compound's
    assert "gov08" not in page  # the other members are not
    assert "gov09" not in page
    answer = live_request(member, served.url, "cmp01")
    assert answer.status_code == 200, answer.text[:300]
    data = answer.json()["response"]
    text = json.dumps(data, ensure_ascii=False)
    assert COMPOUND_METER in text
    assert "live-compound-note" in text  # labelled as the compound's shared meters
    assert data["live-meter"]["value"] == COMPOUND_METER
    assert [o["value"] for o in data["live-meter"]["options"]] == [COMPOUND_METER]
    trend = trend_request(member, served.url, COMPOUND_METER).json()["response"]
    assert trend["live-trend"]["figure"]["data"]
    # their own institution shows its own meters, not the compound's
    own = json.dumps(live_request(member, served.url, "gov07").json(), ensure_ascii=False)
    assert COMPOUND_METER not in own
    # another member's meters stay closed: membership opens the compound's meters only
    other_member = json.dumps(live_request(member, served.url, "gov08").json())
    assert "may not see" in other_member
    assert "gov08-" not in other_member

    # a manager of no member gets nothing of cmp01, whatever the browser sends
    outsider = session_for(served, "manager")
    page = json.dumps(page_request(outsider, served.url, "/live").json(), ensure_ascii=False)
    assert "cmp01" not in page
    answer = live_request(outsider, served.url, "cmp01")
    assert answer.status_code == 200
    text = json.dumps(answer.json(), ensure_ascii=False)
    assert "may not see" in text
    assert COMPOUND_METER not in text
    trend = trend_request(outsider, served.url, COMPOUND_METER).json()["response"]
    assert trend["live-trend"]["figure"]["data"] == []
    assert "may not see" in json.dumps(trend)


def test_compound_membership_counts_on_the_day():
    members = pd.DataFrame({"compound_id": ["cmp01", "cmp02", "cmp03"],
                            "institution_id": ["a", "a", "b"],
                            "from": [None, "2026-01-01", None],
                            "until": [None, "2026-03-31", None]})
    assert current_compounds(members, {"a"}, date(2026, 2, 1)) == {"cmp01", "cmp02"}
    assert current_compounds(members, {"a"}, date(2026, 4, 1)) == {"cmp01"}  # moved out
    assert current_compounds(members, {"a"}, date(2025, 12, 31)) == {"cmp01"}  # not yet in
    assert current_compounds(members, {"c"}, date(2026, 2, 1)) == set()


def review_request(session, url: str) -> requests.Response:
    outs = [{"id": "stats-review", "property": "children"},
            {"id": "stats-review-page", "property": "max_value"},
            {"id": "stats-review-page", "property": "active_page"}]
    return post_callback(session, url, "..stats-review.children...stats-review-page.max_value..."
                         "stats-review-page.active_page..", outs,
                         [{"id": "stats-year", "property": "value", "value": YEAR},
                          {"id": "stats-inst", "property": "value", "value": "*"},
                          {"id": "stats-review-page", "property": "active_page", "value": None}],
                         [{"id": "lang", "property": "data", "value": "en"}])


def test_derived_tables_are_shared_and_narrowed_to_each_user(served):
    data = served.app.jieneng_data
    officer = review_request(session_for(served, "officer"), served.url)
    assert officer.status_code == 200, officer.text[:300]
    yd = data.year_data(YEAR)
    every = yd.derived(("review", "en"), lambda: None)  # computed by the request above
    assert every is not None
    assert set(every["institution_id"]) - {"gov01"}  # the city has others' rows to hide
    manager = review_request(session_for(served, "manager"), served.url)
    assert yd.derived(("review", "en"), lambda: None) is every  # shared, not recomputed
    text = json.dumps(manager.json(), ensure_ascii=False)
    names = data.names()
    for inst in set(every["institution_id"]) - {"gov01"}:
        assert f'"inst": "{inst}"' not in text
        assert names[inst] not in text, inst


def test_meter_states_offline_stale_and_ok():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    meters = pd.DataFrame({"meter": ["a", "b", "c", "d"], "gateway": "gw"})
    latest = pd.DataFrame({"meter": ["a", "b", "c"], "time": [
        pd.Timestamp(now - timedelta(minutes=1)), pd.Timestamp(now - timedelta(hours=2)),
        pd.Timestamp(now - timedelta(minutes=2))]})
    health = pd.DataFrame({"meter": ["c"], "available": [False], "error": ["timeout"],
                           "last_success": [pd.Timestamp(now - timedelta(hours=3))]})
    states = app_module._meter_states(meters, health, latest, now)
    assert list(states["state"]) == ["ok", "stale", "offline", "stale"]  # d: never read
    assert states.loc[2, "error"] == "timeout"
    assert states.loc[2, "since"] == pd.Timestamp(now - timedelta(hours=3))
    assert np.isnan(states.loc[3, "age_s"])
    rows = app_module._meter_rows(states, UTC, "en")
    assert list(rows[t("col.error", "en")]) == ["–", "–", "timeout", "–"]


def test_a_moving_store_serves_the_last_account_while_the_next_is_computed(served, monkeypatch):
    """Collectors move the store's state every refresh_s: the pages answer with the account of
    the previous state while the new one is computed once in the background; a ledger import
    (a new ledger state) makes the caller wait for the new account instead."""
    data = DataService(served.app.jieneng_data.settings)
    state = {"store": 1}
    monkeypatch.setattr(data, "store_state", lambda: state["store"])
    first = data.year_data(YEAR)  # nothing older to show: computed while the caller waits
    assert first.key[3] == 1
    real = data._compute_year
    started, release, computed = threading.Event(), threading.Event(), []

    def slow(year: int, key: tuple) -> Any:
        computed.append(key)
        started.set()
        assert release.wait(60)
        return real(year, key)

    monkeypatch.setattr(data, "_compute_year", slow)
    state["store"] = 2  # the collector wrote
    assert data.year_data(YEAR) is first  # answered at once, with the last account
    assert started.wait(10)  # ... while the new one is computed in the background
    assert data.year_data(YEAR) is first
    release.set()
    deadline = time.monotonic() + 120
    while data.cached_year(YEAR) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    newer = data.cached_year(YEAR)
    assert newer is not None
    assert newer.key[3] == 2
    assert data.year_data(YEAR) is newer
    assert len(computed) == 1  # one background computation for the new state
    monkeypatch.setattr(data, "ledger_state", lambda: (1, 1))  # a ledger import
    third = data.year_data(YEAR)
    assert third.key[2] == (1, 1)
    assert third is not newer
