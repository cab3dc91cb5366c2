"""Session files (File > Save session / Open session, ``*.lumafuse``): the bracket's files in
the strip's order with any typed exposures, and the recipe (method, parameters, alignment,
deghosting, tone and look) in the preset format. TOML, so a person can read and edit it.

Paths are stored absolute and relative to the session file; on opening, the relative one is
tried first (a session moved together with its photos still opens). Deghosting: the reference
frame (1-based, in the strip's order; absent = the default, the middle frame) and the painted
strokes of the selective-deghost mask, in an optional ``[deghost]`` table::

    [deghost]
    reference = 2
    [[deghost.strokes]]
    radius = 0.04          # share of the picture's long side
    erase = false
    points = [[0.31, 0.52], [0.33, 0.55]]   # (x, y) shares of width / height

Sessions written before deghosting have no such table and open with the defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import InputError
from app.core.merge.ghost import Stroke
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
    reference: int | None = None  # 0-based index into ``frames``; None = the default
    strokes: tuple[Stroke, ...] = ()


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
    deghost: dict[str, Any] = {}
    if session.reference is not None:
        deghost["reference"] = int(session.reference) + 1
    if session.strokes:
        deghost["strokes"] = [{"radius": float(r), "erase": bool(e),
                               "points": [[float(x), float(y)] for x, y in pts]}
                              for r, pts, e in session.strokes]
    if deghost:
        doc["deghost"] = deghost
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
    deghost = doc.pop("deghost", {})
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
    reference, strokes = _deghost(deghost, len(frames), p)
    return Session(tuple(frames), recipe_from_dict(doc, str(p)), reference, strokes)


def _deghost(table: Any, n_frames: int, p: Path) -> tuple[int | None, tuple[Stroke, ...]]:
    """The [deghost] table's reference (0-based) and strokes, checked."""
    if not isinstance(table, dict):
        raise InputError(f"{p}: [deghost] must be a table")
    unknown = set(table) - {"reference", "strokes"}
    if unknown:
        raise InputError(f"{p}: [deghost] has no key {sorted(unknown)[0]!r} "
                         "(valid: reference, strokes)")
    reference = None
    if "reference" in table:
        ref = table["reference"]
        if isinstance(ref, bool) or not isinstance(ref, int) or not 1 <= ref <= n_frames:
            raise InputError(f"{p}: the reference frame must be 1 to {n_frames}, got {ref!r}")
        reference = ref - 1
    strokes = []
    rows = table.get("strokes", [])
    if not isinstance(rows, list):
        raise InputError(f"{p}: deghost strokes must be a list of tables")
    for row in rows:
        try:
            radius = float(row["radius"])
            points = tuple((float(x), float(y)) for x, y in row["points"])
            erase = row.get("erase", False)
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{p}: a [[deghost.strokes]] entry needs a radius and points "
                             "[[x, y], ...]") from None
        if not 0 < radius <= 1 or not points or not isinstance(erase, bool):
            raise InputError(f"{p}: a deghost stroke needs a radius in (0, 1], points and "
                             "erase = true/false")
        strokes.append((radius, points, erase))
    return reference, tuple(strokes)


def _opt(row: dict, key: str) -> float | None:
    value = row.get(key)
    return None if value is None else float(value)
