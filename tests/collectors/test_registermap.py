"""Register-map library: every shipped map loads, validation messages state the arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.registermap import (
    DataType,
    Function,
    RegisterMapError,
    apply_overrides,
    available_models,
    get_register_map,
    load_register_map,
)
from jieneng.settings import CONSUMPTION_POINTS, PointOverride

REQUIRED_MODELS = {
    "chint_dtsu666", "chint_dtsu666_h", "chint_ddsu666", "eastron_sdm630", "eastron_sdm120",
    "acrel_adl400", "acrel_adw300", "schneider_iem3000", "schneider_pm5xxx", "tuf2000m",
}

HEADER = """
[meter]
model = "{model}"
manufacturer = "test"
description = "test map"
source = "written in a test"
confidence = "low"
address_base_note = "0-based"
"""


def _write(tmp_path: Path, body: str, model: str = "test_meter") -> Path:
    path = tmp_path / f"{model}.toml"
    path.write_text(HEADER.format(model=model) + body, encoding="utf-8")
    return path


def test_the_library_has_every_required_model_and_each_carrier():
    models = available_models()
    assert set(models) >= REQUIRED_MODELS
    carriers = set()
    for model in models:
        carriers.update(get_register_map(model).carriers)
    assert {"electricity", "water", "natural_gas", "heat", "pv"} <= carriers


@pytest.mark.parametrize("model", sorted(available_models()))
def test_every_shipped_map_loads_with_provenance(model):
    regmap = get_register_map(model)
    assert regmap.model == model
    assert regmap.source
    assert regmap.address_base_note
    assert regmap.manufacturer
    assert regmap.confidence in ("high", "medium", "medium-low", "low")
    for carrier in regmap.carriers:
        name, unit = CONSUMPTION_POINTS[carrier]
        point = regmap.point(name)
        assert point.kind == "counter"
        assert point.unit == unit
    for p in regmap.points:
        assert p.unit is not None
        assert p.description


def test_known_addresses_from_the_reference():
    dtsu = get_register_map("chint_dtsu666")
    assert dtsu.point("energy_import_kwh").address == 0x101E
    assert dtsu.point("voltage_l1_v").scale == pytest.approx(0.1)
    assert dtsu.point("current_l1_a").apply_ct
    assert not dtsu.point("current_l1_a").apply_pt
    # DTSU666-H is a different profile: no ×0.1, energy at 0x401E
    dtsu_h = get_register_map("chint_dtsu666_h")
    assert dtsu_h.point("voltage_l1_v").scale == 1.0
    assert dtsu_h.point("energy_import_kwh").address == 0x401E
    # Schneider: register number 3204 → protocol address 3203, int64 Wh → kWh
    iem = get_register_map("schneider_iem3000")
    assert iem.point("energy_import_kwh").address == 3203
    assert iem.point("energy_import_kwh").data_type is DataType.int64
    assert iem.point("energy_import_kwh").scale == pytest.approx(0.001)
    assert iem.point("voltage_l1_v").address == 3027
    # TUF-2000M: REG115 → 114, low word first
    tuf = get_register_map("tuf2000m")
    assert (tuf.point("volume_m3").address, tuf.point("volume_m3").word_order) == (114, "CDAB")
    # Eastron reads input registers
    assert get_register_map("eastron_sdm630").point("energy_import_kwh").function is Function.input
    # ADL400 primary side: 0x081A is the total, 0x0818 is L3
    adl = get_register_map("acrel_adl400")
    assert adl.point("power_w").address == 0x081A
    assert adl.point("power_l3_w").address == 0x0818


def test_overlap_message_states_the_arithmetic(tmp_path):
    path = _write(tmp_path, """
[[points]]
name = "voltage_l3_v"
function = "holding"
address = 0x2013
data_type = "float32"
unit = "V"
[[points]]
name = "power_w"
function = "holding"
address = 0x2012
data_type = "float32"
unit = "W"
""")
    with pytest.raises(RegisterMapError) as exc:
        load_register_map(path)
    assert ("point power_w at 0x2012 is float32 = 2 registers, ends at 0x2013, overlaps "
            "voltage_l3_v at 0x2013") in str(exc.value)
    assert str(path) in str(exc.value)


def test_same_address_in_different_functions_is_not_an_overlap(tmp_path):
    path = _write(tmp_path, """
[[points]]
name = "a_v"
function = "holding"
address = 0
data_type = "float32"
[[points]]
name = "b_v"
function = "input"
address = 0
data_type = "float32"
""")
    assert len(load_register_map(path).points) == 2


def test_every_problem_is_reported_at_once(tmp_path):
    path = _write(tmp_path, """
