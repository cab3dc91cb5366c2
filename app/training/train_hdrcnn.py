"""Train HDRCNN from scratch on the cached ground-truth HDR set with the virtual camera.

    flock /tmp/lumafuse-train.lock python -m app.training.train_hdrcnn \
        --config app/training/configs/hdrcnn_v3.toml

Writes ``weights/<file>`` (safetensors), its manifest entry (sha256, config, data, steps, seed)
and the loss log ``weights/<loss_log>`` (CSV: step, train loss, validation loss, lr, seconds).
``--smoke`` runs a few steps into ``runs/`` without touching ``weights/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
import tomllib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _data_root(cfg: dict) -> Path:
    env = os.environ.get("LUMAFUSE_DATA")
    root = Path(env) if env else Path(cfg["data"]["root"])
    return root if root.is_absolute() else (REPO / root).resolve()


def train(cfg: dict, *, steps: int | None = None, out_dir: Path | None = None,
          export: bool = True, log=print) -> dict:
    """Run the training described by ``cfg``; returns a summary dict."""
    import torch

    from app.models.hdrcnn_net import ARCH_ID, build_model, count_parameters
    from app.training import hdrcnn_data as data
    from app.training.export import export_weights
    from app.training.hdrcnn_loss import gaussian_kernel, hdrcnn_loss

    tc, dc = cfg["train"], cfg["data"]
    steps = int(steps if steps is not None else tc["steps"])
    import cv2

    torch.set_num_threads(int(tc.get("threads", 1)))
    cv2.setNumThreads(int(tc.get("threads", 1)))
    torch.manual_seed(int(tc["seed"]))
    rng = np.random.default_rng(int(tc["seed"]))

    root = _data_root(cfg)
    cache = REPO / dc["cache"]
    radiance = tuple(dc.get("radiance", ()))
    entries = data.build_cache(root, cache, int(dc["max_side"]), log=log, radiance=radiance)
    # a leave-one-source-out fold: whole sources left out of training (the cache keeps them)
    excluded = tuple(dc.get("exclude", ()))
    if excluded:
        entries = [e for e in entries if e["name"].split("/")[0] not in excluded]
        log(f"left out of training: {', '.join(excluded)}")
    images = data.load_cache(cache, entries)
    how = ", ".join(sorted({e["merge"] for e in entries}))
    log(f"{len(images)} ground-truth HDR images ({how})")

    vrng = np.random.default_rng(int(tc["val_seed"]))
    val_x, val_y = data.sample_batch(images, int(tc["val_crops"]), int(dc["crop"]), vrng)
    val_x, val_y = torch.from_numpy(val_x), torch.from_numpy(val_y)

    model = build_model(width=float(cfg["model"]["width"]))
    log(f"HDRCNN width {cfg['model']['width']}: {count_parameters(model)} parameters")
    opt = torch.optim.Adam(model.parameters(), lr=float(tc["lr"]), betas=(0.9, 0.999), eps=1e-8)
    gamma = (float(tc["lr_final"]) / float(tc["lr"])) ** (1.0 / max(steps, 1))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    kernel = gaussian_kernel()
    lam = float(tc["lambda_ir"])

    def validate() -> float:
        model.eval()
        with torch.no_grad():
            vals = [hdrcnn_loss(model(val_x[i:i + 8]), val_y[i:i + 8], lam, kernel).item()
                    for i in range(0, len(val_x), 8)]
        model.train()
        return float(np.mean(vals))

    out_dir = out_dir or REPO / "weights"
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / cfg["export"]["loss_log"]
    rows = [("step", "train_loss", "val_loss", "lr", "seconds")]
    t0 = time.time()
    val0 = validate()
    rows.append((0, "", f"{val0:.6f}", f"{tc['lr']:.3g}", "0"))
    log(f"step 0 val {val0:.5f}")
    run_loss, n_run, done = 0.0, 0, 0
    deadline = t0 + 60.0 * float(tc.get("max_minutes", 1e9))
    for step in range(1, steps + 1):
        x, y = data.sample_batch(images, int(tc["batch"]), int(dc["crop"]), rng)
        pred = model(torch.from_numpy(x))
        loss = hdrcnn_loss(pred, torch.from_numpy(y), lam, kernel)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run_loss += loss.item()
        n_run += 1
        done = step
        last = step == steps or time.time() > deadline
        if step % int(tc["log_every"]) == 0 or last:
            val = f"{validate():.6f}" if (step % int(tc["val_every"]) == 0 or last) else ""
            lr = opt.param_groups[0]["lr"]
            secs = f"{time.time() - t0:.0f}"
            rows.append((step, f"{run_loss / n_run:.6f}", val, f"{lr:.3g}", secs))
            log(f"step {step} train {run_loss / n_run:.5f} val {val or '-'} lr {lr:.2e} "
                f"{time.time() - t0:.0f}s")
            run_loss, n_run = 0.0, 0
            with open(log_path, "w", newline="") as fh:
                csv.writer(fh).writerows(rows)
        if last:
            break
    final_val = float(rows[-1][2]) if rows[-1][2] else validate()
    summary = {"steps": done, "planned_steps": steps, "seconds": round(time.time() - t0),
               "val_loss_start": round(val0, 6), "val_loss_end": round(final_val, 6),
               "images": len(images)}
    from safetensors.torch import save_file

    ckpt = cache.parent / "hdrcnn_last.safetensors"  # kept in case the export step fails
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    if export:
        merges = sorted({e["merge"] for e in entries})
        n_exr = sum(e["name"].startswith(data.EXR_SET) for e in entries)
        n_pan = sum(e["name"].split("/")[0] in radiance for e in entries)
        data_text = (f"{len(entries)} HDR images: {n_exr} openexr-images (held out for eval: "
                     f"{', '.join(data.EVAL_EXRS)}) + "
                     + (f"{n_pan} radiance maps of {', '.join(radiance)} + " if radiance else "")
                     + f"{len(entries) - n_exr - n_pan} brackets of "
                     f"{' and '.join(data.BRACKET_SETS)} merged by {', '.join(merges)}; "
                     f"virtual camera crops of {dc['crop']} px"
                     + (f"; a leave-one-source-out fold: {', '.join(excluded)} left out"
                        if excluded else ""))
        digest = export_weights(
            cfg["export"]["key"], model.state_dict(),
            {"arch": ARCH_ID, "hparams": {"width": float(cfg["model"]["width"])}},
            {
                "config": cfg.get("_config_name", "app/training/configs/hdrcnn_v3.toml"),
                "config_values": {k: v for k, v in cfg.items() if not k.startswith("_")},
                "data": data_text, "steps": done, "seed": int(tc["seed"]),
                "loss_log": cfg["export"]["loss_log"], "licence": cfg["export"]["licence"],
                "metrics": {"val_loss_start": summary["val_loss_start"],
                            "val_loss_end": summary["val_loss_end"],
                            "train_seconds": summary["seconds"]},
            }, file=cfg["export"]["file"])
        summary["sha256"] = digest
        log(f"exported {cfg['export']['file']} sha256 {digest}")
    log(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "app/training/configs/hdrcnn_v3.toml"))
    ap.add_argument("--steps", type=int, default=None, help="override the number of steps")
    ap.add_argument("--smoke", action="store_true", help="a few steps into runs/, no export")
    ap.add_argument("--weights-dir", type=Path, help="export there instead of weights/")
    args = ap.parse_args(argv)
    cfg = tomllib.loads(Path(args.config).read_text())
    from app.training.export import config_name

    cfg["_config_name"] = config_name(Path(args.config))
    if args.weights_dir:
        from app.models import weights

        weights.WEIGHTS_DIR = args.weights_dir.resolve()
        args.weights_dir.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        train(cfg, steps=args.steps or 20, out_dir=REPO / "runs" / "hdrcnn_smoke", export=False)
    else:
        train(cfg, steps=args.steps, out_dir=args.weights_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
