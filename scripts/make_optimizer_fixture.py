#!/usr/bin/python3
"""Generate the PyTorch reference fixture for skiptune's optimizers and LR schedules.

Run from anywhere with Debian's Python (it has torch 1.13):

    /usr/bin/python3 scripts/make_optimizer_fixture.py [--out FILE]

Default output: <repo>/tests/fixtures/optimizers.txt, read by tests/test_optimizers.cpp.

What it records (all float64, written with repr() so every value round-trips exactly):
  * torch.optim.SGD (momentum 0.9, weight decay 5e-4, dampening 0, no Nesterov) and
    torch.optim.AdamW (betas (0.9, 0.999), eps 1e-8, weight decay 0.1) on three small
    parameters in two parameter groups ("text", "image") with different learning rates:
    the initial values, the gradient of each of 5 steps, each step's learning rate per group
    (the base LR times a decaying factor, so the test also checks that per-step LRs are honoured),
    and the parameters and optimizer state after the 5 steps.
  * The per-epoch learning rates of the reference (Dassl / CoOp) schedule, produced by torch's
    own CosineAnnealingLR wrapped in Dassl's ConstantWarmupScheduler (re-written below from
    Dassl's definition), stepped once per epoch the way Dassl's trainer steps it:
      - base-to-new: groups text 2e-5 and image 5e-6, 20 epochs, 1 warm-up epoch at 1e-6;
      - few-shot: one group at 1e-5, 40 epochs, no warm-up (Dassl then uses the cosine alone).

File format: one record per line, `key value value ...`; lines starting with '#' are comments.
The script is deterministic: two runs produce byte-identical files.
"""

import argparse
import math
import warnings
from pathlib import Path

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, _LRScheduler

STEPS = 5
# Each step's LR is the group's base LR times this factor (a decaying schedule).
LR_FACTORS = [1.0, 0.9, 0.7, 0.5, 0.3]
# Parameter name → (group, shape).
PARAMETERS = [("text.weight", "text", (2, 3)), ("text.bias", "text", (3,)), ("image.weight", "image", (2, 2))]
GROUPS = ["text", "image"]

SGD_OPTIONS = dict(momentum=0.9, weight_decay=5e-4)
SGD_GROUP_LR = {"text": 0.1, "image": 0.03}
ADAMW_OPTIONS = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
ADAMW_GROUP_LR = {"text": 0.01, "image": 0.003}


class ConstantWarmupScheduler(_LRScheduler):
    """Dassl's ConstantWarmupScheduler (dassl/optim/lr_scheduler.py), written from its definition:
    while the wrapper's own epoch counter is below warmup_epoch every group uses cons_lr; from
    then on each step() steps the successor (with the caller's `epoch`, None in Dassl's trainer)
    and the wrapper reports the successor's LRs."""

    def __init__(self, optimizer, successor, warmup_epoch, cons_lr, last_epoch=-1):
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        self.cons_lr = cons_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)


class ExplicitEpochWarmupScheduler(ConstantWarmupScheduler):
    """The variant that steps the successor with an explicit epoch (last_epoch − warmup_epoch),
    which makes torch use CosineAnnealingLR's closed form instead of its recursive form. Only used
    to measure how far the two forms drift apart; the fixture records Dassl's behaviour."""

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.last_epoch += 1
            self.successor.step(self.last_epoch - self.warmup_epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)


def fmt(values):
    return " ".join(repr(float(v)) for v in values)


def make_inputs():
    generator = torch.Generator().manual_seed(20240607)
    initial = {name: torch.randn(shape, generator=generator, dtype=torch.float64) for name, _, shape in PARAMETERS}
    gradients = []
    for step in range(STEPS):
        # Vary the gradient scale per step so Adam's bias correction and the momentum both matter.
        scale = 0.5 + step * 0.4
        gradients.append({name: scale * torch.randn(shape, generator=generator, dtype=torch.float64)
                          for name, _, shape in PARAMETERS})
    return initial, gradients


def run_optimizer(kind, initial, gradients):
    params = {name: initial[name].clone().requires_grad_(True) for name, _, _ in PARAMETERS}
    base_lr = SGD_GROUP_LR if kind == "sgd" else ADAMW_GROUP_LR
    groups = [{"params": [params[n] for n, g, _ in PARAMETERS if g == group], "lr": base_lr[group]}
              for group in GROUPS]
    if kind == "sgd":
        optimizer = torch.optim.SGD(groups, lr=base_lr["text"], dampening=0, nesterov=False, **SGD_OPTIONS)
    else:
        optimizer = torch.optim.AdamW(groups, lr=base_lr["text"], amsgrad=False, **ADAMW_OPTIONS)
    step_lrs = []
    for step in range(STEPS):
        lrs = [base_lr[group] * LR_FACTORS[step] for group in GROUPS]
        for group, lr in zip(optimizer.param_groups, lrs):
            group["lr"] = lr
        step_lrs.append(lrs)
        for name, p in params.items():
            p.grad = gradients[step][name].clone()
        optimizer.step()
    state = {}
    for name, p in params.items():
        for key, value in optimizer.state[p].items():
            if key != "step":
                state[f"{name}.{key}"] = value
    return step_lrs, {n: p.detach() for n, p in params.items()}, state


