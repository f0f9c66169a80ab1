"""tonematch-export: a checkpoint of a run -> model files (safetensors + JSON card).

  tonematch-export runs/cpu_recipe/main/checkpoints/best-step0001024.ckpt -o models/weights/default

The architecture comes from the run's own composed config (.hydra/config.yaml beside the
checkpoints folder), so any checkpoint of a run can be exported while training goes on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tonematch.data.errors import TonematchError
from tonematch.data.output_paths import check_output_folder
from tonematch.inference.console import error, one_line
from tonematch.models.chain import TABLE
from tonematch.models.files import model_paths, save_model


def run_config(checkpoint: Path):
    for folder in (checkpoint.parent.parent, checkpoint.parent):
        cfg = folder / ".hydra" / "config.yaml"
        if cfg.is_file():
            return OmegaConf.load(cfg)
    raise TonematchError(f"no .hydra/config.yaml found for {checkpoint} (is it inside a run folder?)")


def load_checkpoint(checkpoint: Path) -> dict:
    """A Lightning checkpoint, unpickled with weights_only=True: tensors, numbers, strings and
    containers only, so a shared or tampered .ckpt can never run code while it loads (tonematch-train's
    own checkpoints hold nothing else: their loops, optimizer and callback states are plain data)."""
    import pickle

    if checkpoint.is_file() and checkpoint.stat().st_size == 0:
        raise TonematchError(f"{checkpoint} is not a readable checkpoint: the file is empty")
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        detail = " ".join(text[text.find("WeightsUnpickler error:") :].split()[2:12]) if "Weights" in text else text
        if "Unsupported global" in text:
            raise TonematchError(
                f"{checkpoint} holds more than tensors and plain data, which is never unpickled "
                f"(no code in a checkpoint is run): {detail}"
            ) from None
        raise TonematchError(f"{checkpoint} is not a readable checkpoint: {detail[:200]}") from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise TonematchError(f"{checkpoint} is not a readable checkpoint: {' '.join(str(exc).split())[:200]}") from None
    except Exception:  # noqa: BLE001 - any other file makes the unpickler trip somewhere else (a KeyError of a byte)
        raise TonematchError(f"{checkpoint} is not a readable checkpoint: not a file torch.save wrote") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise TonematchError(f"{checkpoint} is not a tonematch-train checkpoint (no state_dict)")
    return ckpt


def output_stem(out, overwrite: bool = False) -> str:
    """The model stem of -o: STEM, or either file's name (STEM.safetensors, STEM.json) as the
    loaders take it (models.files.model_paths). Its folder must exist and be writable (checked
    before the checkpoint is read): a mistyped -o is refused, not made at whatever depth it names.
    A model already there is someone's: replaced only with `overwrite`."""
    tensors_path, json_path = model_paths(out)
    stem = str(json_path)[: -len(".json")]
    if not os.path.basename(stem):
        raise TonematchError(f"-o {out}: give a model stem (STEM for STEM.safetensors + STEM.json), not a folder")
    for path in (tensors_path, json_path):
        check_output_folder(path)
        if not overwrite and Path(path).exists():
            raise TonematchError(f"{path} exists: give -f/--overwrite to replace it")
    return stem


def export(checkpoint, out_stem, card: dict | None = None, overwrite: bool = False) -> dict:
    """Write the checkpoint's network as STEM.safetensors + STEM.json -> the card's fields, and
    under "stem" the stem written to."""
    checkpoint = Path(checkpoint)
    out_stem = output_stem(out_stem, overwrite)
    if not checkpoint.is_file():
        raise TonematchError(f"checkpoint not found: {checkpoint}")
    ckpt = load_checkpoint(checkpoint)  # an unreadable file is said so before where its run is looked for
    cfg = run_config(checkpoint)
    model = instantiate(cfg.model, table=TABLE)
    try:
        model.load_state_dict({k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")})
    except RuntimeError as exc:  # the run's config names another model group than the checkpoint's network
        first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
        raise TonematchError(f"{checkpoint} does not fit the model of its run's .hydra/config.yaml ({first})") from None
    info = {
        "name": cfg.get("name"),
        "training": {
            "source": str(checkpoint.name),
            "global_step": int(ckpt.get("global_step", -1)),
            "epochs": int(ckpt.get("epoch", -1)),
            "sample_rate": int(cfg.chain.sample_rate),
            "experiment": cfg.get("name"),
        },
        # what the network heard in training: self-supervised chain draws or real pairs, and how long a segment
        "data_kind": cfg.data.get("kind"),
        "segment_frames": int(cfg.data.segment_frames),
        **(card or {}),
    }
    save_model(model.eval(), out_stem, info)
    return {**info, "stem": out_stem}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="tonematch-export", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="model stem: STEM.safetensors + STEM.json (either file's name works too; its folder must exist)",
    )
    p.add_argument("-f", "--overwrite", action="store_true", help="replace a model already at STEM")
    args = p.parse_args(argv)
    try:
        info = export(args.checkpoint, args.output, overwrite=args.overwrite)
    except TonematchError as exc:
        error(one_line(exc), "tonematch-export")
        return 2
    stem = info["stem"]
    print(f"exported {args.checkpoint} (step {info['training']['global_step']}) -> {stem}.safetensors + {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
