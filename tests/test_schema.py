"""The migrations build exactly the schema the models describe."""
from app.db import migration_router
from app.models import ALL_MODELS


def test_migrations_leave_nothing_pending(db):
    assert migration_router(db.obj).diff == []


def test_every_model_column_and_unique_index_exists_after_migrating(db):
    """A model changed without a new migration (`flask db revision NAME`) fails here."""
    problems = []
    tables = set(db.get_tables())
    for model in ALL_MODELS:
        table = model._meta.table_name
        if table not in tables:
            problems.append(f"missing table {table}")
            continue
        columns = {c.name: c for c in db.get_columns(table)}
        for field in model._meta.sorted_fields:
            column = columns.get(field.column_name)
            if column is None:
                problems.append(f"{table}.{field.column_name} missing")
            elif column.null != field.null and not field.primary_key:
                problems.append(f"{table}.{field.column_name}: null={column.null}, model says {field.null}")
        extra = set(columns) - {f.column_name for f in model._meta.sorted_fields}
        problems += [f"{table}.{name} not in the model" for name in extra]
        unique_in_db = {tuple(i.columns) for i in db.get_indexes(table) if i.unique}
        for field in model._meta.sorted_fields:
            if field.unique and (field.column_name,) not in unique_in_db:
                problems.append(f"{table}.{field.column_name} should be unique")
    assert problems == []
