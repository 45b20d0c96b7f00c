"""Settings validation: every problem is found, located and explained."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jieneng.cli import EXIT_BAD_CONFIG, EXIT_NOT_BUILT, HANDLERS, build_parser, main
from jieneng.settings import ConfigError, load_settings, validate_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "jieneng.example.toml"
DEMO = ROOT / "config" / "demo.toml"

MINIMAL = """
[site]
name = "测试局"
province = "shandong"
region_code = "370100"

[[gateways]]
id = "gw"
protocol = "tcp"
host = "127.0.0.1"
port = 1502

[[meters]]
id = "m1"
gateway = "gw"
model = "chint_dtsu666"
institution = "gov01"
building = "gov01-main"
carrier = "electricity"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jieneng.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", [EXAMPLE, DEMO], ids=["example", "demo"])
def test_shipped_configs_are_valid(path):
    settings, problems = validate_file(path)
    assert problems == []
    assert settings is not None
    assert settings.site.timezone == "Asia/Shanghai"


def test_defaults_and_relative_paths(tmp_path):
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.storage.backend == "sqlite"
    assert settings.site.timezone == "Asia/Shanghai"
    assert settings.meters[0].poll_interval_s == 60.0
    assert settings.meters[0].ct_ratio == 1.0
    assert settings.resolve(settings.storage.sqlite.path) == tmp_path / "var" / "jieneng.sqlite"
    assert settings.gateway("gw").port == 1502
    assert settings.meter("m1").carrier == "electricity"


def test_three_problems_are_all_listed_with_key_paths(tmp_path):
    text = (
        MINIMAL.replace("province =", "provnce =")
        .replace('gateway = "gw"', 'gateway = "gw-missing"')
        + "poll_interval_s = -5\n"
    )
    _, problems = validate_file(write(tmp_path, text))
    by_path = {p.key_path: p for p in problems}
    assert set(by_path) >= {"site.provnce", "meters[0].gateway", "meters[0].poll_interval_s"}
    assert "did you mean 'province'" in by_path["site.provnce"].expected
    assert by_path["meters[0].gateway"].value == "gw-missing"
    assert "gw" in by_path["meters[0].gateway"].expected
    assert by_path["meters[0].poll_interval_s"].value == -5
    assert "greater than 0" in by_path["meters[0].poll_interval_s"].expected
    # the misspelt key also makes the real key missing: that is reported, not defaulted
    assert "site.province" in by_path


def test_unknown_key_in_a_gateway_and_wrong_protocol_fields(tmp_path):
    text = MINIMAL.replace('port = 1502', 'port = 1502\nbaudrate = 9600\ntimout_s = 2')
    _, problems = validate_file(write(tmp_path, text))
    paths = {p.key_path: p.expected for p in problems}
    assert "gateways[0].baudrate" in paths
    assert "did you mean 'timeout_s'" in paths["gateways[0].timout_s"]


def test_unknown_protocol_and_bad_enums(tmp_path):
    text = (
        MINIMAL.replace('protocol = "tcp"', 'protocol = "udp"')
        .replace('carrier = "electricity"', 'carrier = "electricty"\nsubitem = "01X00"')
        .replace('region_code = "370100"', 'region_code = "37"\ntimezone = "Asia/Beijing"')
    )
    _, problems = validate_file(write(tmp_path, text))
    paths = {p.key_path for p in problems}
    assert {"gateways[0].protocol", "meters[0].carrier", "meters[0].subitem",
            "site.region_code", "site.timezone"} <= paths


def test_cross_references_duplicate_ids_and_missing_model(tmp_path):
    text = MINIMAL + MINIMAL.split("[[meters]]")[1].join(["[[meters]]", ""]).replace(
        'model = "chint_dtsu666"', 'model = "chint_dtsu66"'
    )
    _, problems = validate_file(write(tmp_path, text))
    by_path = {p.key_path: p for p in problems}
    assert "already uses it" in by_path["meters[1].id"].expected
    assert "did you mean 'chint_dtsu666'" in by_path["meters[1].model"].expected
    assert "device_id" in by_path["meters[1].device_id"].key_path


def test_a_secret_in_an_env_key_is_rejected(tmp_path):
    text = MINIMAL + '\n[storage.influxdb]\nurl = "http://127.0.0.1:8086"\npassword_env = "s3cr3t!"\n'
    _, problems = validate_file(write(tmp_path, text))
    assert [p.key_path for p in problems] == ["storage.influxdb.password_env"]


def test_syntax_error_and_missing_file(tmp_path):
    _, problems = validate_file(write(tmp_path, "[site\nname="))
    assert problems[0].key_path == "(syntax)"
    assert "line 1" in problems[0].expected
    _, problems = validate_file(tmp_path / "nope.toml")
    assert problems[0].key_path == "(file)"
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings(tmp_path / "nope.toml")


def test_check_config_command_exit_codes(tmp_path, capsys):
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, MINIMAL.replace("province =", "provnce ="))
    assert main(["check-config", str(bad)]) == EXIT_BAD_CONFIG
    err = capsys.readouterr().err
    assert f"{bad}: site.provnce = 'shandong': unknown key; did you mean 'province'?" in err


def test_console_script_help_lists_every_subcommand():
    exe = shutil.which("jieneng", path=str(Path(sys.executable).parent))
    assert exe is not None, "the jieneng console script is not installed in this environment"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("demo", "simulate", "collect", "import", "account", "report", "forecast",
                 "dashboard", "check-config"):
        assert f"    {name}" in out
        sub = subprocess.run([exe, name, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0, sub.stderr


def test_unbuilt_subcommand_says_so(monkeypatch, capsys):
    monkeypatch.setitem(HANDLERS, "forecast", "forecasting.not_a_module:forecast_main")
    assert main(["forecast", "--config", str(EXAMPLE)]) == EXIT_NOT_BUILT
    assert "not built yet" in capsys.readouterr().err


def test_parser_knows_the_ledger_kinds():
    args = build_parser().parse_args(["import", "bills", "x.csv", "--config", "c.toml"])
    assert (args.kind, args.file.name) == ("bills", "x.csv")


def test_quota_tables_and_factor_set_must_exist(tmp_path):
    text = MINIMAL + '\n[accounting]\nfactor_set = "defualt"\nquota_tables = ["shandong_db37_t_2672_2090"]\n'
    _, problems = validate_file(write(tmp_path, text))
    by_path = {p.key_path: p.expected for p in problems}
    assert "available: default" in by_path["accounting.factor_set"]
    assert "did you mean 'shandong_db37_t_2672_2019'" in by_path["accounting.quota_tables[0]"]
    own = tmp_path / "my_reference" / "quotas"
    own.mkdir(parents=True)
    (own / "hebei_db13_office.csv").write_text("table\n", encoding="utf-8")
    text = MINIMAL + (
        '\n[accounting]\nreference_dirs = ["my_reference"]\nquota_tables = ["hebei_db13_office"]\n'
    )
    assert validate_file(write(tmp_path, text))[1] == []
