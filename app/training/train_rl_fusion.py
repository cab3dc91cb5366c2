"""Train the RL fusion agent (Yin et al. 2022) with deep Q-learning, on 2 CPU cores.

    python -m app.training.train_rl_fusion --config app/training/configs/rl_fusion.toml

Environment (``app.models.rl_agent``): a training pair (under, over) at the policy size, the
middle frame starts as the IMF virtual exposure, an action edits it, the three frames are fused
(Mertens); the reward is the decrease of the mean CIELab Delta-E between the fusion and the
pair's reference (the fusion of its whole stack), clipped to [-1, 2] as the released agent's
bounds. Episodes last ``episode_steps``.

A cost per edit (``step_cost``, Delta-E units) is subtracted from every reward (not in the paper:
without it the agent made 18 of 20 edits on average, oscillating, and overshot on real pairs).

Learning: double DQN (online net picks, target net scores), Huber loss on the TD error (the
released agent clips the TD error to [-1, 1] and squares it: the same gradient), Adam, replay
memory, target copy every ``target_every`` updates, epsilon-greedy decaying linearly.
Validation: a whole training source (``val_sources``: another camera, another processing) or a
random share of the training scenes (never the evaluation sets) is held back; every
``val_every`` steps the greedy policy (stop when no action has a positive value) runs on them and
the best checkpoint by mean Delta-E is kept. Output: weights (safetensors + manifest entry),
the loss / return log as CSV next to them.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import time
import tomllib
from collections import deque
from pathlib import Path

import numpy as np
import torch
from torch import nn

from app.bench.rl_pairs import DATA, Pair, radiance_pairs, real_pairs, saturation_jittered
from app.core.merge.imf import virtual_middle
from app.models import rl_agent as ra
from app.models import rl_fusion
from app.training.export import config_name, export_weights

REPO = Path(__file__).resolve().parents[2]


class QNet(nn.Module):
    """MLP state -> 6 action values; layer names match rl_fusion's numpy forward."""

    def __init__(self, n_in: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        sizes = (n_in, *hidden, len(ra.ACTIONS))
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x

    def numpy_weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.state_dict().items()}


class Episode:
    """One pair's environment at the policy size."""

    def __init__(self, pair: Pair, steps: int, content: bool, step_cost: float = 0.0) -> None:
        self.u, self.o = pair.under, pair.over
        self.step_cost = step_cost
        self.ref = ra.lab(pair.reference)
        self.steps, self.content = steps, content
        self.v0 = virtual_middle(self.u, self.o)
        self.reset()

    def reset(self) -> np.ndarray:
        self.v = self.v0.copy()
        self.f = ra.fuse_three(self.u, self.v, self.o)
        self.d = ra.delta_e(self.f, self.ref)
        self.t = 0
        return self.obs()

    def obs(self) -> np.ndarray:
        return ra.state(self.u, self.o, self.v, self.f, self.t, self.steps, self.content)

    def step(self, action: int) -> tuple[np.ndarray, float, bool]:
        self.v = ra.apply_action(self.v, action)
        self.f = ra.fuse_three(self.u, self.v, self.o)
        d = ra.delta_e(self.f, self.ref)
        # a small cost per edit: an edit must earn more than it costs, so the values of
        # aimless edits (up, then down again) turn negative and the stop rule can fire
        reward = float(np.clip(self.d - d, -1.0, 2.0)) - self.step_cost
        self.d = d
        self.t += 1
        return self.obs(), reward, self.t >= self.steps


