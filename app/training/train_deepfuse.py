"""Train DeepFuse with the MEF-SSIM loss and export it.

    python -m app.training.train_deepfuse --config app/training/configs/deepfuse_v2.toml

Options: ``--hold-out SOURCE...`` trains one leave-one-source-out fold (``app.bench.deepfuse``); ``--steps N`` / ``--max-minutes M`` override the config (smoke runs), ``--weights-dir D``
writes the file and manifest elsewhere (default: the repository's weights/ folder).
The loss curve (step, loss, MEF-SSIM, lr, seconds) goes to a CSV next to the weights.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from app.models import deepfuse
from app.training.deepfuse_data import PairSampler, load_stacks, train_scenes, virtual_stacks
from app.training.export import export_weights, run_fields, training_command
from app.training.losses import mef_ssim_loss

REPO = Path(__file__).resolve().parents[2]


@torch.no_grad()
def prior_mean(model: torch.nn.Module, ys: torch.Tensor) -> torch.Tensor:
    """Mean fused luma per crop (B,) of the untrained network: the well-exposedness blend."""
    import torch.nn.functional as F

    small = F.avg_pool2d(ys, model.down)
    w = torch.softmax(-((small - 0.5) ** 2) / (2 * model.prior_sigma**2), dim=1)
    w = F.interpolate(w, size=ys.shape[-2:], mode="bilinear", align_corners=False)
    return deepfuse.pyramid_blend(ys, w).clamp(0.0, 1.0).mean((1, 2, 3))


def train(
    cfg: dict, *, steps: int | None = None, max_minutes: float | None = None,
    log_path: Path | None = None, stacks: list | None = None, verbose: bool = True,
    hold_out: tuple[str, ...] = (),
) -> tuple[torch.nn.Module, dict]:
    """Train from ``cfg`` (the parsed TOML). Returns (model, summary dict)."""
    tr, dc = cfg["train"], cfg["data"]
    seed = int(tr.get("seed", 0))
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(int(tr.get("threads", 2)))
    scenes: list = []
    if stacks is None:
        root = Path(dc["root"])
        root = root if root.is_absolute() else (REPO / root).resolve()
        scenes = train_scenes(root, dc["sources"], any_usage=bool(dc.get("any_usage", False)),
                              hold_out=hold_out)
        stacks = load_stacks(root, scenes)
        radiance = [r for r in dc.get("radiance", []) if r not in hold_out]
        if radiance:
            virtual = virtual_stacks(root, radiance, seeds=range(int(dc.get("virtual_seeds", 1))))
            scenes = scenes + [{"id": f"virtual:{r}"} for r in radiance]
            stacks = stacks + virtual
    sampler = PairSampler(
        stacks, crop=int(dc.get("crop", 256)), p_extremes=float(dc.get("p_extremes", 0.5)),
        scale_range=(float(dc.get("scale_min", 0.6)), float(dc.get("scale_max", 1.0))), seed=seed,
    )
    model = deepfuse.build_model(**cfg.get("model", {}))
    n_steps = int(steps if steps is not None else tr["steps"])
    limit_s = 60.0 * float(max_minutes if max_minutes is not None else tr.get("max_minutes", 1e9))
    lr0, lr1 = float(tr["lr"]), float(tr.get("lr_final", tr["lr"]))
    opt = torch.optim.Adam(model.parameters(), lr=lr0)
    batch, log_every = int(tr.get("batch", 6)), int(tr.get("log_every", 10))
    lum_weight = float(tr.get("lum_weight", 0.0))
    rows: list[tuple] = []
    t0 = time.perf_counter()
    done, avg = 0, None
    log = open(log_path, "w", encoding="utf-8") if log_path else None
    if log:
        log.write("step,loss,mef_ssim,lr,seconds\n")
    try:
        for step in range(1, n_steps + 1):
            # cosine decay over the run; on a busy machine the wall-clock limit may come first,
            # so progress is the larger of the step and time fractions (the log records both)
            prog = max((step - 1) / max(1, n_steps), (time.perf_counter() - t0) / limit_s)
            lr = lr1 + 0.5 * (lr0 - lr1) * (1 + math.cos(math.pi * min(1.0, prog)))
            for g in opt.param_groups:
                g["lr"] = lr
            ys = torch.from_numpy(sampler.batch(batch))
            fused = deepfuse.fuse_y_train(model, ys)
            loss = ms_loss = mef_ssim_loss(ys, fused)
            if lum_weight > 0:  # keep each crop's mean brightness near the prior's blend
                loss = loss + lum_weight * ((fused.mean((1, 2, 3)) - prior_mean(model, ys)) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done = step
            value = float(loss.detach())
            avg = value if avg is None else 0.95 * avg + 0.05 * value
            if step % log_every == 0 or step == 1:
                el = time.perf_counter() - t0
                ms = 1.0 - float(ms_loss.detach())  # the batch's MEF-SSIM without the anchor term
                rows.append((step, value, ms, lr, el))
                if log:
                    log.write(f"{step},{value:.6f},{ms:.6f},{lr:.3e},{el:.1f}\n")
                    log.flush()
                if verbose:
                    print(f"step {step}/{n_steps} loss {value:.4f} (ema {avg:.4f}) lr {lr:.2e} "
                          f"{el:.0f}s", flush=True)
            if time.perf_counter() - t0 > limit_s:
                print(f"time limit reached after {step} steps", flush=True)
                break
    finally:
        if log:
            log.close()
    summary = {
        "stacks": len(stacks), "hold_out": list(hold_out), "steps": done, "seed": seed,
        "seconds": round(time.perf_counter() - t0, 1),
        "final_loss_ema": round(avg or float("nan"), 5), "scenes": [s["id"] for s in scenes],
    }
    return model.eval(), summary


def main(argv: list[str] | None = None) -> int:
    args, cfg, wdir = training_command(__doc__, argv, hold_out=True)
    ex = cfg["export"]
    log_path = wdir / ex["loss_log"]
    hold_out = tuple(args.hold_out)
    model, summary = train(cfg, steps=args.steps, max_minutes=args.max_minutes, log_path=log_path,
                           hold_out=hold_out)
    dc = cfg["data"]
    sources = [s for s in dc["sources"] if s not in hold_out]
    radiance = [r for r in dc.get("radiance", []) if r not in hold_out]
    if dc.get("any_usage"):
        data = (f"../shared/data static-mef stacks of {', '.join(sources)} (every usage)"
                + (f" + virtual-camera 9-frame 1 EV brackets of the radiance maps of "
                   f"{', '.join(radiance)}" if radiance else "")
                + f": {summary['stacks']} stacks"
                + (f"; held out: {', '.join(hold_out)}" if hold_out else ""))
    else:
        data = ("../shared/data usage=train: " + ", ".join(sources)
                + f" ({summary['stacks']} stacks; MEFB-benchmark scenes excluded)")
    hp = {**deepfuse.DEFAULT_HPARAMS, **cfg.get("model", {})}
    digest = export_weights(
        ex["key"], model.state_dict(), {"arch": deepfuse.ARCH, "hparams": hp},
        {**run_fields(args.config, ex, summary, model), "data": data, "hold_out": list(hold_out)},
        file=ex["file"],
    )
    print(f"exported {wdir / ex['file']} sha256 {digest} after {summary['steps']} steps "
          f"({summary['seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
