"""Where the Hydra configs live: $TONEMATCH_CONFIGS, else configs/ at the repository root.

configs/ sits next to the package folders (training/ is installed in editable mode from the
repository), not inside the package; an installed wheel has no repository, so set the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from tonematch.data.errors import TonematchError

ENV = "TONEMATCH_CONFIGS"


def config_dir() -> str:
    given = os.environ.get(ENV)
    folder = Path(given) if given else Path(__file__).resolve().parent.parent / "configs"
    if not (folder / "train.yaml").is_file():
        where = f"${ENV}={given}" if given else str(folder)
        raise TonematchError(f"no train.yaml in {where}: point ${ENV} at tonematch's configs/ folder")
    return str(folder)
