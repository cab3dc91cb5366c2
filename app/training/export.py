"""Export trained weights: safetensors file + weights manifest entry (any learned method).

Thin, generic layer over :func:`app.models.weights.export` (which owns the file and manifest
format): ``metadata`` must carry ``arch`` and ``hparams`` (written into the file header);
``manifest_entry`` holds the rest (config, data, steps, seed, metrics, licence, loss_log, ...).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any, Mapping

from app.models import weights

REPO = Path(__file__).resolve().parents[2]


def config_name(path: Path) -> str:
    """The config file as the manifest names it: relative to the repository when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(path)


def training_command(
    doc: str, argv: list[str] | None, *, hold_out: bool = False,
) -> tuple[argparse.Namespace, dict, Path]:
    """The common command line of a training script (``--config``, ``--steps``,
    ``--max-minutes``, ``--weights-dir``; ``--hold-out SOURCE...`` where the script supports a
    leave-one-source-out fold): (arguments, parsed config, weights folder, created;
    ``--weights-dir`` redirects the export and its manifest there)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--max-minutes", type=float)
    ap.add_argument("--weights-dir", type=Path)
    if hold_out:
        ap.add_argument("--hold-out", nargs="+", default=[], metavar="SOURCE",
                        help="leave these data sources out of training (a cross-validation fold)")
    args = ap.parse_args(argv)
    cfg = tomllib.loads(args.config.read_text())
    if args.weights_dir:
        weights.WEIGHTS_DIR = args.weights_dir.resolve()
    wdir = Path(weights.WEIGHTS_DIR)
    wdir.mkdir(parents=True, exist_ok=True)
    return args, cfg, wdir


def export_weights(
    key: str,
    state_dict: Mapping[str, Any],
    metadata: Mapping[str, Any],
    manifest_entry: Mapping[str, Any],
    *,
    file: str | None = None,
) -> str:
    """Write ``weights/<file or key.safetensors>`` and its manifest entry; returns the sha256.

    metadata: {"arch": str, "hparams": dict} (the build_model keyword arguments).
    Other engineers' manifest entries are kept (weights.export rewrites only ``key``).
    """
    if "arch" not in metadata or "hparams" not in metadata:
        raise ValueError("metadata needs 'arch' and 'hparams'")
    return weights.export(
        key, state_dict, arch=str(metadata["arch"]), hparams=dict(metadata["hparams"]),
        file=file, manifest_fields=dict(manifest_entry),
    )


def run_fields(config: Path, export: Mapping[str, Any], summary: Mapping[str, Any],
               model: Any) -> dict[str, Any]:
    """The manifest fields every training run records the same way: config, steps, seed,
    seconds, final loss (EMA), loss log, licence and the parameter count."""
    return {
        "config": config_name(config), "steps": summary["steps"], "seed": summary["seed"],
        "train_seconds": summary["seconds"], "final_loss_ema": summary["final_loss_ema"],
        "loss_log": export["loss_log"], "licence": export.get("licence", ""),
        "params": sum(p.numel() for p in model.parameters()),
    }


def update_manifest_fields(key: str, fields: Mapping[str, Any]) -> None:
    """Merge ``fields`` into the existing manifest entry of ``key`` (e.g. eval scores added by a
    benchmark later); file and sha256 are never touched here."""
    import json
    import os

    data = dict(weights.read_manifest())
    if key not in data:
        raise KeyError(f"no manifest entry {key!r}")
    protected = {"file", "sha256", "arch"}
    data[key] = {**data[key], **{k: v for k, v in fields.items() if k not in protected}}
    path = weights.manifest_path()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
