"""Revision 0003 creates exactly the tables tools/ops_tables.py declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from tools.ops_tables import OPS_TABLES
from tools.store import Store


def test_migration_matches_orm(store: Store) -> None:
    ours = MetaData(naming_convention=OPS_TABLES[0].metadata.naming_convention)
    for table in OPS_TABLES:
        table.to_metadata(ours)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, ours)
    names = {t.name for t in OPS_TABLES}
    # Only differences on our tables matter; the store's and fanout's tables are not in `ours`.
    relevant = [d for d in diff if _table_of(d) in names]
    assert relevant == []


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str):
            return part
        if name:
            return str(name)
    return None
