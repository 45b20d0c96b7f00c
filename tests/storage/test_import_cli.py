"""``jieneng import readings FILE --config FILE`` through the real CLI entry point."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jieneng.cli import main
from jieneng.settings import load_settings
from storage import open_store
from storage.errors import RollupsMissing
from tests.support.services import free_port

CONFIG = """\
[site]
name = "import test"
timezone = "Asia/Shanghai"
province = "shandong"
region_code = "370100"

[storage]
backend = "sqlite"

[storage.sqlite]
path = "store.sqlite"

[[gateways]]
id = "gw"
protocol = "tcp"
host = "127.0.0.1"

[[meters]]
id = "gov01-main"
gateway = "gw"
model = "chint_dtsu666"
institution = "gov01"
building = "gov01-main"
carrier = "electricity"

[[meters]]
id = "水表, 1号"
gateway = "gw"
device_id = 2
model = "tuf2000m"
institution = "gov01"
building = "gov01-main"
carrier = "water"
"""

GOOD = """\
time,meter,point,value
2024-01-01T00:00:00+08:00,gov01-main,energy_import_kwh,100.5
2024-01-01T00:15:00+08:00,gov01-main,energy_import_kwh,101.25
2024-01-01T00:15:00Z,"水表, 1号",volume_m3,7
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "jieneng.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _all_readings(config: Path):
    store = open_store(load_settings(config))
    try:
        return store.read_readings(datetime(2000, 1, 1, tzinfo=UTC),
                                   datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        store.close()


def test_import_good_file(config: Path, tmp_path: Path, capsys) -> None:
    csv = tmp_path / "history.csv"
    csv.write_text(GOOD, encoding="utf-8")
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "imported 3/3 readings (100%)" in err
    frame = _all_readings(config)
    assert len(frame) == 3
    water = frame[frame["meter"] == "水表, 1号"].iloc[0]
    assert water["value"] == 7.0
    assert water["time"].isoformat() == "2024-01-01T00:15:00+00:00"
    first = frame[frame["meter"] == "gov01-main"].iloc[0]
    assert first["time"].isoformat() == "2023-12-31T16:00:00+00:00"
    # importing the same file again changes nothing (idempotent)
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 0
    assert len(_all_readings(config)) == 3


def test_bad_rows_are_all_reported_and_nothing_is_written(config, tmp_path, capsys) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(
        GOOD
        + "2024-01-01T00:30:00,gov01-main,energy_import_kwh,102\n"  # line 5: no offset
        + "2024-01-01T00:45:00+08:00,gov01-mian,energy_import_kwh,103\n"  # line 6: typo
        + "2024-01-01T01:00:00+08:00,gov01-main,energy_imprt_kwh,104\n"  # line 7: bad point
        + "\n"
        + "yesterday,gov01-main,energy_import_kwh,abc\n",  # line 9: two problems
        encoding="utf-8",
    )
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "5 problem(s); nothing was imported" in err
    assert f"{csv}:5: column 'time' = '2024-01-01T00:30:00': no UTC offset" in err
    assert f"{csv}:6: column 'meter' = 'gov01-mian': not a meter of the settings file " \
           "(did you mean 'gov01-main'?)" in err
    assert f"{csv}:7: column 'point' = 'energy_imprt_kwh'" in err
    assert f"{csv}:9: column 'time' = 'yesterday'" in err
    assert f"{csv}:9: column 'value' = 'abc'" in err
    assert _all_readings(config).empty


def test_bad_header_and_missing_file(config, tmp_path, capsys) -> None:
    csv = tmp_path / "header.csv"
    csv.write_text("timestamp,meter,point,value\n2024-01-01T00:00:00Z,gov01-main,x,1\n")
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "column 'time'" in err
    assert "missing column" in err
    assert "column 'timestamp' = 'timestamp': unknown column" in err
    assert main(["import", "readings", str(tmp_path / "nope.csv"), "--config", str(config)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_quality_column_and_empty_value(config, tmp_path) -> None:
    csv = tmp_path / "q.csv"
    csv.write_text("time,meter,point,value,quality\n"
                   "2024-01-01T00:00:00Z,gov01-main,power_w,,invalid\n"
                   "2024-01-01T00:01:00Z,gov01-main,power_w,5,estimated\n")
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 0
    frame = _all_readings(config)
    assert list(frame["quality"]) == ["invalid", "estimated"]
    assert frame["value"].isna().tolist() == [True, False]


def test_a_broken_register_map_is_an_error_not_a_silent_fallback(config, tmp_path, capsys) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    # a user's copy of a built-in map with a syntax error replaces the built-in one
    (maps / "tuf2000m.toml").write_text("[meter\nmodel = 'tuf2000m'\n", encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[[gateways]]", '[collector]\nregister_map_dirs = ["maps"]\n\n'
                                   "[[gateways]]"), encoding="utf-8")
    csv = tmp_path / "history.csv"
    csv.write_text(GOOD, encoding="utf-8")
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "nothing was imported" in lines[0]
    assert "meter '水表, 1号'" in lines[0]
    assert str(maps / "tuf2000m.toml") in lines[0]
    assert "not valid TOML" in lines[0]
    assert _all_readings(config).empty


def test_a_register_map_with_overlapping_points_names_them(config, tmp_path, capsys) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "tuf2000m.toml").write_text(
        '[meter]\nmodel = "tuf2000m"\nmanufacturer = "x"\ndescription = "x"\nsource = "x"\n'
        'confidence = "low"\naddress_base_note = "x"\n\n'
        '[[points]]\nname = "volume_m3"\nfunction = "holding"\naddress = 0\n'
        'data_type = "float32"\nunit = "m3"\nkind = "counter"\n\n'
        '[[points]]\nname = "flow_m3h"\nfunction = "holding"\naddress = 1\n'
        'data_type = "float32"\nunit = "m3/h"\n',
        encoding="utf-8",
    )
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[[gateways]]", '[collector]\nregister_map_dirs = ["maps"]\n\n'
                                   "[[gateways]]"), encoding="utf-8")
    csv = tmp_path / "history.csv"
    csv.write_text(GOOD, encoding="utf-8")
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "overlaps flow_m3h at 0x0001" in err