def greedy_score(net: QNet, episodes: list[Episode], max_steps: int) -> tuple[float, float]:
    """(mean Delta-E after the greedy policy with the stop rule, mean steps taken)."""
    weights = net.numpy_weights()
    total, steps = 0.0, 0
    for ep in episodes:
        trace = rl_fusion.plan(ep.u, ep.o, weights, max_steps=max_steps, content=ep.content,
                               middle=ep.v0)
        f = ra.fuse_three(ep.u, ra.replay(ep.v0, trace), ep.o)
        total += ra.delta_e(f, ep.ref)
        steps += len(trace)
    return total / len(episodes), steps / len(episodes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=REPO / "app/training/configs/rl_fusion.toml")
    args = ap.parse_args(argv)
    cfg = tomllib.loads(args.config.read_text())
    tr, dc, mc, ec = cfg["train"], cfg["data"], cfg["model"], cfg["export"]
    torch.set_num_threads(int(tr.get("threads", 1)))
    seed = int(tr["seed"])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    root = Path(dc.get("root", DATA))
    root = root if root.is_absolute() else (REPO / root).resolve()
    size = ra.POLICY_SIZE
    t_load = time.time()
    pairs = list(real_pairs(dc["sources"], "train", square=size, data=root))
    pairs += list(radiance_pairs(dc["radiance"], gaps=tuple(dc["gaps"]), seed=seed,
                                 square=size, data=root))
    rng = random.Random(seed)
    jitter = dc.get("saturation_jitter")
    if jitter:  # one more copy of every pair with the scene's colourfulness changed
        lo, hi = (float(x) for x in jitter)
        pairs += [saturation_jittered(p, math.exp(rng.uniform(math.log(lo), math.log(hi))))
                  for p in list(pairs)]
    held = set(dc.get("val_sources", ()))
    if held:  # validation = whole training sources left out (another camera, another look)
        val_idx = {i for i, p in enumerate(pairs) if p.source in held}
        train_idx = [i for i in range(len(pairs)) if i not in val_idx]
        rng.shuffle(train_idx)
    else:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        n_val = max(1, round(len(pairs) * float(dc["val_share"])))
        val_idx, train_idx = set(order[:n_val]), order[n_val:]
    content = bool(mc["content"])
    steps_per_ep = int(tr["episode_steps"])
    cost = float(tr.get("step_cost", 0.0))
    train_eps = [Episode(pairs[i], steps_per_ep, content, cost) for i in train_idx]
    val_eps = [Episode(pairs[i], steps_per_ep, content, cost) for i in sorted(val_idx)]
    print(f"{len(train_eps)} training pairs, {len(val_eps)} validation pairs "
          f"({time.time() - t_load:.0f} s to build)", flush=True)

    n_in = ra.state_size(content)
    hidden = tuple(int(h) for h in mc["hidden"])
    net, target = QNet(n_in, hidden), QNet(n_in, hidden)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=float(tr["lr"]))
    memory: deque = deque(maxlen=int(tr["replay"]))
    total = int(tr["steps"])
    eps_end_at = float(tr["epsilon_decay_share"]) * total
    gamma = float(tr["gamma"])
    batch = int(tr["batch"])
    log_rows, losses, returns = [], [], []
    best = (math.inf, None, 0, 0.0)
    base_val = float(np.mean([ep.d for ep in val_eps]))
    print(f"validation Delta-E without the agent: {base_val:.3f}", flush=True)
    t0 = time.time()
    ep = rng.choice(train_eps)
    s = ep.reset()
    ep_return = 0.0
    for step in range(1, total + 1):
        eps = max(float(tr["epsilon_final"]), 1.0 - (1.0 - float(tr["epsilon_final"])) * step / eps_end_at)
        if rng.random() < eps:
            a = rng.randrange(len(ra.ACTIONS))
        else:
            with torch.no_grad():
                a = int(net(torch.from_numpy(s)[None]).argmax())
        s2, r, done = ep.step(a)
        memory.append((s, a, r, s2, done))
        ep_return += r
        s = s2
        if done:
            returns.append(ep_return)
            ep = rng.choice(train_eps)
            s, ep_return = ep.reset(), 0.0
        if len(memory) >= int(tr["warmup"]):
            sample = rng.sample(memory, batch)
            sb = torch.from_numpy(np.stack([m[0] for m in sample]))
            ab = torch.tensor([m[1] for m in sample])
            rb = torch.tensor([m[2] for m in sample], dtype=torch.float32)
            s2b = torch.from_numpy(np.stack([m[3] for m in sample]))
            db = torch.tensor([m[4] for m in sample], dtype=torch.float32)
            with torch.no_grad():
                pick = net(s2b).argmax(1, keepdim=True)
                nxt = target(s2b).gather(1, pick).squeeze(1)
                y = rb + gamma * (1.0 - db) * nxt
            q = net(sb).gather(1, ab[:, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if step % int(tr["target_every"]) == 0:
                target.load_state_dict(net.state_dict())
        if step % int(tr["log_every"]) == 0:
            row = {"step": step, "epsilon": round(eps, 3),
                   "loss": round(float(np.mean(losses[-200:])) if losses else float("nan"), 5),
                   "return": round(float(np.mean(returns[-50:])) if returns else float("nan"), 4),
                   "seconds": round(time.time() - t0, 1)}
            if step % int(tr["val_every"]) == 0:
                val_de, val_steps = greedy_score(net, val_eps, steps_per_ep)
                row["val_delta_e"] = round(val_de, 4)
                row["val_steps"] = round(val_steps, 2)
                if val_de < best[0]:
                    best = (val_de, net.numpy_weights(), step, val_steps)
            log_rows.append(row)
            print(row, flush=True)
        if time.time() - t0 > 60 * float(tr["max_minutes"]):
            print(f"time limit: stopped at step {step}", flush=True)
            break

    if best[1] is None:
        raise SystemExit("no validation run: raise steps or lower val_every")
    val_de, weights_np, best_step, val_steps = best
    out_dir = REPO / "weights"
    log_path = out_dir / ec["loss_log"]
    with open(log_path, "w", newline="") as fh:
        keys = ["step", "epsilon", "loss", "return", "seconds", "val_delta_e", "val_steps"]
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for row in log_rows:
            w.writerow(row)
    hparams = {"hidden": list(hidden), "content": content}
    digest = export_weights(
        ec["key"], {k: torch.from_numpy(v) for k, v in weights_np.items()},
        {"arch": rl_fusion.ARCH, "hparams": hparams},
        {
            "config": config_name(args.config),
            "data": f"../shared/data usage=train: {', '.join(dc['sources'])} (pairs = darkest + "
                    f"brightest of stacks with 3+ frames, reference = Mertens of the stack) and "
                    f"virtual-camera brackets of {', '.join(dc['radiance'])} "
                    f"(gaps {dc['gaps']} EV)"
                    + (f", each also with saturation x[{jitter[0]}, {jitter[1]}]" if jitter else "")
                    + f"; {len(val_eps)} of {len(pairs)} pairs held back for the checkpoint "
                    + (f"choice (the whole of {', '.join(sorted(held))}: never trained on)"
                       if held else "choice"),
            "seed": seed, "steps": step, "best_step": best_step,
            "train_seconds": round(time.time() - t0),
            "validation": {"delta_e_without_agent": round(base_val, 4),
                           "delta_e_agent": round(val_de, 4), "mean_steps": round(val_steps, 2)},
            "loss_log": ec["loss_log"], "licence": ec["licence"],
            "params": int(sum(v.size for v in weights_np.values())),
        },
        file=ec["file"],
    )
    print(f"wrote weights/{ec['file']} sha256 {digest[:12]}; best step {best_step}, "
          f"validation Delta-E {base_val:.3f} -> {val_de:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
