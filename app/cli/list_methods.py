"""``list-methods``: the registry as a table (stdout) or JSON (``--json``), with availability.

Listing loads nothing heavy: availability checks importability and the weights manifest only,
so it works (and is fast) without torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.core.progress import TaskContext


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list-methods",
        help="list the registered methods and whether they can run here",
        description="List every registered method: id, title, kind, output kind, exposure "
        "count, availability (with the reason when unavailable) and its parameters.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.set_defaults(handler=run_list, needs_ctx=False)


def _param_dict(p) -> dict[str, Any]:
    return {
        "name": p.name,
        "type": p.type.__name__,
        "default": p.default,
        "minimum": p.minimum,
        "maximum": p.maximum,
        "choices": list(p.choices) if p.choices is not None else None,
        "help": p.help,
    }


def describe_methods() -> list[dict[str, Any]]:
    """One JSON-ready dict per registered method, in registry order."""
    from app.models.registry import METHODS, availability

    out = []
    for m in METHODS:
        ok, reason = availability(m)
        out.append(
            {
                "id": m.id,
                "title": m.title,
                "kind": m.kind,
                "output": m.output.value,
                "exposures": m.exposure_range_text(),
                "min_exposures": m.min_exposures,
                "max_exposures": m.max_exposures,
                "needs_times": m.needs_times,
                "available": ok,
                "reason": reason,
                "description": m.description,
                "citation": m.citation,
                "params": [_param_dict(p) for p in m.params],
            }
        )
    return out


def _tone_operators() -> list[str]:
    from app.core.tonemap import OPERATORS

    return sorted(OPERATORS)


def run_list(args: argparse.Namespace, ctx: TaskContext | None = None) -> int:
    methods = describe_methods()
    if args.json:
        json.dump({"methods": methods, "tone_operators": _tone_operators()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    rows = [("ID", "TITLE", "KIND", "OUTPUT", "EXPOSURES", "AVAILABLE")]
    for m in methods:
        avail = "yes" if m["available"] else f"no: {m['reason']}"
        rows.append((m["id"], m["title"], m["kind"], m["output"], m["exposures"], avail))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] + "\n")
    sys.stdout.write("\nParameters (--param NAME=VALUE):\n")
    for m in methods:
        parts = [f"{p['name']}={p['default']}" for p in m["params"]] or ["(none)"]
        sys.stdout.write(f"  {m['id']}: {' '.join(parts)}\n")
    sys.stdout.write(f"\nTone-mapping operators (--tmo): {', '.join(_tone_operators())}\n")
    return 0
