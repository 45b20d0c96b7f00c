"""Every subcommand under hostile arguments and files: one clear message, never a traceback.

The subcommands are read from :func:`jieneng.cli.build_parser` (sub-parsers and the choices of a
``kind`` positional, such as ``import bills``), so a subcommand added later is covered without
editing this file. Each runs in-process through :func:`jieneng.cli.main` with:

* every broken settings file (missing, unreadable, a folder, empty, binary, UTF-16, GBK, bad TOML,
  ``[meters]`` for ``[[meters]]``, strictness errors), for every subcommand;
* with a valid settings file, every subcommand that does not serve forever (``collect`` with
  ``--once``) with hostile ``--year``, ``--out``, files, numbers and names, one at a time;
* settings whose ledger or store path is not a database, or a folder.

A run fails when its output holds ``Traceback`` or ``unexpected error`` (the top-level guard's
line: a case the handler should have explained), when its exit code is not an
:class:`~jieneng.vocabulary.ExitCode`, or when it fails without saying why on stderr. A few
cases also run as real processes through the console script.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import accounting.ledgers
from jieneng.cli import build_parser, main
from jieneng.vocabulary import ExitCode

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
EXIT_CODES = {int(code) for code in ExitCode}

#: Subcommands that serve until stopped: with a valid settings file they only get the arguments
#: listed here, which fail before anything is served.
SERVING: dict[str, list[list[str]]] = {
    "demo": [],
    "dashboard": [],
    "simulate": [["--fault", "nosuch:timeout"], ["--fault", "garbage"], ["--fault", "m1:nosuch"]],
    "collect": [],  # runs with --once (and without meters, which stops before serving)
}

SITE = """
[site]
name = "测试局"
province = "shandong"
region_code = "370100"
"""


def _settings_text(ledger: str = "var/ledgers.sqlite", store: str = "var/store.sqlite",
                   meters: bool = True, port: int = 1) -> str:
    text = SITE + f"""
[storage.sqlite]
path = "{store}"

[collector]
spool_path = "var/spool.sqlite"

[accounting]
ledger_path = "{ledger}"
"""
    if meters:
        text += f"""
[[gateways]]
id = "gw"
protocol = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.2
retries = 0

[[meters]]
id = "m1"
gateway = "gw"
model = "chint_dtsu666"
institution = "gov01"
building = "gov01-main"
carrier = "electricity"
"""
    return text


#: Broken settings files: name → bytes (``None``: made by :func:`_make_files`).
BAD_CONFIGS: dict[str, bytes | None] = {
    "missing": None,
    "folder": None,
    "unreadable": _settings_text().encode(),
    "empty": b"",
    "comments_only": b"# nothing here\n\n",
    "binary": bytes(random.Random(13).randrange(256) for _ in range(2000)),
    "utf16": _settings_text().encode("utf-16"),
    "gbk": _settings_text().encode("gbk"),
    "bad_toml": b"[site\nname = ",
    "meters_table": _settings_text().replace("[[meters]]", "[meters]").encode(),
    "gateways_table": _settings_text().replace("[[gateways]]", "[gateways]").encode(),
    "port_true": _settings_text().replace("port = 1\n", "port = true\n").encode(),
    "port_text": _settings_text().replace("port = 1\n", 'port = "15021"\n').encode(),
    "bad_host": _settings_text().replace('host = "127.0.0.1"', 'host = "not a host!!"').encode(),
    "site_only_list": b"site = [1, 2]\n",
}

#: Valid settings files with something broken that only shows when a command uses it.
BROKEN_PATHS = {
    "ledger_not_db": _settings_text(ledger="not_a_db.sqlite"),
    "ledger_is_folder": _settings_text(ledger="a_folder"),
    "ledger_under_file": _settings_text(ledger="not_a_db.sqlite/ledgers.sqlite"),
    "store_not_db": _settings_text(store="not_a_db.sqlite"),
    "store_is_folder": _settings_text(store="a_folder"),
}

#: Hostile data files: name → (suffix, bytes or None when made by :func:`_make_files`).
BAD_FILES: dict[str, tuple[str, bytes | None]] = {
    "missing": (".csv", None),
    "folder": (".csv", None),
    "empty": (".csv", b""),
    "bom_only": (".csv", b"\xef\xbb\xbf"),
    "binary": (".csv", bytes(random.Random(7).randrange(256) for _ in range(5000))),
    "utf16": (".csv", "institution_id,name\ngov01,市政府\n".encode("utf-16")),
    "gbk": (".csv", "单位编码,单位名称\ngov01,市政府\n".encode("gbk")),
    "garbage": (".csv", b'a,b,c\n1,2\n,,,,,,\n"unterminated\n\x00\n'),
    "header_only": (".csv", None),
    "huge_numbers": (".csv", None),
    "fake_xlsx": (".xlsx", b"this is not a workbook\n"),
    "xls": (".xls", b"\xd0\xcf\x11\xe0 old excel"),
    "toml": (".toml", _settings_text().encode()),
}

HOSTILE_YEARS = ["3000", "0", "-5", "1900", "abc", "2025.5", "99999999999999999999"]
HOSTILE_OUT = ["folder", "under_file", "not_creatable", "wrong_suffix", "empty"]
HOSTILE_NUMBERS = ["-1", "0", "nan", "inf", "1e999", "abc"]
HOSTILE_NAMES = ["", "../../etc/passwd"]
#: The broken settings files every subcommand is run with (the rest run with two of them).
EVERY_COMMAND_CONFIGS = ["missing", "folder", "unreadable", "empty", "binary", "utf16", "gbk",
                         "meters_table", "port_true"]


# ---------------------------------------------------------------------------------------------
# The subcommands, read from the parser
# ---------------------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def commands(parser: argparse.ArgumentParser | None = None,
             prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf subcommand as (words, its parser); a ``kind`` positional's choices are words."""
    parser = parser or build_parser()
    sub = _subparsers(parser)
    if sub is None:
        yield prefix, parser
        return
    for name, child in sub.choices.items():
        if _subparsers(child) is not None:
            yield from commands(child, (*prefix, name))
            continue
        kind = next((a for a in child._actions if not a.option_strings and a.choices), None)
        if kind is None:
            yield (*prefix, name), child
        else:
            for choice in kind.choices:
                yield (*prefix, name, str(choice)), child


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)]


