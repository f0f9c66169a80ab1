"""A style as the pipeline's aim (pipeline.Aim): each mix gets the target and start settings this
style sets for it (style.choose_settings)."""

from __future__ import annotations

from dataclasses import dataclass

from . import style as styles


@dataclass
class StyleAim:
    style: object  # a loaded style (models.style_file.load_style)
    path: str | None = None  # the .tmstyle it was loaded from, for the provenance

    def choose(self, mix, options):
        return styles.choose_settings(mix, self.style, options)

    def provenance(self) -> dict:
        return {**({"style": str(self.path)} if self.path is not None else {}), "style_name": self.style.name}
