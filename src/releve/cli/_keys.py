"""`releve keys generate|rotate`: the keys stored prompts and answers are encrypted with (RELEVE_DATA_KEYS).

Keys are read from the environment only, never from a flag or the configuration file (either would land in shell
history or in a repository). Rotating: put a new key first (`RELEVE_DATA_KEYS=new,old`), restart the gateway so it
writes under the new key, run `releve keys rotate`, then drop the old key. Exit codes: 0 done, 2 no usable keys or
the store could not be used.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from releve.cli import ConfigOption, _load, app, console

keys_app = typer.Typer(help="Generate and rotate the keys that encrypt stored content (RELEVE_DATA_KEYS).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@keys_app.command()
def generate() -> None:
    """Print a new random key (base64, 32 bytes) to put first in RELEVE_DATA_KEYS."""
    from releve.store import ContentKeys

    typer.echo(ContentKeys.generate())


@keys_app.command()
def rotate(config: ConfigOption = Path("releve.yaml")) -> None:
    """Re-encrypt every stored prompt, answer and file under the first key of RELEVE_DATA_KEYS."""
    from releve.errors import StoreError
    from releve.store import DATA_KEYS_ENV, ContentKeys, Store

    try:
        keys = ContentKeys.from_environ(os.environ)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if keys is None:
        raise _fail(f"{DATA_KEYS_ENV} is not set: set it to the new key first, then the old ones, comma-separated "
                    f"(`releve keys generate` makes a key)")
    cfg = _load(config)
    store = Store(cfg.storage.url, keys=keys)
    try:
        store.open()
        counts = store.rotate_keys()
    except StoreError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(f"re-encrypted {sum(counts.values())} values under key {keys.current}: "
               + ", ".join(f"{column} {n}" for column, n in counts.items()))