def _is_positional(action: argparse.Action) -> bool:
    return not action.option_strings


def _base_args(words: tuple[str, ...], parser: argparse.ArgumentParser, config: str,
               override: dict[str, list[str]] | None = None) -> list[str]:
    """argv for one subcommand: every positional and required option filled in, benignly.

    ``override`` maps an action's dest to the argv words that replace its benign value.
    """
    override = override or {}
    argv = list(words)
    kind_word = words[-1] if len(words) > 1 else ""
    options: list[str] = []
    positional_values: list[str] = []
    for action in _actions(parser):
        if _is_positional(action):
            if action.choices:  # the kind: already in ``words``
                continue
            if action.dest in override:
                positional_values.extend(override[action.dest])
            elif action.dest == "file" and words[0] == "check-config":
                positional_values.append(config)
            else:
                positional_values.append(f"{{benign_file:{kind_word}}}")
            continue
        flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") \
            else action.option_strings[0]
        if action.dest in override:
            options += [flag, *override[action.dest]] if override[action.dest] else []
        elif action.dest == "config":
            options += [flag, config]
        elif action.required:
            options += [flag, _benign(action)]
    if words[0] == "check-config":
        return [*argv, *positional_values]
    return [*argv, *positional_values, *options]


def _benign(action: argparse.Action) -> str:
    if action.dest == "year":
        return "2025"
    if action.dest == "out":
        return "{out:ok}"
    if action.choices:
        return str(next(iter(action.choices)))
    return "1"


def _cases() -> list[tuple[str, list[str]]]:
    """(id, argv template) of every hostile run; ``{...}`` fields name files made at run time."""
    cases: list[tuple[str, list[str]]] = []
    for words, parser in commands():
        name = " ".join(words)
        has_config = any(a.dest == "config" for a in _actions(parser)) or words[0] == "check-config"
        if has_config:
            for bad in EVERY_COMMAND_CONFIGS:
                cases.append((f"{name} | config {bad}", _base_args(words, parser, f"{{config:{bad}}}")))
        serving = words[0] in SERVING
        if serving:
            for extra in SERVING[words[0]]:
                argv = _base_args(words, parser, "{config:ok}")
                cases.append((f"{name} {' '.join(extra)}", [*argv, *extra]))
            if words[0] == "collect":
                cases.append((f"{name} | no meters", _base_args(words, parser, "{config:no_meters}")))
                cases.append((f"{name} --once", [*_base_args(words, parser, "{config:ok}"), "--once"]))
                for broken in BROKEN_PATHS:
                    argv = _base_args(words, parser, f"{{config:{broken}}}")
                    cases.append((f"{name} --once | {broken}", [*argv, "--once"]))
            continue
        if words[0] == "check-config":
            continue
        cases.append((f"{name} | valid", _base_args(words, parser, "{config:ok}")))
        for broken in BROKEN_PATHS:
            cases.append((f"{name} | {broken}", _base_args(words, parser, f"{{config:{broken}}}")))
        for action in _actions(parser):
            for value in _hostile_values(action):
                override = {action.dest: value}
                cases.append((f"{name} | {action.dest} {' '.join(value)}",
                              _base_args(words, parser, "{config:ok}", override)))
    return cases


