"""Your own mastering style: what an engineer does, learned from their mix/master pairs.

`style fit` (fit.py) reads each pair aligned (pair.py), identifies the engineer's chain on it
(transfer.py, bands.py, gain_trace.py, identify.py), fits the settings style (settings_fit.py,
consensus.py; the model and its predictions in settings_model.py) beside the character lines
(model.py, character_fit.py), and checks the fit on held-out pairs (heldout.py). A new mix is
mastered from the settings the style predicts for it (master.py), the style being the pipeline's
aim (aim.py); `style show` says what the style learned (words.py); a .tmstyle file holds it
(file.py, checked on load by validate.py).
"""

from .aim import StyleAim, master_array
from .character_fit import fit_style, style_from_references
from .file import SUFFIX, load_style, save_style
from .fit import fit_pairs
from .master import choose_settings
from .model import BUMP_HZ, Habit, Style
from .pair import PairData, read_pair
from .words import describe

__all__ = [
    "BUMP_HZ",
    "SUFFIX",
    "Habit",
    "PairData",
    "Style",
    "StyleAim",
    "choose_settings",
    "describe",
    "fit_pairs",
    "fit_style",
    "load_style",
    "master_array",
    "read_pair",
    "save_style",
    "style_from_references",
]
