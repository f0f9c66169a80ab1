"""A style as the pipeline's aim (pipeline.Aim), and a mix mastered in a style in memory.

Each mix gets the target and start settings the style sets for it (master.choose_settings); the
rest (rate, provenance, the render) is the pipeline's, as for a reference or the neutral chain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from tonematch.models.chain.settings import Settings

from .. import match, pipeline
from .master import choose_settings
from .model import Style


@dataclass
class StyleAim:
    style: Style  # a loaded style (style.file.load_style) or one just fitted
    path: str | None = None  # the .tmstyle it was loaded from, for the provenance (by its name alone)

    def choose(self, mix, options):
        return choose_settings(mix, self.style, options)

    def conflicts(self, options: match.Options) -> list[str]:
        """Options this style leaves unused, one line each: a style of pairs masters with its own
        settings, so nothing is refined."""
        if self.style.settings is None:
            return []
        unused = [
            flag
            for flag, given in (("--steps", options.steps is not None), ("--no-refine", not options.refine))
            if given
        ]
        if not unused:
            return []
        verb = "has" if len(unused) == 1 else "have"
        return [
            f"{' and '.join(unused)} {verb} no effect: a style of pairs masters with its own settings (no refinement)"
        ]

    def provenance(self) -> dict:
        # a shared settings file names its style as it names its reference: no folders of this machine
        named = {"style": os.path.basename(os.fspath(self.path))} if self.path is not None else {}
        # a style from references masters from the shipped network's settings (master._from_network)
        model = {"model": "default" if match.default_model_present() else "none"} if self.style.from_references else {}
        return {**named, "style_name": self.style.name, **model}


def master_array(
    x: np.ndarray, sample_rate: int, style: Style, options: match.Options
) -> tuple[np.ndarray, Settings, dict]:
    """A mix [C, T] mastered in a style: (audio, settings at the mix's rate, notes). The
    pipeline's road (pipeline.master_array), so the settings carry its provenance too."""
    audio, decision = pipeline.master_array(x, sample_rate, StyleAim(style), options)
    return audio, decision.settings, decision.notes