def _hostile_values(action: argparse.Action) -> list[list[str]]:
    if action.dest in ("config", "help", "verbose", "quiet") or action.choices:
        return []
    if action.dest == "year":
        return [[y] for y in HOSTILE_YEARS]
    if action.dest == "out":
        return [[f"{{out:{o}}}"] for o in HOSTILE_OUT]
    if _is_positional(action) or action.type is Path:
        return [[f"{{file:{f}}}"] for f in BAD_FILES]
    if action.nargs == 0:  # a flag
        return []
    if action.type in (int, float) or (callable(action.type) and action.type is not str):
        return [[n] for n in HOSTILE_NUMBERS]
    return [[n] for n in HOSTILE_NAMES]


CASES = _cases()


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


class Files:
    """The settings and data files of the hostile runs, under one folder."""

    def __init__(self, root: Path):
        self.root = root
        self.unreadable: set[Path] = set()
        configs = root / "configs"
        configs.mkdir()
        self.configs: dict[str, Path] = {}
        for name, data in BAD_CONFIGS.items():
            path = configs / f"{name}.toml"
            if name == "folder":
                path.mkdir()
            elif data is not None:
                path.write_bytes(data)
            if name == "unreadable":
                path.chmod(0)
                self.unreadable.add(path)
            self.configs[name] = path
        for name, text in {"ok": _settings_text(), "no_meters": _settings_text(meters=False),
                           **BROKEN_PATHS}.items():
            path = configs / f"{name}.toml"
            path.write_text(text, encoding="utf-8")
            self.configs[name] = path
        (configs / "not_a_db.sqlite").write_text("this is not a database\n", encoding="utf-8")
        (configs / "a_folder").mkdir()

        files = root / "files"
        files.mkdir()
        self.files: dict[str, Path] = {}
        for name, (suffix, data) in BAD_FILES.items():
            path = files / f"{name}{suffix}"
            if name == "folder":
                path.mkdir()
            elif name == "header_only":
                path.write_text("institution_id,name,category\n", encoding="utf-8")
            elif name == "huge_numbers":
                path.write_text("time,meter,point,value,institution_id,quantity\n"
                                "2025-01-01T00:00:00Z,m1,energy_import_kwh,1e999,gov01,1e300\n",
                                encoding="utf-8")
            elif data is not None:
                path.write_bytes(data)
            self.files[name] = path

        outs = root / "out"
        (outs / "folder.xlsx").mkdir(parents=True)
        (outs / "a_file").write_text("x", encoding="utf-8")
        self.outs = {
            "ok": outs / "report.xlsx",
            "folder": outs / "folder.xlsx",
            "under_file": outs / "a_file" / "report.xlsx",
            "not_creatable": Path("/proc/jieneng-test/report.xlsx"),
            "wrong_suffix": outs / "report.txt",
            "empty": Path(""),
        }

    def benign_file(self, kind: str) -> Path:
        sample = SAMPLE / f"{kind}.csv"
        return sample if sample.is_file() else self.files["garbage"]

    def fill(self, template: list[str]) -> list[str]:
        out = []
        for word in template:
            if word.startswith("{") and word.endswith("}") and ":" in word:
                what, name = word[1:-1].split(":", 1)
                path = {"config": self.configs.get, "file": self.files.get, "out": self.outs.get,
                        "benign_file": self.benign_file}[what](name)
                out.append(str(path))
            else:
                out.append(word)
        return out


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Iterator[Files]:
    made = Files(tmp_path_factory.mktemp("hostile"))
    yield made
    for path in made.unreadable:
        path.chmod(0o600)


