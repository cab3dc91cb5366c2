"""Recipes and preset files: validated once, round trip exactly, refuse typos with the reason."""

from __future__ import annotations

import pytest

from app.core.errors import InputError
from app.core.types import Look, ToneParams
from app.models.preset import load_preset, preset_text, recipe_from_dict, save_preset
from app.models.recipe import OutputOptions, make_recipe


def _rich_recipe():
    return make_recipe(
        "debevec", {"samples": "120"}, align="homography", deghost=True,
        tone=ToneParams(exposure_ev=0.5, gamma=0.0, tmo="drago", tmo_params={"bias": 0.8},
                        saturation=1.2, temperature=3400.0, tint=5.0,
                        look=Look(contrast=20.0, clarity=10.0, curve=((0.25, 0.2), (0.7, 0.8)))),
        output=OutputOptions(formats=("exr", "tiff"), naming="{group}_{first}.{ext}",
                             bit_depth=16, quality=90, half=False),
    )


def test_preset_round_trip_is_exact(tmp_path):
    recipe = _rich_recipe()
    path = save_preset(tmp_path / "look.toml", recipe)
    again = load_preset(path)
    assert again == recipe
    assert again.params == {"samples": 120} and again.output.formats == ("exr", "tif")
    assert "[method]" in path.read_text() and 'tmo = "drago"' in path.read_text()
    assert again.tone.temperature == 3400.0 and again.tone.tint == 5.0
    assert again.tone.look.curve == ((0.25, 0.2), (0.7, 0.8)) and again.tone.look.clarity == 10


def test_recipe_fixes_the_method_per_bracket_size():
    auto = make_recipe()
    assert auto.method_for(3) == "mertens"
    fixed = make_recipe("debevec", deghost=True).for_inputs(3)
    assert fixed.method == "debevec" and fixed.params["deghost"] == "on"
    assert fixed.params["samples"] == 70  # the default, resolved
    names = _rich_recipe().output_names(["/a/IMG_1.JPG", "/a/IMG_2.JPG"], group=7)
    assert names == ["007_IMG_1.exr", "007_IMG_1.tif"]


@pytest.mark.parametrize("doc, fragment", [
    ({"method": {"id": "nope"}}, "nope"),
    ({"method": {"id": "mertens", "params": {"contrast": 9}}}, "contrast"),
    ({"method": {"id": "deepfuse", "deghost": True}}, "deghost"),
    ({"tone": {"tmo": "reinhard", "params": {"bias": 1}}}, "bias"),
    ({"tone": {"gamma": "x"}}, "gamma"),
    ({"tone": {"saturation": 9}}, "saturation"),
    ({"tone": {"temperature": 800}}, "temperature"),
    ({"tone": {"look": {"contrast": 300}}}, "contrast"),
    ({"tone": {"look": {"sharpness": 3}}}, "sharpness"),
    ({"output": {"formats": ["gif"]}}, "gif"),
    ({"output": {"formats": ["jpg"], "bit_depth": 16}}, "JPEG"),
    ({"output": {"naming": "{first}_{nope}.{ext}"}}, "{nope}"),
    ({"output": {"formats": ["exr", "tif"], "naming": "{first}"}}, "{ext}"),
    ({"outputs": {}}, "[outputs]"),
    ({"tone": {"exposure": 1}}, "exposure"),
    ({"lumafuse": {"preset": 99}}, "version"),
])
def test_bad_presets_are_refused_naming_the_problem(doc, fragment):
    with pytest.raises(InputError) as err:
        recipe_from_dict(doc, "look.toml")
    assert "look.toml" in str(err.value) and fragment in str(err.value)


def test_unreadable_preset_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_preset(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[method\nid = 1")
    with pytest.raises(InputError, match="not a valid TOML"):
        load_preset(bad)


def test_preset_text_loads_back_with_defaults_for_missing_keys(tmp_path):
    path = tmp_path / "min.toml"
    path.write_text('[method]\nid = "mertens"\n')
    recipe = load_preset(path)
    assert recipe == make_recipe("mertens")
    assert "# Lumafuse preset" in preset_text(recipe)


@pytest.mark.parametrize("given, expected", [(True, "on"), (False, "off"), ("true", "on"),
                                             ("no", "off"), ("auto", "auto"), ("on", "on")])
def test_hdr_deghost_switch_reads_the_old_bool(given, expected):
    """debevec / robertson's deghost became auto / on / off: presets and scripts that said
    true / false keep their meaning; anything else is refused with the choices."""
    for method in ("debevec", "robertson"):
        fixed = make_recipe(method, {"deghost": given}).for_inputs(3)
        assert fixed.params["deghost"] == expected
    with pytest.raises(InputError, match="auto, on, off"):
        make_recipe("debevec", {"deghost": "maybe"}).for_inputs(3)
