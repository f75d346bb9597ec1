"""Every version of a purpose's notice, kept unchanged; and from which version on
consents must be confirmed again. Existing purposes get their current text as the
notice of their current version."""

import peewee as pw
from peewee_migrate import Migrator


def _backfill(database):
    cursor = database.execute_sql("SELECT id, notice_version, name, description, notice_published_at FROM purpose")
    for purpose_id, version, name, text, published_at in cursor.fetchall():
        database.execute_sql(
            "INSERT INTO purpose_notice (purpose_id, version, name, text, material, published_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)".replace("%s", database.param),
            (purpose_id, version, name, text, version > 1, published_at))
    database.execute_sql("UPDATE purpose SET reconfirm_from_version = notice_version")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("purpose", reconfirm_from_version=pw.IntegerField(default=1))

    @migrator.create_model
    class PurposeNotice(pw.Model):
        id = pw.AutoField()
        purpose = pw.ForeignKeyField(column_name='purpose_id', field='id', model=migrator.orm['purpose'], on_delete='CASCADE')
        version = pw.IntegerField()
        name = pw.CharField(max_length=120)
        text = pw.TextField()
        material = pw.BooleanField(default=False)
        published_at = pw.DateTimeField()

        class Meta:
            table_name = "purpose_notice"
            indexes = [(('purpose', 'version'), True)]

    migrator.run(_backfill, database)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('purpose_notice')
    migrator.remove_fields("purpose", "reconfirm_from_version")