def dassl_schedule(group_lrs, max_epochs, warmup_epochs, warmup_lr, explicit_epoch=False):
    """LR of each group during each epoch 0..max_epochs-1, as Dassl's build_lr_scheduler +
    trainer produce it (WARMUP_RECOUNT = True, Dassl's default: the cosine is not fast-forwarded)."""
    dummy = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in group_lrs]
    optimizer = torch.optim.SGD([{"params": [d], "lr": lr} for d, lr in zip(dummy, group_lrs)], lr=group_lrs[0])
    scheduler = CosineAnnealingLR(optimizer, T_max=float(max_epochs))
    if warmup_epochs > 0:
        wrapper = ExplicitEpochWarmupScheduler if explicit_epoch else ConstantWarmupScheduler
        scheduler = wrapper(optimizer, scheduler, warmup_epochs, warmup_lr)
    lrs = []
    for _ in range(max_epochs):
        lrs.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()  # no gradients: nothing changes, but torch sees the documented call order
        scheduler.step()
    return lrs


def closed_form(base_lr, epoch, max_epochs, warmup_epochs, warmup_lr):
    if epoch < warmup_epochs:
        return warmup_lr
    return base_lr * (1 + math.cos(math.pi * (epoch - warmup_epochs) / max_epochs)) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optimizers.txt")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # torch's deprecation note on scheduler.step(epoch)
    torch.set_num_threads(1)

    lines = ["# Generated by scripts/make_optimizer_fixture.py (torch %s, float64). Do not edit." % torch.__version__,
             "# key value...; shapes: " + ", ".join(f"{n} {list(s)} in group {g}" for n, g, s in PARAMETERS)]
    initial, gradients = make_inputs()
    lines.append("sgd.options " + fmt([SGD_OPTIONS["momentum"], SGD_OPTIONS["weight_decay"]]))
    lines.append("adamw.options " + fmt([*ADAMW_OPTIONS["betas"], ADAMW_OPTIONS["eps"],
                                         ADAMW_OPTIONS["weight_decay"]]))
    for name, _, _ in PARAMETERS:
        lines.append(f"initial.{name} " + fmt(initial[name].flatten().tolist()))
    for step in range(STEPS):
        for name, _, _ in PARAMETERS:
            lines.append(f"gradient.{step}.{name} " + fmt(gradients[step][name].flatten().tolist()))
    for kind in ("sgd", "adamw"):
        step_lrs, final, state = run_optimizer(kind, initial, gradients)
        for step, lrs in enumerate(step_lrs):
            lines.append(f"{kind}.lr.{step} " + fmt(lrs))
        for name, value in final.items():
            lines.append(f"{kind}.final.{name} " + fmt(value.flatten().tolist()))
        for key, value in state.items():
            lines.append(f"{kind}.state.{key} " + fmt(value.flatten().tolist()))

    schedules = {
        # name: (group base LRs, max_epochs, warmup_epochs, warmup_lr)
        "base_to_new": ([2e-5, 5e-6], 20, 1, 1e-6),
        "few_shot": ([1e-5], 40, 0, 0.0),
    }
    for name, (group_lrs, max_epochs, warmup_epochs, warmup_lr) in schedules.items():
        lrs = dassl_schedule(group_lrs, max_epochs, warmup_epochs, warmup_lr)
        lines.append(f"schedule.{name}.config " + fmt([max_epochs, warmup_epochs, warmup_lr, *group_lrs]))
        for g in range(len(group_lrs)):
            lines.append(f"schedule.{name}.group{g} " + fmt([epoch_lrs[g] for epoch_lrs in lrs]))
        # How far torch's recursive cosine drifts from the closed form (reported, not stored).
        worst = 0.0
        for epoch, epoch_lrs in enumerate(lrs):
            for g, base in enumerate(group_lrs):
                exact = closed_form(base, epoch, max_epochs, warmup_epochs, warmup_lr)
                worst = max(worst, abs(epoch_lrs[g] - exact) / exact)
        print(f"{name}: max relative |torch recursive - closed form| = {worst:.3e}")
        if warmup_epochs > 0:
            explicit = dassl_schedule(group_lrs, max_epochs, warmup_epochs, warmup_lr, explicit_epoch=True)
            worst_explicit = max(abs(a - b) / b for row_a, row_b in zip(lrs, explicit) for a, b in zip(row_a, row_b))
            print(f"{name}: max relative |successor.step() - successor.step(epoch - warmup)| = {worst_explicit:.3e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} ({len(lines)} lines)")


if __name__ == "__main__":
    main()
