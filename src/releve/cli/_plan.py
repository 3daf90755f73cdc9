"""`releve plan`: the continuity and recovery plan (PCA/PRA) of releve.yaml, as HTML and PDF."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from releve.cli import ConfigOption, _load, app, console


class PlanLanguage(StrEnum):
    FR = "fr"
    EN = "en"
    BOTH = "both"


@app.command()
def plan(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the plan into.")] = Path("plan"),
    lang: Annotated[PlanLanguage, typer.Option("--lang", help="Language of the plan.")] = PlanLanguage.BOTH,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Write the continuity and recovery plan (PCA/PRA) generated from releve.yaml, as HTML and PDF."""
    from datetime import UTC, datetime

    from releve.impact import PLAN_LANGUAGES, continuity_plan, write_plan

    cfg = _load(config)
    document = continuity_plan(cfg, config_path=config, now=datetime.now(UTC))
    languages = PLAN_LANGUAGES if lang is PlanLanguage.BOTH else (lang.value,)
    for language in languages:
        for path in write_plan(document, out, language).values():
            console.print(f"wrote {path}", highlight=False)
    console.print(f"{len(document.findings)} finding(s), {document.warnings} warning(s): "
                  f"see the plan's findings or `releve check`", highlight=False)