@pytest.fixture(autouse=True)
def _unreadable_even_for_root(files, monkeypatch):
    """chmod 0 does not stop root: make reading those files fail as it would for a user."""
    read_bytes = Path.read_bytes
    read_text = Path.read_text

    def refuse(path: Path) -> None:
        if Path(path) in files.unreadable:
            raise PermissionError(13, "Permission denied", str(path))

    def guarded_bytes(self: Path) -> bytes:
        refuse(self)
        return read_bytes(self)

    def guarded_text(self: Path, *args, **kwargs) -> str:
        refuse(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", guarded_bytes)
    monkeypatch.setattr(Path, "read_text", guarded_text)


def run(argv: list[str], capsys, cwd: Path) -> tuple[int, str, str]:
    """``jieneng ARGV`` in-process: (exit code, stdout, stderr)."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors exit 2
            code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return int(code), out, err


def assert_clean(argv: list[str], code: int, out: str, err: str) -> None:
    shown = f"jieneng {' '.join(argv)} → {code}\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    assert "Traceback" not in out + err, shown
    assert "unexpected error" not in out + err, shown
    assert code in EXIT_CODES, shown
    if code not in (ExitCode.ok, ExitCode.not_built):
        assert err.strip(), f"failed without saying why: {shown}"


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


def test_every_subcommand_is_covered():
    """The table reaches every subcommand of the parser (and every import kind)."""
    covered = {case_id.split(" | ")[0].split(" --")[0] for case_id, _ in CASES}
    every = {" ".join(words) for words, _ in commands()}
    assert every <= covered, every - covered
    assert {"import readings", "import bills", "account", "report", "check-config"} <= every


@pytest.mark.parametrize(("case_id", "template"), CASES, ids=[c[0] for c in CASES])
def test_hostile_run_gives_a_message_not_a_traceback(case_id, template, files, capsys, tmp_path):
    argv = files.fill(template)
    code, out, err = run(argv, capsys, tmp_path)
    assert_clean(argv, code, out, err)
    if " | config " in case_id:  # a broken settings file
        assert code in (ExitCode.bad_input, ExitCode.not_built), (case_id, code, err)
        if code == ExitCode.bad_input:
            assert str(files.configs[case_id.rsplit(" ", 1)[-1]]) in err, err


CONFIG_MESSAGES = {
    "missing": "no such file",
    "folder": "is a folder",
    "unreadable": "permission denied",
    "empty": "is empty",
    "comments_only": "is empty",
    "binary": "save it as UTF-8",
    "utf16": "is UTF-16 or binary, not UTF-8 text: save it as UTF-8",
    "gbk": "GBK or another encoding?): save it as UTF-8",
    "bad_toml": "valid TOML",
    "meters_table": "meters = [meters] (a single table): a list of tables: write [[meters]]",
    "gateways_table": "write [[gateways]], with two brackets",
    "port_true": "gateways[0].port = true: a whole number without quotes",
    "port_text": "gateways[0].port = '15021': a whole number without quotes",
    "bad_host": "gateways[0].host = 'not a host!!': expected a host name",
}


@pytest.mark.parametrize("name", sorted(CONFIG_MESSAGES))
def test_broken_settings_files_say_what_is_wrong(name, files, capsys, tmp_path):
    path = files.configs[name]
    for argv in (["check-config", str(path)], ["import", "bills", "x.csv", "-c", str(path)]):
        code, out, err = run(argv, capsys, tmp_path)
        assert code == ExitCode.bad_input, err
        assert CONFIG_MESSAGES[name] in err, err
        assert_clean(argv, code, out, err)


@pytest.mark.parametrize("year", ["3000", "0", "-5", "1999", "2101"])
@pytest.mark.parametrize("command", ["account", "report", "forecast"])
def test_years_are_checked_when_the_arguments_are_parsed(command, year, files, capsys, tmp_path):
    argv = [command, "-c", str(files.configs["ok"]), "--year", year]
    if command == "report":
        argv += ["--out", str(tmp_path / "r.xlsx")]
    code, _, err = run(argv, capsys, tmp_path)
    assert code == ExitCode.bad_input
    assert f"argument --year: {year} is out of range; expected a year from 2000 to 2100" in err


@pytest.mark.parametrize(("out", "message"), [
    ("folder", "is a folder; expected a file name such as"),
    ("under_file", "a_file is a file, not a folder"),
    ("not_creatable", "cannot write the report (/proc/jieneng-test: No such file or directory)"),
    ("empty", "expected a file ending in .xlsx, .csv, .json"),
])
def test_report_out_that_cannot_be_written(out, message, files, capsys, tmp_path):
    argv = ["report", "-c", str(files.configs["no_meters"]), "--year", "2025", "--out",
            str(files.outs[out])]
    code, stdout, err = run(argv, capsys, tmp_path)
    assert code == ExitCode.bad_input, err
    assert message in err
    assert_clean(argv, code, stdout, err)


@pytest.mark.parametrize(("config", "message"), [
    ("ledger_not_db", "not_a_db.sqlite: not a ledger database (file is not a database); check "
                      "[accounting] ledger_path"),
    ("ledger_is_folder", "a_folder: is a folder; [accounting] ledger_path must name a database file"),
    ("ledger_under_file", "cannot create the ledger database"),
])
def test_ledger_path_that_is_not_a_database(config, message, files, capsys, tmp_path):
    account = ["account", "-c", str(files.configs[config]), "--year", "2025"]
    for argv in ([account] if config != "ledger_under_file" else []) + [
            ["import", "institutions", str(SAMPLE / "institutions.csv"), "-c",
             str(files.configs[config])]]:
        code, out, err = run(argv, capsys, tmp_path)
        assert code == ExitCode.bad_input, err
        assert message in err, err
        assert_clean(argv, code, out, err)


def test_store_path_that_is_not_a_database(files, capsys, tmp_path):
    argv = ["account", "-c", str(files.configs["store_not_db"]), "--year", "2025"]
    code, out, err = run(argv, capsys, tmp_path)
    assert code == ExitCode.unavailable, err
    assert "not_a_db.sqlite: it is not a SQLite database; check [storage.sqlite] path" in err
    assert_clean(argv, code, out, err)


def test_an_import_waiting_for_the_ledger_lock(files, capsys, tmp_path, monkeypatch):
    config = tmp_path / "jieneng.toml"
    config.write_text(_settings_text(meters=False), encoding="utf-8")
    institutions = str(SAMPLE / "institutions.csv")
    assert run(["import", "institutions", institutions, "-c", str(config)], capsys, tmp_path)[0] == 0
    monkeypatch.setattr(accounting.ledgers, "LOCK_TIMEOUT_S", 0.2)
    other = sqlite3.connect(tmp_path / "var" / "ledgers.sqlite")
    try:
        other.execute("BEGIN IMMEDIATE")  # another import holds the write lock
        argv = ["import", "institutions", institutions, "-c", str(config)]
        code, out, err = run(argv, capsys, tmp_path)
    finally:
        other.rollback()
        other.close()
    assert code == ExitCode.unavailable, err
    assert "nothing was imported: the ledger database" in err
    assert "ledgers.sqlite is locked by another import (waited 0.2 s); try again when it has " \
           "finished" in err
    assert_clean(argv, code, out, err)


def test_the_guard_turns_an_unexpected_error_into_one_line(files, capsys, tmp_path, monkeypatch):
    import accounting.cli

    def broken(args, settings):
        raise RuntimeError("something\nwent wrong")

    monkeypatch.setattr(accounting.cli, "account_main", broken)
    argv = ["account", "-c", str(files.configs["no_meters"]), "--year", "2025"]
    code, _, err = run(argv, capsys, tmp_path)
    assert code == ExitCode.failed
    assert err.strip().splitlines() == [
        "jieneng account: unexpected error: RuntimeError: something went wrong; "
        "run with -vv for the traceback"]
    code, _, err = run(["-vv", *argv], capsys, tmp_path)
    assert code == ExitCode.failed
    assert "Traceback" in err  # logged at DEBUG
    assert "RuntimeError: something" in err


@pytest.mark.slow
def test_real_processes_print_no_traceback(files, tmp_path):
    """A few cases as real processes through the console script (all at once)."""
    exe = shutil.which("jieneng", path=str(Path(sys.executable).parent))
    assert exe is not None
    runs = {
        "year 3000": (["account", "-c", str(files.configs["ok"]), "--year", "3000"], 2),
        "config folder": (["collect", "--once", "-c", str(files.configs["folder"])], 2),
        "ledger not a database": (["import", "bills", str(SAMPLE / "bills.csv"), "-c",
                                   str(files.configs["ledger_not_db"])], 2),
    }
    procs = {name: subprocess.Popen([exe, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, cwd=tmp_path)
             for name, (argv, _) in runs.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in out + err, (name, err)
        assert proc.returncode == runs[name][1], (name, proc.returncode, err)
        assert err.strip(), name
