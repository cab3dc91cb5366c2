"""Train ESBN (alignment + merging networks, end to end) and export it.

    python -m app.training.train_esbn --config app/training/configs/esbn.toml

Loss (methods.md 4.5): L1 between the mu-law (mu = 5000) tone-mapped output and truth, plus
``align_weight`` x the MSE of each alignment network against its target (the truth scene as
the same camera photographs it at that exposure). The paper trains the parts separately; here
they train together from the start (one session, one run) with both losses, which the paper's
README names as its final stage. Validation every ``val_every`` steps on brackets whose
backgrounds are training maps held out of the patches (never the evaluation maps); the best
checkpoint is exported. The loss log (step, loss, merge, align, val PSNR-mu, lr, seconds) goes
next to the weights. ``--steps`` / ``--max-minutes`` override the config (smoke runs),
``--weights-dir`` writes elsewhere.

Fine-tuning for the product's hand-over (v4, ``esbn_focus.toml``): the shipped ``esbn`` uses the
networks' radiance only where something moved and the reference frame is clipped or near black
(:func:`app.models.esbn.with_merge_outside_motion`); elsewhere the classical merge is better.
``[train] init`` starts from trained weights, ``focus`` = lambda weights the merge loss by
``1 + lambda * poorly_exposed(reference) * moved`` (``moved``: where the low or high frame
differs from its static target, i.e. objects and shake), and with ``select = "focus"`` the
checkpoint is chosen by PSNR-mu on those pixels of the validation brackets.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import numpy as np
import torch

from app.bench import dynamic_brackets as db
from app.core.metrics import psnr_mu
from app.core.metrics.psnr import MU, mu_law
from app.models import esbn_net
from app.models.esbn import poorly_exposed_level
from app.training.esbn_data import PatchSampler, make_pool
from app.training.export import export_weights, run_fields, training_command

REPO = Path(__file__).resolve().parents[2]


def focus_map(ldr: np.ndarray, aligned: np.ndarray) -> np.ndarray:
    """Where the hand-over uses the networks, as a soft [0, 1] map: (n, 1, P, P) from ``ldr``
    (n, 3, 3, P, P) and ``aligned`` (n, 2, 3, P, P), both [-1, 1]. The reference (ldr[:, 1]) is
    near clipping (brightest channel above 0.85..0.95 in display units) or near black (mean
    below 0.08..0.02; ``app.models.esbn.poorly_exposed_level``, as the hand-over), and the low
    or high frame differs from its static target by more than 0.02..0.06 (mean over channels,
    display units)."""
    ref = (ldr[:, 1] + 1.0) * 0.5
    poor = poorly_exposed_level(ref.max(axis=1), ref.mean(axis=1))
    diff = np.abs(ldr[:, [0, 2]] - aligned).mean(axis=2).max(axis=1) * 0.5
    moved = np.clip((diff - 0.02) / 0.04, 0.0, 1.0)
    return (poor * moved)[:, None].astype(np.float32)


def _tensors(batch) -> tuple[torch.Tensor, ...]:
    ldr, aligned, hdr, times, table = (torch.from_numpy(np.ascontiguousarray(a)) for a in batch)
    return ldr[:, 0], ldr[:, 1], ldr[:, 2], times, table, aligned[:, 0], aligned[:, 1], hdr


@torch.no_grad()
def validate(model: esbn_net.ESBN, pool, focus: bool = False) -> float:
    """Mean PSNR-mu (truth normalised by its maximum, as app.core.metrics) over whole brackets;
    ``focus``: over the pixels of :func:`focus_map` (> 0.5) of all brackets together."""
    model.eval()
    scores = []
    err, count = 0.0, 0
    for s in pool:
        ldr = torch.from_numpy(s.ldr.astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)
        t = torch.from_numpy(s.times)[None]
        _, _, o = model(ldr[0:1], ldr[1:2], ldr[2:3], t, torch.from_numpy(s.table)[None])
        h = model.radiance(o)[0].permute(1, 2, 0).numpy()
        truth = s.hdr.astype(np.float32)
        if focus:
            tgt = np.transpose(s.aligned.astype(np.float32) / 127.5 - 1, (0, 3, 1, 2))[None]
            m = focus_map(ldr.numpy()[None], tgt)[0, 0] > 0.5
            if m.any():
                peak = max(float(truth.max()), 1e-6)
                mu = np.float32(MU)
                tm_h = mu_law(np.clip(h / peak, 0, 1), mu)
                tm_t = mu_law(np.clip(truth / peak, 0, 1), mu)
                err += float(((tm_h - tm_t)[m] ** 2).sum())
                count += int(m.sum()) * 3
        elif truth.max() > 0:
            scores.append(psnr_mu(truth, h))
    model.train()
    if focus:
        return float(10 * np.log10(1.0 / max(err / max(count, 1), 1e-12)))
    return float(np.mean(scores))


def train(cfg: dict, *, steps: int | None = None, max_minutes: float | None = None,
          log_path: Path | None = None, verbose: bool = True) -> tuple[esbn_net.ESBN, dict]:
    tr, dc = cfg["train"], cfg["data"]
    seed = int(tr.get("seed", 0))
    torch.manual_seed(seed)
    torch.set_num_threads(int(tr.get("threads", 2)))
    root = Path(dc["root"])
    root = root if root.is_absolute() else (REPO / root).resolve()
    paths = db.list_radiance_maps(dc["sources"], root)
    val_names = set(dc["val_maps"])
    train_paths = [p for p in paths if p.stem not in val_names]
    val_paths = [p for p in paths if p.stem in val_names]
    size = (int(dc["width"]), int(dc["height"]))
    t0 = time.perf_counter()
    tables = cfg.get("model", {}).get("linearise", "gamma") == "response"
    pool = make_pool(train_paths, int(dc["brackets"]), seed=seed, size=size, tables=tables)
    val_pool = make_pool(val_paths, int(dc["val_brackets"]), seed=seed + 1, size=size,
                         object_paths=train_paths, tables=tables)
    if verbose:
        print(f"data: {len(pool)} training brackets from {len(train_paths)} maps, "
              f"{len(val_pool)} validation brackets from {sorted(val_names)} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    sampler = PatchSampler(pool, int(dc["patch"]), seed)
    model = esbn_net.build_model(**cfg.get("model", {}))
    if tr.get("init"):
        from safetensors.torch import load_file

        init = Path(tr["init"])
        model.load_state_dict(load_file(str(init if init.is_absolute() else REPO / init)))
    focus_w = float(tr.get("focus", 0.0))
    by_focus = str(tr.get("select", "whole")) == "focus"
    n_steps = int(steps if steps is not None else tr["steps"])
    limit_s = 60.0 * float(max_minutes if max_minutes is not None else tr.get("max_minutes", 1e9))
    lr0, lr1 = float(tr["lr"]), float(tr.get("lr_final", tr["lr"]))
    opt = torch.optim.Adam(model.parameters(), lr=lr0)
    batch, log_every = int(tr["batch"]), int(tr.get("log_every", 20))
    val_every, align_w = int(tr.get("val_every", 500)), float(tr.get("align_weight", 1.0))
    best, best_state, best_step, avg, done = -1e9, None, 0, None, 0
    if tr.get("init") and verbose:
        print(f"initial val PSNR-mu ({'focus' if by_focus else 'whole'}) "
              f"{validate(model, val_pool, focus=by_focus):.3f}", flush=True)
    t_train = time.perf_counter()
    log = open(log_path, "w", encoding="utf-8") if log_path else None
    if log:
        log.write("step,loss,merge,align,val_psnr_mu,lr,seconds\n")
    try:
        for step in range(1, n_steps + 1):
            el = time.perf_counter() - t_train
            prog = max((step - 1) / max(1, n_steps), el / limit_s)
            lr = lr1 + 0.5 * (lr0 - lr1) * (1 + math.cos(math.pi * min(1.0, prog)))
            for g in opt.param_groups:
                g["lr"] = lr
            arrays = sampler.batch(batch)
            low, mid, high, times, table, t_low, t_high, hdr = _tensors(arrays)
            a_low, a_high, o = model(low, mid, high, times, table)
            l1 = (model.tone_mapped(o) - esbn_net.mu_law(hdr)).abs()
            if focus_w > 0:
                weight = 1.0 + focus_w * torch.from_numpy(focus_map(arrays[0], arrays[1]))
                merge = (l1 * weight).sum() / (weight.sum() * l1.shape[1])
            else:
                merge = l1.mean()
            align = ((a_low - t_low) ** 2).mean() + ((a_high - t_high) ** 2).mean()
            loss = merge + align_w * align
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done = step
            value = float(loss.detach())
            avg = value if avg is None else 0.95 * avg + 0.05 * value
            last = step == n_steps or time.perf_counter() - t_train > limit_s
            val = float("nan")
            if step % val_every == 0 or last:
                val = validate(model, val_pool, focus=by_focus)
                if val > best:
                    best, best_step = val, step
                    best_state = copy.deepcopy(model.state_dict())
            if step % log_every == 0 or step == 1 or not math.isnan(val):
                el = time.perf_counter() - t_train
                merge, align = merge.detach(), align.detach()
                if log:
                    log.write(f"{step},{value:.5f},{float(merge):.5f},{float(align):.5f},"
                              f"{val:.3f},{lr:.3e},{el:.1f}\n")
                    log.flush()
                if verbose:
                    print(f"step {step}/{n_steps} loss {value:.4f} (ema {avg:.4f}) "
                          f"merge {float(merge):.4f} align {float(align):.4f} "
                          + (f"val PSNR-mu {val:.2f} " if not math.isnan(val) else "")
                          + f"lr {lr:.2e} {el:.0f}s", flush=True)
            if last:
                if step < n_steps:
                    print(f"time limit reached after {step} steps", flush=True)
                break
    finally:
        if log:
            log.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    summary = {"steps": done, "best_step": best_step, "val_psnr_mu": round(best, 3),
               "seed": seed, "seconds": round(time.perf_counter() - t_train, 1),
               "final_loss_ema": round(avg or float("nan"), 5),
               "train_maps": [p.stem for p in train_paths], "val_maps": sorted(val_names)}
    return model.eval(), summary


def main(argv: list[str] | None = None) -> int:
    args, cfg, wdir = training_command(__doc__, argv)
    ex = cfg["export"]
    model, summary = train(cfg, steps=args.steps, max_minutes=args.max_minutes,
                           log_path=wdir / ex["loss_log"])
    hp = {**esbn_net.DEFAULT_HPARAMS, **cfg.get("model", {})}
    dc = cfg["data"]
    digest = export_weights(
        ex["key"], model.state_dict(), {"arch": esbn_net.ARCH_ID, "hparams": hp},
        {
            **run_fields(args.config, ex, summary, model),
            "data": (f"../shared/data usage=train radiance maps ({', '.join(dc['sources'])}): "
                     f"{dc['brackets']} synthetic dynamic brackets (app.bench.dynamic_brackets: "
                     f"moving cut-outs, shake, virtual camera), {dc['patch']} px patches; "
                     f"validation maps {', '.join(summary['val_maps'])} held out of training"),
            "best_step": summary["best_step"], "val_psnr_mu": summary["val_psnr_mu"],
        },
        file=ex["file"],
    )
    print(f"exported {wdir / ex['file']} sha256 {digest} after {summary['steps']} steps "
          f"(best {summary['best_step']}, val PSNR-mu {summary['val_psnr_mu']}, "
          f"{summary['seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
