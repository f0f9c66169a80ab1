"""Training throughput: optimiser steps/s, examples/s, and time waiting for data vs computing.

  python benchmarks/bench_train.py                         # CPU: full (16 x 2 x 131072, 44.1 kHz), cpu_recipe
  python benchmarks/bench_train.py --steps 5 --recipes cpu_recipe
  python benchmarks/bench_train.py --device cuda --recipes full,gpu_recipe

Each recipe is built from the Hydra configs exactly as tonematch-train builds it, on synthetic
tracks in a temporary folder; one warm-up step (numba kernels, allocator), then --steps timed
steps of the real training computation (chain draw and its no-grad renders, network, then the
differentiable render where the recipe trains with an audio loss, loss, backward, AdamW).
"data wait" is the time the step loop waited for the loader.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import tonematch.training  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)

# isort: split
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from tonematch.models.chain import TABLE
from tonematch.training.config_dir import config_dir

RECIPES = {
    # the reference point: default network, batch 16 x 2 x 131072 at 44.1 kHz, CPU loss preset
    "full": ["chain.sample_rate=44100", "data.segment_frames=131072", "data.batch_size=16"],
    "cpu_recipe": ["experiment=cpu_recipe"],
    "gpu_recipe": ["experiment=gpu_recipe", "data.pin_memory=false"],
}


def build(recipe: str, folder: str, extra: list[str]):
    overrides = RECIPES[recipe] + [f"paths.output_dir={folder}/run", f"data.synthetic_dir={folder}/tracks", *extra]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    cfg.data.synthetic_seconds = 2 * cfg.data.segment_frames / cfg.chain.sample_rate + 2.0
    cfg.data.examples_per_epoch = max(cfg.data.examples_per_epoch, 64 * cfg.data.batch_size)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = instantiate(
        cfg.module,
        model=instantiate(cfg.model, table=TABLE),
        loss=instantiate(cfg.loss),
        draw=instantiate(cfg.chain.draw),
        optimizer=instantiate(cfg.optimizer),
    )
    return cfg, datamodule, module


def run(recipe: str, steps: int, device: str, extra: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cfg, datamodule, module = build(recipe, folder, extra)
        module.to(device).train()
        optimizer = module.optimizer_factory(params=module.model.parameters())
        loader = iter(datamodule.train_dataloader())
        waits, computes = [], []
        for step in range(steps + 1):  # step 0: warm-up, not timed
            t0 = time.perf_counter()
            batch = next(loader)
            batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
            t1 = time.perf_counter()
            terms, _, _ = module.evaluate(batch, "train")
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            if step:
                waits.append(t1 - t0)
                computes.append(t2 - t1)
        total = sum(waits) + sum(computes)
        b, sr, n = cfg.data.batch_size, cfg.chain.sample_rate, cfg.data.segment_frames
        print(
            f"{recipe:11s} {device:5s} batch {b} x 2 x {n} at {sr} Hz ({n / sr:.2f} s), "
            f"{cfg.data.num_workers} workers: "
            f"{steps / total:.3f} steps/s, {steps * b / total:.2f} examples/s; per step "
            f"{total / steps:.2f} s = compute {sum(computes) / steps:.2f} s + data wait {sum(waits) / steps:.3f} s"
        )


def describe_speed() -> None:
    """The exact descriptors of a training batch (every step computes them for input and reference)."""
    from tonematch.models.descriptors import describe

    x = 0.1 * torch.randn(16, 2, 131072)
    describe(x, 44100)  # warm-up: the K-weighting response is cached per length
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        describe(x, 44100)
        best = min(best, time.perf_counter() - t)
    print(f"descriptors of 16 x 2 x 131072 at 44.1 kHz: {best * 1000:.0f} ms (goal < 50 ms)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2, help="timed steps per recipe (after one warm-up step)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--recipes", default="full,cpu_recipe", help=f"comma-separated, from {', '.join(RECIPES)}")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. data.num_workers=0")
    args = p.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    describe_speed()
    for recipe in args.recipes.split(","):
        run(recipe.strip(), args.steps, args.device, args.overrides)


if __name__ == "__main__":
    main()
