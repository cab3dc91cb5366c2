"""Session files (File > Save session / Open session, ``*.lumafuse``): the bracket's files in
the strip's order with any typed exposures, and the recipe (method, parameters, alignment,
deghosting, tone and look) in the preset format. TOML, so a person can read and edit it.

Paths are stored absolute and relative to the session file; on opening, the relative one is
tried first (a session moved together with its photos still opens). Masks: the app has no
mask tools yet, so there are none to store.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import InputError
from app.models.preset import recipe_from_dict, recipe_to_dict
from app.models.recipe import Recipe

SESSION_VERSION = 1
SUFFIX = ".lumafuse"


@dataclass(frozen=True)
class SessionFrame:
    """A file of the bracket and the exposure typed for it (None: EXIF or estimated)."""

    path: str
    exposure: float | None = None  # relative exposure as typed (seconds-equivalent)
    ev: float | None = None  # the EV as typed, when an EV was typed
    half: str = ""  # "top" / "bottom" of a file holding two stacked exposures, else ""


@dataclass(frozen=True)
class Session:
    frames: tuple[SessionFrame, ...]
    recipe: Recipe


def session_text(session: Session, where: Path) -> str:
    import tomli_w

    doc: dict[str, Any] = {"lumafuse": {"session": SESSION_VERSION}}
    rows = []
    for f in session.frames:
        row: dict[str, Any] = {"path": str(Path(f.path).resolve())}
        try:
            row["relative"] = os.path.relpath(Path(f.path).resolve(), where.resolve().parent)
        except ValueError:  # another drive (Windows): absolute only
            pass
        if f.exposure is not None:
            row["exposure"] = f.exposure
        if f.ev is not None:
            row["ev"] = f.ev
        if f.half:
            row["half"] = f.half
        rows.append(row)
    doc["frames"] = rows
    recipe = recipe_to_dict(session.recipe)
    recipe.pop("lumafuse", None)
    recipe.pop("output", None)  # a session is about the picture; exports are chosen per export
    doc.update(recipe)
    return "# Lumafuse session\n" + tomli_w.dumps(doc)


def save_session(path: str | os.PathLike[str], session: Session) -> Path:
    """Write the session atomically; InputError naming the file on failure."""
    p = Path(path)
    if p.suffix != SUFFIX:
        p = p.with_name(p.name + SUFFIX)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(session_text(session, p), encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write the session ({exc.strerror or exc})") from None
    return p


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read a session; InputError naming the file (and a missing photo) on any problem."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: session file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the session ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not a valid session file ({exc})") from None
    version = doc.pop("lumafuse", {}).get("session")
    if version != SESSION_VERSION:
        raise InputError(f"{p}: not a Lumafuse session (version {version!r})")
    rows = doc.pop("frames", [])
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{p}: the session lists no photos")
    frames = []
    for row in rows:
        if not isinstance(row, dict) or "path" not in row:
            raise InputError(f"{p}: a [[frames]] entry has no path")
        candidates = [p.parent / row["relative"]] if "relative" in row else []
        candidates.append(Path(row["path"]))
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(f"{p}: photo {row['path']} is missing")
        half = row.get("half", "")
        if half not in ("", "top", "bottom"):
            raise InputError(f"{p}: half must be 'top' or 'bottom', got {half!r}")
        frames.append(SessionFrame(str(found), _opt(row, "exposure"), _opt(row, "ev"), half))
    return Session(tuple(frames), recipe_from_dict(doc, str(p)))


def _opt(row: dict, key: str) -> float | None:
    value = row.get(key)
    return None if value is None else float(value)