def test_an_unreachable_store_exits_unavailable(config, tmp_path, capsys) -> None:
    text = config.read_text(encoding="utf-8").replace(
        'backend = "sqlite"',
        f'backend = "influxdb"\n[storage.influxdb]\nurl = "http://127.0.0.1:{free_port()}"\n'
        "timeout_s = 0.5\ncreate_database = true",
    )
    config.write_text(text, encoding="utf-8")
    csv = tmp_path / "history.csv"
    csv.write_text(GOOD, encoding="utf-8")
    assert main(["import", "readings", str(csv), "--config", str(config)]) == 4
    assert "127.0.0.1" in capsys.readouterr().err


def _import(config: Path, tmp_path: Path, text: str) -> int:
    csv = tmp_path / "rigour.csv"
    csv.write_text(text, encoding="utf-8")
    return main(["import", "readings", str(csv), "--config", str(config)])


def test_qualities_times_counters_and_empty_files_are_checked(config, tmp_path, capsys) -> None:
    rc = _import(config, tmp_path, "time,meter,point,value,quality\n"
                 "2024-01-01T00:00:00Z,gov01-main,energy_import_kwh,1,bogus\n"  # line 2
                 "1999-12-31T23:59:59Z,gov01-main,energy_import_kwh,1,good\n"  # line 3
                 "2999-01-01T00:00:00Z,gov01-main,energy_import_kwh,1,good\n"  # line 4
                 "2024-01-01T00:00:00Z,gov01-main,energy_import_kwh,-5,good\n"  # line 5
                 "2024-01-01T00:00:00Z,gov01-main,power_w,-5,good\n"  # a gauge: fine
                 "2024-01-01T00:00:00Z,gov01-main,energy_import_kwh,,unavailable\n")  # fine
    assert rc == 2
    err = capsys.readouterr().err
    assert "4 problem(s); nothing was imported" in err
    assert ":2: column 'quality' = 'bogus': not a quality; expected one of estimated, good, " \
           "invalid, unavailable" in err
    assert ":3: column 'time' = '1999-12-31T23:59:59Z': before 2000-01-01T00:00:00+00:00 " \
           "(storage.importer.EARLIEST_TIME)" in err
    assert ":4: column 'time' = '2999-01-01T00:00:00Z': more than 1 day after now " \
           "(storage.importer.MAX_AHEAD)" in err
    assert ":5: column 'value' = '-5': negative, but 'energy_import_kwh' is a counter" in err
    assert _all_readings(config).empty
    assert _import(config, tmp_path, "time,meter,point,value\n") == 2
    assert "the file has a header but no readings" in capsys.readouterr().err


def test_store_rebuild_rollups_command(config, tmp_path, capsys) -> None:
    assert _import(config, tmp_path, GOOD) == 0
    capsys.readouterr()
    path = tmp_path / "store.sqlite"
    with sqlite3.connect(path) as conn:  # as if written before rollups existed
        conn.execute("DELETE FROM meta WHERE key = 'rollup_version'")
        conn.execute("DELETE FROM rollup_daily")
    store = open_store(load_settings(config))
    with pytest.raises(RollupsMissing, match="jieneng store rebuild-rollups --config"):
        store.daily_counters(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    store.close()
    assert main(["store", "rebuild-rollups", "--config", str(config), "--from",
                 "2023-12-01"]) == 0
    assert "rebuilt the rollups of the sqlite store from 2023-12-01: 2 meter-day(s)" in \
        capsys.readouterr().out
    store = open_store(load_settings(config))
    daily = store.daily_counters(datetime(2000, 1, 1, tzinfo=UTC),
                                 datetime(2100, 1, 1, tzinfo=UTC))
    assert sorted(daily["n_readings"]) == [1, 2]
    store.close()
    with pytest.raises(SystemExit) as info:
        main(["store", "rebuild-rollups", "--config", str(config), "--from", "yesterday"])
    assert info.value.code == 2


def test_store_rebuild_rollups_unreachable_store(config, capsys) -> None:
    text = config.read_text(encoding="utf-8").replace(
        'backend = "sqlite"',
        f'backend = "influxdb"\n[storage.influxdb]\nurl = "http://127.0.0.1:{free_port()}"\n'
        "timeout_s = 0.5",
    )
    config.write_text(text, encoding="utf-8")
    assert main(["store", "rebuild-rollups", "--config", str(config)]) == 4
    assert "127.0.0.1" in capsys.readouterr().err
