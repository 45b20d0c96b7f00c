"""The working calendar: chinese-calendar, a deployer's reference file, the weekday fallback."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from forecasting.calendar import (
    REFERENCE_DIR,
    WorkingCalendar,
    calendar_frame,
    load_calendar,
    read_reference_file,
)
from forecasting.errors import CalendarError


def test_tiaoxiu_weekend_days_are_working_days_and_spring_festival_is_not():
    cal = load_calendar("CN", None)
    assert cal.is_workday(dt.date(2026, 2, 14))  # Saturday, 调休 before 春节
    assert cal.is_workday(dt.date(2026, 9, 20))  # Sunday, 调休 before 国庆
    assert not cal.is_workday(dt.date(2026, 2, 17))  # 春节
    assert cal.is_holiday(dt.date(2026, 2, 17))
    assert not cal.is_holiday(dt.date(2026, 3, 7))  # a plain Saturday is no holiday
    assert cal.name(dt.date(2025, 1, 1), dt.date(2026, 12, 31)).startswith("chinese-calendar ")


def test_a_year_past_chinese_calendar_without_a_reference_file_falls_back_and_says_so(tmp_path):
    cal = load_calendar("CN", tmp_path)
    day = dt.date(2027, 1, 1)  # a Friday: 元旦 in any real 2027 notice, a working day here
    assert cal.is_workday(day)
    assert not cal.is_workday(dt.date(2027, 1, 2))  # Saturday
    assert cal.source(2027).kind == "weekday fallback"
    assert cal.name(dt.date(2026, 6, 1), dt.date(2027, 12, 31)).endswith("weekday fallback 2027")


def test_a_reference_file_fills_a_year_and_is_named(tmp_path):
    (tmp_path / "holidays_2027.csv").write_text(
        "# from 国务院办公厅关于2027年部分节假日安排的通知 (a test's invented rows)\n"
        "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n", encoding="utf-8")
    cal = load_calendar("CN", tmp_path)
    assert not cal.is_workday(dt.date(2027, 1, 1))
    assert cal.is_workday(dt.date(2027, 2, 6))  # a Saturday made a working day
    assert cal.is_workday(dt.date(2027, 1, 4))
    assert cal.name(dt.date(2027, 1, 1), dt.date(2027, 12, 31)) == "reference file 2027"
    frame = calendar_frame(cal, pd.date_range("2027-01-01", "2027-01-04"))
    assert frame["workday"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert frame["holiday"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_a_bad_reference_file_names_every_bad_row(tmp_path):
    (tmp_path / "holidays_2027.csv").write_text(
        "date,kind,name\n2027-13-01,holiday,x\n2027-02-06,off,春节\n2028-01-01,holiday,元旦\n",
        encoding="utf-8")
    with pytest.raises(CalendarError) as err:
        load_calendar("CN", tmp_path).is_workday(dt.date(2027, 5, 5))
    message = str(err.value)
    assert "row 2" in message
    assert "row 3" in message
    assert "row 4" in message
    assert "holidays_2027.csv" in message


def test_the_template_is_shipped_and_parses():
    source = read_reference_file(REFERENCE_DIR / "holidays_template.csv", 2026)
    assert dt.date(2026, 2, 17) in source.holidays
    assert dt.date(2026, 9, 20) in source.workdays


def test_a_site_outside_china_uses_the_holidays_package():
    cal = WorkingCalendar("DE")
    assert not cal.is_workday(dt.date(2026, 12, 25))
    assert cal.is_workday(dt.date(2026, 12, 22))
    assert cal.name(dt.date(2026, 1, 1), dt.date(2026, 12, 31)).startswith("holidays ")
    assert cal.name(dt.date(2026, 1, 1), dt.date(2026, 12, 31)).endswith(" DE")
