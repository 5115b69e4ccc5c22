"""`warden doctor|backup|restore`: operating a Warden install (checks, backups)."""

from __future__ import annotations

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


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
