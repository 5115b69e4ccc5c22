"""`warden doctor|backup|restore`: operating a Warden install (checks, backups)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def doctor_command(
    http: Annotated[
        bool, typer.Option("--http", help="check for HTTP mode (as `warden serve --http`)")
    ] = False,
) -> None:
    """Check the whole configuration end to end; exit 1 when anything a user would hit is broken."""
    from warden import doctor
    from warden.settings import get_settings

    checks = doctor.run(get_settings(), http=http)
    typer.echo(doctor.render(checks))
    raise typer.Exit(doctor.exit_code(checks))


def backup_command(
    target: Annotated[Path, typer.Argument(help="a new folder to write the backup into")],
) -> None:
    """Back up the store, the agent's checkpoints and the policy index into a new folder."""
    from warden.backup import backup
    from warden.settings import get_settings

    manifest = backup(get_settings(), target)
    typer.echo(f"backup written to {target}: {', '.join(manifest['parts'])}")
    if manifest.get("index_note"):
        typer.echo(manifest["index_note"])


def restore_command(
    source: Annotated[Path, typer.Argument(help="a folder written by `warden backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="replace the current store and index")
    ] = False,
) -> None:
    """Restore a backup where the settings say the store and index live (stop Warden first)."""
    from warden.backup import restore
    from warden.settings import get_settings

    manifest = restore(get_settings(), source, force=force)
    typer.echo(f"restored {', '.join(manifest['parts'])} from {source} ({manifest['created_at']})")
    typer.echo("run `warden doctor` to check the result")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
