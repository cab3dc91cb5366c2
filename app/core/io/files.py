"""Which files a bracket is made of: files as given, folders replaced by the images inside.

One rule for the GUI (drops, File > Open) and the command line (``fuse IN...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from app.core.errors import InputError

IMAGE_SUFFIXES = frozenset(
    ".jpg .jpeg .png .tif .tiff .exr .hdr .pic .dng .cr2 .cr3 .nef .arw .raf .orf .rw2 .pef .srw".split()
)


def images_in(folder: Path) -> list[str]:
    """Image files directly inside ``folder`` (by extension, sorted by name; no recursion)."""
    return [str(c) for c in sorted(folder.iterdir())
            if c.is_file() and c.suffix.lower() in IMAGE_SUFFIXES]


def expand_paths(paths: Iterable[str | Path], *, strict: bool = False) -> list[str]:
    """Files as given, folders replaced by the image files inside them (sorted by name).

    strict: a folder without image files raises InputError naming it (the command line);
    otherwise it contributes nothing (the GUI lists what did load)."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            try:
                found = images_in(path)
            except OSError as exc:
                raise InputError(f"{path}: cannot list the folder ({exc.strerror or exc})") from None
            if strict and not found:
                raise InputError(
                    f"{path}: the folder holds no image files "
                    f"({', '.join(sorted(IMAGE_SUFFIXES)[:6])}, ...)"
                )
            out.extend(found)
        else:
            out.append(str(path))
    return out
