"""What each ledger (台账) holds: its columns, the Chinese headers an officer types, allowed values.

Pure data and small parsers; reading files and the database are in :mod:`accounting.ledgers`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from accounting import units
from accounting.errors import UnitError
from jieneng.vocabulary import LedgerKind

__all__ = ["KINDS", "SCHEMAS", "Column", "LedgerSchema", "normalise_header", "parse_value"]


@dataclass(frozen=True)
class Column:
    """One column of a ledger.

    ``kind`` is text, number (≥ 0), positive (> 0), int, year, date, bool or choice;
    ``choices`` maps every accepted spelling (lower case) to the stored value.
    """

    name: str
    kind: str = "text"
    required: bool = True
    aliases: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)
    help: str = ""


@dataclass(frozen=True)
class LedgerSchema:
    """A ledger kind: its columns and the columns that identify a row (re-import replaces)."""

    kind: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    def column(self, name: str) -> Column:
        """The column named ``name``."""
        return next(c for c in self.columns if c.name == name)


def _choices(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out = {}
    for value, spellings in table.items():
        out[value.lower()] = value
        for s in spellings:
            out[s.lower()] = value
    return out


CATEGORY = _choices({
    "government": ("政府机关", "党政机关", "机关", "政府", "国家机关"),
    "education": ("教育", "学校", "教育机构", "教育机关"),
    "healthcare": ("医疗", "卫生", "医疗卫生", "医院", "医疗机构"),
    "venue": ("场馆", "文体场馆", "场馆机构", "体育场馆"),
    "other": ("其他",),
})
LEVEL = _choices({
    "provincial": ("省级", "省"),
    "municipal": ("市级", "地市级", "市"),
    "county": ("县级", "区县级", "县", "市级以下"),
})
CLIMATE_ZONE = _choices({
    "severe_cold": ("严寒", "严寒地区"),
    "cold": ("寒冷", "寒冷地区"),
    "hot_summer_cold_winter": ("夏热冬冷", "夏热冬冷地区"),
    "hot_summer_warm_winter": ("夏热冬暖", "夏热冬暖地区"),
    "mild": ("温和", "温和地区"),
})
VEHICLE_FUEL = _choices({
    "gasoline": ("汽油", "汽油车"),
    "diesel": ("柴油", "柴油车"),
    "electric": ("纯电", "电动", "纯电动", "电"),
    "hybrid": ("混合动力", "插电混动", "油电混合", "混动"),
})
LIQUID_FUEL = _choices({"gasoline": ("汽油",), "diesel": ("柴油",)})
CARRIER = _choices({
    "electricity": ("电", "电力", "用电"),
    "water": ("水", "用水"),
    "natural_gas": ("天然气", "燃气"),
    "lpg": ("液化石油气", "液化气"),
    "coal": ("煤", "煤炭", "原煤"),
    "gasoline": ("汽油",),
    "diesel": ("柴油",),
    "heat": ("热力", "热", "集中供热"),
    "pv": ("光伏", "太阳能光电", "光伏发电", "太阳能光电系统发电量"),
})
FACILITY_KIND = _choices({
    "canteen": ("食堂", "餐厅"),
    "data_center": ("数据中心", "数据中心机房", "机房"),
    "boiler": ("锅炉",),
    "generator": ("发电机", "柴油发电机"),
    "other": ("其他",),
})
USE = _choices({
    "purchased": ("外购",),
    "stationary": ("固定源", "固定燃烧"),
    "mobile": ("移动源", "移动燃烧"),
    "generation": ("自发电", "发电"),
    "green": ("绿电", "绿色电力"),
})
HEATING_TYPE = _choices({
    "district_heat_metered": ("市政集中供暖", "集中供暖", "市政集中供暖(按热计量)"),
    "air_conditioning": ("空调供暖",),
    "gas_or_oil": ("燃气供暖", "燃油供暖", "燃气(油)供暖"),
    "none": ("无", "不供暖"),
})
BUILDING_USE = _choices({
    "office": ("办公", "办公用房", "自用"),
    "leased_out": ("出租", "对外出租", "经营性出租", "公开招租", "出借"),
    "residential": ("住宅", "家属住宅", "职工住宅", "家属区"),
    "commercial": ("商业", "经营", "经营性"),
    "other": ("其他",),
})
VEHICLE_TYPE = _choices({
    "sedan": ("轿车",),
    "suv": ("越野车", "suv", "运动型多用途车"),
    "minibus": ("小型客车", "中小型客车", "商务车", "面包车"),
    "bus": ("大型客车", "大中型客车", "客车"),
    "truck": ("货车", "载货汽车"),
    "special": ("特种专业技术用车", "特种车", "专用车", "执法执勤用车"),
})
APPORTION_RULE = _choices({
    "area": ("按面积", "面积", "建筑面积"),
    "occupants": ("按人数", "人数", "用能人数"),
    "fixed": ("固定比例", "按比例", "比例"),
    "residual": ("扣减分表", "总表减分表", "余量"),
})
BOOL = {
    "true": "1", "false": "0", "yes": "1", "no": "0", "y": "1", "n": "0", "1": "1", "0": "0",
    "是": "1", "否": "0", "t": "1", "f": "0", "1.0": "1", "0.0": "0",
}

_INSTITUTION = Column("institution_id", aliases=("单位编码", "单位代码", "机构编码", "单位id"))
_COMPOUND = Column("compound_id", aliases=("办公区编码", "集中办公区编码", "办公区id"))
_ODOMETER = Column("odometer_km", "number", required=False,
                   aliases=("里程表读数", "里程表读数(km)", "里程(km)", "里程数", "表显里程"),
                   help="odometer reading at the fill or charge [km]")

SCHEMAS: dict[str, LedgerSchema] = {
    "institutions": LedgerSchema("institutions", (
        _INSTITUTION,
        Column("name", aliases=("单位名称", "机构名称", "名称")),
        Column("category", "choice", choices=CATEGORY,
               aliases=("单位类别", "单位类型", "机构类别")),
        Column("level", "choice", choices=LEVEL, aliases=("级次", "层级", "行政级别", "单位级别")),
        Column("province", "province", aliases=("省份", "所在省份", "省")),
        Column("climate_zone", "choice", choices=CLIMATE_ZONE, aliases=("气候区", "建筑气候区")),
        Column("credit_code", required=False, aliases=("统一社会信用代码", "信用代码")),
        Column("quota_area", required=False, aliases=("定额分区", "分区"),
               help="area of a provincial quota table, e.g. A/B in DB37/T 2672"),
        Column("subtype", required=False, aliases=("细分类型", "子类型"),
               help="subtype a quota table uses, e.g. secondary_hospital, gymnasium, class_a"),
        Column("region_code", required=False, aliases=("行政区划代码", "区划代码", "所属区县代码"),
               help="6-digit 行政区划代码 of the county or district (区县) the institution is in"),
        Column("region_name", required=False, aliases=("所属区县", "区县名称", "行政区划名称"),
               help="name of the county or district, e.g. 历下区"),
    ), ("institution_id",)),
    "compounds": LedgerSchema("compounds", (
        _COMPOUND,
        Column("name", aliases=("办公区名称", "名称")),
        Column("province", "province", aliases=("省份", "所在省份", "省")),
        Column("climate_zone", "choice", choices=CLIMATE_ZONE, aliases=("气候区", "建筑气候区")),
    ), ("compound_id",)),
    "compound_members": LedgerSchema("compound_members", (
        _COMPOUND,
        _INSTITUTION,
        Column("from", "date", required=False, aliases=("入驻日期", "起始日期", "开始日期"),
               help="first day in the compound; blank = since before any year accounted"),
        Column("until", "date", required=False, aliases=("迁出日期", "截止日期", "结束日期"),
               help="last day in the compound (inclusive); blank = still there"),
    ), ("compound_id", "institution_id", "from")),
    "buildings": LedgerSchema("buildings", (
        Column("building_id", aliases=("建筑编码", "建筑物编码", "建筑id")),
        _INSTITUTION,
        Column("floor_area_m2", "positive", aliases=("建筑面积", "建筑面积m2", "建筑面积m²")),
        Column("heated_area_m2", "number", required=False,
               aliases=("采暖面积", "供暖面积", "采暖建筑面积", "供热面积")),
        Column("name", required=False, aliases=("建筑名称", "名称")),
        Column("heating_type", "choice", required=False, choices=HEATING_TYPE,
               aliases=("供暖方式", "采暖方式")),
        Column("in_use_from", "date", required=False,
               aliases=("启用日期", "投入使用日期", "启用时间", "投入使用时间"),
               help="first day in use; blank = in use before any year accounted"),
        Column("in_use_until", "date", required=False,
               aliases=("停用日期", "移交日期", "停止使用日期", "停用时间", "移交时间"),
               help="last day in use (handed over, closed, demolished); blank = still in use"),
        Column("use", "choice", required=False, choices=BUILDING_USE,
               aliases=("用途", "房屋用途", "使用性质"),
               help="office (default), leased_out, residential, commercial, other; "
                    "leased-out and residential space is outside the statistical boundary"),
        Column("compound_id", required=False, aliases=("办公区编码", "集中办公区编码"),
               help="the 集中办公区 this building (or area) is in; its meters are sub-meters "
                    "of the compound's"),
    ), ("building_id",)),
    "headcount": LedgerSchema("headcount", (
        _INSTITUTION,
        Column("year", "year", aliases=("年份", "年度")),
        Column("occupants", "positive_int", aliases=("用能人数", "人数")),
    ), ("institution_id", "year")),
    "vehicles": LedgerSchema("vehicles", (
        Column("plate", aliases=("车牌号", "车牌号码", "车牌")),
        _INSTITUTION,
        Column("fuel", "choice", choices=VEHICLE_FUEL,
               aliases=("燃料类型", "燃料种类", "能源类型")),
        Column("new_energy", "bool", aliases=("新能源", "是否新能源", "新能源汽车")),
        Column("vehicle_type", "choice", required=False, choices=VEHICLE_TYPE,
               aliases=("车辆类型", "车型", "车辆类别")),
        Column("tank_l", "positive", required=False, aliases=("油箱容积", "油箱容积(升)", "油箱容量")),
        Column("in_use_from", "date", required=False, aliases=("启用日期", "购置日期", "登记日期")),
        Column("in_use_until", "date", required=False,
               aliases=("停用日期", "报废日期", "处置日期", "封存日期")),
    ), ("plate",)),
    "fuel": LedgerSchema("fuel", (
        Column("record_id", required=False, aliases=("流水号", "交易流水号", "记录编号")),
        Column("date", "date", aliases=("日期", "加油日期", "交易日期")),
        Column("plate", aliases=("车牌号", "车牌号码", "车牌")),
        Column("fuel", "choice", choices=LIQUID_FUEL, aliases=("油品", "油品类型", "燃料类型")),
        Column("litres", "positive", aliases=("加油量(升)", "加油量", "数量(升)", "升数")),
        Column("cost_cny", "number", required=False, aliases=("金额(元)", "金额", "加油金额")),
        _ODOMETER,
    ), ("record_key",)),
    "charging": LedgerSchema("charging", (
        Column("record_id", required=False, aliases=("流水号", "充电流水号", "记录编号")),
        Column("date", "date", aliases=("日期", "充电日期")),
        Column("plate", aliases=("车牌号", "车牌号码", "车牌")),
        Column("kwh", "positive", aliases=("充电量", "充电量(kwh)", "电量(kwh)", "电量")),
        Column("cost_cny", "number", required=False, aliases=("金额(元)", "金额", "充电金额")),
        _ODOMETER,
        Column("public_station", "bool", required=False,
               aliases=("公共充电站", "社会充电桩", "外部充电"),
               help="yes: charged at a public station, outside every meter of the institution, so "
                    "added to its electricity; no/blank: an own pile behind a building meter, shown "
                    "as vehicle energy but not added again"),
    ), ("record_key",)),
    "facilities": LedgerSchema("facilities", (
        Column("facility_id", aliases=("设施编码", "设施id")),
        _INSTITUTION,
        Column("kind", "choice", choices=FACILITY_KIND, aliases=("设施类型", "类型")),
        Column("name", required=False, aliases=("设施名称", "名称")),
        Column("year", "year", required=False, aliases=("年份", "年度")),
        Column("carrier", "choice", required=False, choices=CARRIER,
               aliases=("能源品种", "燃料")),
        Column("capacity_kw", "number", required=False, aliases=("容量(kw)", "额定功率(kw)")),
        Column("it_energy_kwh", "number", required=False,
               aliases=("it设备用电量", "it设备耗电量", "it用电量(kwh)")),
        Column("total_energy_kwh", "number", required=False,
               aliases=("机房总用电量", "机房总耗电量", "总用电量(kwh)")),
    ), ("facility_id", "year")),
    "bills": LedgerSchema("bills", (
        _INSTITUTION,
        Column("carrier", "choice", choices=CARRIER, aliases=("能源品种", "能源类型", "品种")),
        Column("period_start", "date", aliases=("起始日期", "开始日期", "账期起", "计费起始日期")),
        Column("period_end", "date", aliases=("截止日期", "结束日期", "账期止", "计费截止日期")),
        Column("quantity", "number", aliases=("用量", "数量", "消费量")),
        Column("unit", aliases=("单位", "计量单位")),
        Column("cost_cny", "number", required=False,
               aliases=("金额(元)", "金额", "费用(元)", "费用")),
        Column("account", required=False, aliases=("户号", "账户", "账号")),
        Column("building_id", required=False, aliases=("建筑编码",)),
        Column("use", "choice", required=False, choices=USE, aliases=("用途",)),
        Column("green", "bool", required=False, aliases=("绿电", "是否绿电")),
        Column("replaces", "bool", required=False,
               aliases=("correction", "更正", "更正账单", "是否更正", "替换"),
               help="yes: a corrected bill; it replaces the bills of its account (or, without "
                    "an account, of its institution and carrier) whose periods it overlaps"),
    ), ("institution_id", "carrier", "account", "period_start", "period_end")),
    "apportionment": LedgerSchema("apportionment", (
        _COMPOUND,
        Column("carrier", "choice", choices=CARRIER, aliases=("能源品种", "品种")),
        Column("rule", "choice", choices=APPORTION_RULE, aliases=("分摊方式", "分摊规则")),
        Column("residual_rule", "choice", required=False, choices=APPORTION_RULE,
               aliases=("余量分摊方式",),
               help="for rule residual: how the rest is split (area, occupants or fixed)"),
        Column("institution_id", required=False, aliases=("单位编码", "单位代码")),
        Column("share", "number", required=False, aliases=("分摊比例", "比例")),
    ), ("compound_id", "carrier", "member_key")),
}

KINDS: tuple[str, ...] = tuple(kind.value for kind in LedgerKind)
if set(SCHEMAS) != set(KINDS):  # pragma: no cover - a programming error caught at import
    raise ImportError(f"ledger schemas {sorted(SCHEMAS)} differ from the vocabulary's {sorted(KINDS)}")

#: Header cells ignored wherever they appear (row numbers, remarks).
IGNORED_HEADERS = frozenset({"序号", "备注", "说明", "note", "notes", "remark", "remarks", "no"})


def normalise_header(text: str) -> str:
    """A header cell as compared: no spaces, ASCII parentheses, lower case."""
    out = str(text).replace("\ufeff", "").strip().lower()
    out = out.replace("（", "(").replace("）", ")").replace("㎡", "m2").replace("m³", "m3")
    return re.sub(r"\s+", "", out)


def header_map(schema: LedgerSchema) -> dict[str, str]:
    """Every accepted (normalised) header → column name."""
    out = {}
    for col in schema.columns:
        out[normalise_header(col.name)] = col.name
        for alias in col.aliases:
            out[normalise_header(alias)] = col.name
    return out


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


def parse_value(column: Column, raw: object) -> tuple[object, str]:
    """Parse one cell: (value, "") or (None, reason). Empty optional cells give (None, "")."""
    if isinstance(raw, float) and math.isnan(raw):
        raw = None
    text = "" if raw is None else str(raw).strip()
    if text == "":
        return None, ("a value is required" if column.required else "")
    kind = column.kind
    if kind == "text":
        return text, ""
    if kind in ("number", "positive"):
        value_or_none, reason = _number(raw, text)
        if value_or_none is None:
            return None, reason
        value = value_or_none
        if not math.isfinite(value):
            return None, "expected a finite number"
        if kind == "positive" and value <= 0:
            return None, "expected a number greater than 0"
        if value < 0:
            return None, "expected a number ≥ 0"
        return value, ""
    if kind in ("year", "positive_int"):
        number_or_none, reason = _number(raw, text)
        if number_or_none is None or not math.isfinite(number_or_none):
            return None, "expected a whole number" + reason.removeprefix("expected a number")
        number = number_or_none
        if number != int(number):
            return None, "expected a whole number"
        value = int(number)
        if kind == "year" and not 1990 <= value <= 2100:
            return None, "expected a year between 1990 and 2100"
        if kind == "positive_int" and value <= 0:
            return None, "expected a whole number greater than 0"
        return value, ""
    if kind == "date":
        if isinstance(raw, dt.datetime):
            return raw.date(), ""
        if isinstance(raw, dt.date):
            return raw, ""
        text = text.split(" ")[0].split("T")[0]
        if text.isdigit() and len(text) != 8:
            return None, (f"a date without separators has exactly eight digits (YYYYMMDD), "
                          f"not {len(text)}; expected a date such as 2025-01-31 or 20250131")
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).date(), ""
            except ValueError:
                continue
        return None, "expected a date such as 2025-01-31"
    if kind == "bool":
        value = BOOL.get(text.lower())
        if value is None:
            return None, "expected yes/no (true/false, 1/0, 是/否)"
        return value == "1", ""
    if kind == "choice":
        value = column.choices.get(text.lower())
        if value is None:
            allowed = sorted(set(column.choices.values()))
            return None, f"expected one of {', '.join(allowed)}"
        return value, ""
    if kind == "province":
        value = text.lower()
        if not value.isascii() or not value.replace("_", "").isalpha():
            return None, "expected the province in lower-case pinyin, e.g. shandong"
        return value, ""
    raise AssertionError(f"unknown column kind {kind!r}")  # pragma: no cover


#: A number as a ledger may write it: digits with an optional decimal part and exponent; a comma
#: only as a thousands separator between well-formed groups of three digits (1,500 or
#: 1,500,000.5; never 1,5 nor 15,00).
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d*)?(?:[eE][+-]?\d+)?")


def _number(raw: object, text: str) -> tuple[float | None, str]:
    """A cell as a float, or (None, reason). A number cell of a workbook is taken as it is."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw), ""
    if not _NUMBER.fullmatch(text) or not any(ch.isdigit() for ch in text.split("e")[0]
                                               .split("E")[0]):
        if "," in text:
            return None, ("expected a number; a comma may only separate thousands (1,500 or "
                          "1,500,000.5); write a decimal as 1.5")
        return None, "expected a number"
    return float(text.replace(",", "")), ""


def check_unit(carrier: str | None, unit: str | None) -> tuple[str | None, str]:
    """The unit symbol for a bill's unit, or a reason it does not fit the carrier."""
    if carrier is None or unit is None:
        return unit, ""
    try:
        return units.normalise_unit(carrier, unit), ""
    except UnitError as exc:
        return None, str(exc)