[[points]]
name = "Power W"
function = "holdings"
address = 70000
data_type = "float16"
word_order = "ABDC"
kind = "meter"
scale = "ten"
colour = "red"
[[points]]
name = "energy_kwh"
function = "input"
address = 4
data_type = "float32"
count = 1
""")
    with pytest.raises(RegisterMapError) as exc:
        load_register_map(path)
    text = str(exc.value)
    for expected in (
        "name = 'Power W'",
        "function = 'holdings': expected one of coil, discrete, holding, input",
        "data_type = 'float16'",
        "word_order = 'ABDC'",
        "address = 70000: expected a 0-based protocol address 0…65535",
        "kind = 'meter'",
        "scale = 'ten': expected a number",
        "unknown key 'colour'",
        "count = 1 but float32 = 2 register(s)",
    ):
        assert expected in text


def test_consumption_point_is_required_for_a_carrier(tmp_path):
    path = tmp_path / "gas.toml"
    path.write_text(HEADER.format(model="gas") + 'carriers = ["natural_gas"]\n' + """
[[points]]
name = "flow_m3_per_h"
function = "holding"
address = 0
data_type = "float32"
""", encoding="utf-8")
    with pytest.raises(RegisterMapError, match="must provide the counter point 'volume_m3'"):
        load_register_map(path)


def test_model_must_match_file_name_and_meta_is_required(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text('[meter]\nmodel = "something"\n[[points]]\nname = "a_v"\n'
                    'function = "holding"\naddress = 0\ndata_type = "uint16"\n', encoding="utf-8")
    with pytest.raises(RegisterMapError) as exc:
        load_register_map(path)
    assert "differs from the file name 'other'" in str(exc.value)
    assert "[meter].source is required" in str(exc.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[meter\n", encoding="utf-8")
    with pytest.raises(RegisterMapError, match=r"(?s)broken\.toml.*not valid TOML"):
        load_register_map(path)


def test_user_folder_adds_and_replaces_models(tmp_path):
    _write(tmp_path, """
[[points]]
name = "volume_m3"
function = "holding"
address = 0
data_type = "uint32"
scale = 0.01
unit = "m3"
kind = "counter"
""", model="my_water_meter")
    models = available_models([tmp_path])
    assert models["my_water_meter"] == tmp_path / "my_water_meter.toml"
    regmap = get_register_map("my_water_meter", [tmp_path])
    assert regmap.point("volume_m3").scale == pytest.approx(0.01)
    with pytest.raises(RegisterMapError, match=r"no such model; available: .*chint_dtsu666"):
        get_register_map("my_water_meter")


def test_overrides_move_dtsu666_energy_to_0x401e():
    regmap = get_register_map("chint_dtsu666")
    moved = apply_overrides(regmap, {"energy_import_kwh": PointOverride(address=0x401E)})
    assert moved.point("energy_import_kwh").address == 0x401E
    assert moved.point("energy_import_kwh").data_type is DataType.float32
    assert regmap.point("energy_import_kwh").address == 0x101E  # the library map is unchanged
    other = apply_overrides(regmap, {"energy_import_kwh": {"address": 0x4000, "function": "input",
                                                           "scale": 0.001}})
    p = other.point("energy_import_kwh")
    assert (p.address, p.function, p.scale) == (0x4000, Function.input, 0.001)


def test_override_errors():
    regmap = get_register_map("chint_dtsu666")
    with pytest.raises(RegisterMapError, match="override of unknown point 'energy_kwh'"):
        apply_overrides(regmap, {"energy_kwh": PointOverride(address=1)})
    with pytest.raises(RegisterMapError, match="overlaps voltage_l1_v at 0x2006"):
        apply_overrides(regmap, {"power_w": PointOverride(address=0x2005)})


def test_settings_validation_sees_user_models(tmp_path):
    from jieneng.settings import validate_file

    maps = tmp_path / "maps"
    maps.mkdir()
    _write(maps, """
[[points]]
name = "volume_m3"
function = "holding"
address = 0
data_type = "uint32"
unit = "m3"
kind = "counter"
""", model="my_water_meter")
    config = tmp_path / "jieneng.toml"
    body = """
[site]
name = "t"
province = "shandong"
region_code = "370100"
[collector]
register_map_dirs = ["maps"]
[[gateways]]
id = "gw"
protocol = "tcp"
host = "127.0.0.1"
[[meters]]
id = "w1"
gateway = "gw"
model = "{model}"
institution = "i"
building = "b"
carrier = "water"
subitem = "02000"
"""
    config.write_text(body.format(model="my_water_meter"), encoding="utf-8")
    settings, problems = validate_file(config)
    assert problems == []
    assert get_register_map("my_water_meter", [settings.resolve(d) for d in
                                               settings.collector.register_map_dirs])
    config.write_text(body.format(model="my_water_metre"), encoding="utf-8")
    _, problems = validate_file(config)
    assert len(problems) == 1
    assert "did you mean 'my_water_meter'" in problems[0].expected
