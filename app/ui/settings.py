"""Persistent settings (QSettings): last folder, window geometry, tone defaults, recent files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from app.core.types import Look, ToneParams

ORGANISATION = "Lumafuse"
APPLICATION = "Lumafuse"
MAX_RECENT = 10


class Settings:
    """Typed access to QSettings; every getter tolerates missing or corrupt values."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings or QSettings(ORGANISATION, APPLICATION)

    # last folder
    def last_folder(self) -> str:
        folder = str(self.q.value("last_folder", "") or "")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def set_last_folder(self, folder: str | Path) -> None:
        self.q.setValue("last_folder", str(folder))

    # geometry
    def geometry(self) -> QByteArray | None:
        value = self.q.value("geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, data: QByteArray) -> None:
        self.q.setValue("geometry", data)

    # tone defaults
    def tone_defaults(self) -> ToneParams:
        raw = self.q.value("tone_defaults", "")
        try:
            data = json.loads(str(raw)) if raw else {}
            look = data.pop("look", None) or {}
            look["curve"] = tuple(tuple(p) for p in look.get("curve", ()))
            return ToneParams(look=Look(**{k: v for k, v in look.items()
                                           if k in Look.__dataclass_fields__}),
                              **{k: v for k, v in data.items()
                                 if k in ToneParams.__dataclass_fields__})
        except (ValueError, TypeError):
            return ToneParams()

    def set_tone_defaults(self, tone: ToneParams) -> None:
        data = asdict(tone)
        data["tmo_params"] = dict(tone.tmo_params)
        self.q.setValue("tone_defaults", json.dumps(data))

    # presets: the user's folder (File > Save preset offers it; the preset strip lists it)
    def preset_folder(self) -> Path:
        folder = str(self.q.value("preset_folder", "") or "")
        if folder:
            return Path(folder)
        return Path(self.q.fileName()).parent / "presets"

    def set_preset_folder(self, folder: str | Path) -> None:
        self.q.setValue("preset_folder", str(folder))

    # recent files (each entry: the list of files of one bracket, newest first)
    def recent(self) -> list[list[str]]:
        raw = self.q.value("recent", "")
        try:
            items = json.loads(str(raw)) if raw else []
        except ValueError:
            return []
        return [list(map(str, i)) for i in items if isinstance(i, list) and i][:MAX_RECENT]

    def add_recent(self, paths: list[str]) -> None:
        entry = [str(p) for p in paths]
        items = [i for i in self.recent() if i != entry]
        self.q.setValue("recent", json.dumps([entry, *items][:MAX_RECENT]))

    def sync(self) -> None:
        self.q.sync()
