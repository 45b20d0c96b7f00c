"""The shared fixtures work against the real programs."""

from __future__ import annotations

import http.server
import threading

import pytest
import requests


@pytest.mark.influxdb
def test_influxd_answers_and_keeps_data_across_restart(influxd, influx_database):
    write = requests.post(
        f"{influxd.url}/write", params={"db": influx_database, "precision": "s"},
        data="probe,meter=m1 value=42 1700000000", timeout=10,
    )
    assert write.status_code == 204
    influxd.stop()
    assert not influxd.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{influxd.url}/ping", timeout=1)
    influxd.start()
    answer = influxd.query("SELECT value FROM probe", db=influx_database)
    assert answer["results"][0]["series"][0]["values"] == [["2023-11-14T22:13:20Z", 42]]


@pytest.mark.browser
def test_browser_renders_a_local_page(browser, tmp_path):
    (tmp_path / "index.html").write_text(
        "<html><head><meta charset='utf-8'><title>节能</title></head>"
        "<body><h1 id='t'>人均综合能耗</h1>"
        "<script>document.getElementById('t').textContent += ' 42';</script></body></html>",
        encoding="utf-8",
    )

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        assert browser.title == "节能"
        # the script ran: a person sees the text the page's JavaScript wrote
        assert browser.find_element("id", "t").text == "人均综合能耗 42"
    finally:
        server.shutdown()
        server.server_close()
