"""The window's state as a Recipe and back: File > Save preset / Load preset use the same TOML
files as ``lumafuse batch --preset`` (app.models.preset). Qt widgets are only read or set here;
the recipe itself is validated by app.models.recipe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.models.recipe import OutputOptions, Recipe, make_recipe

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

DEFAULT_BATCH_FORMATS = ("tif",)


def window_recipe(window: "MainWindow", formats: tuple[str, ...] = DEFAULT_BATCH_FORMATS) -> Recipe:
    """The method, its parameters, alignment and tone settings shown in the window."""
    params = window.method.params()
    # a bool switch would be the recipe's deghost flag; an "auto" / "on" / "off" choice (every
    # method with deghosting now) stays a parameter (bool("off") would read as on)
    deghost = bool(params.pop("deghost")) if isinstance(params.get("deghost"), bool) else False
    return make_recipe(window.method.method_id(), params, align=window.method.align_mode(),
                       deghost=deghost, tone=window.tone.params(),
                       output=OutputOptions(formats=formats))


def apply_recipe(window: "MainWindow", recipe: Recipe) -> list[str]:
    """Show a recipe in the panels (method, parameters, alignment, tone); returns what could
    not be applied (e.g. a method that cannot run on the loaded bracket), for the message."""
    problems: list[str] = []
    if recipe.method != "auto":
        if not window.method.set_method(recipe.method):
            problems.append(f"{recipe.method} cannot run on this bracket")
        else:
            values = dict(recipe.params)
            if recipe.deghost:
                spec = window.method.spec()
                values["deghost"] = "on" if spec.param("deghost").type is str else True
            window.method.form.set_values(values)
    window.method.set_align_mode(recipe.align)
    window.tone.set_params(recipe.tone)
    return problems


def preset_filter() -> str:
    return "Lumafuse preset (*.toml)"


def default_preset_path(folder: str) -> Path:
    return Path(folder) / "lumafuse-preset.toml"
