"""Data Processing Addenda: each document with its terms, status and content hash,
every PDF file it went through, and the parties' signatures."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class DpaDocument(pw.Model):
        id = pw.AutoField()
        customer_admin = pw.ForeignKeyField(column_name='customer_admin_id', field='id',
                                            model=migrator.orm['users'], index=True)
        document_id = pw.CharField(max_length=40, unique=True)
        legal_name = pw.CharField(max_length=200)
        address = pw.TextField()
        registration_number = pw.CharField(max_length=40)
        signatory_name = pw.CharField(max_length=120)
        signatory_title = pw.CharField(max_length=120)
        contact_email = pw.CharField(max_length=254)
        country = pw.CharField(max_length=2)
        transfers_outside_eea = pw.BooleanField()
        uk_transfer = pw.BooleanField()
        governing_law = pw.CharField(max_length=2)
        template_version = pw.CharField(max_length=40)
        as_of = pw.DateTimeField(null=True)
        content_sha256 = pw.CharField(max_length=64)
        status = pw.CharField(max_length=20, index=True)
        supersedes = pw.ForeignKeyField(column_name='supersedes_id', field='id', model='self', null=True,
                                        on_delete='SET NULL')
        created_at = pw.DateTimeField(index=True)
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "dpa_document"

    @migrator.create_model
    class DpaFile(pw.Model):
        id = pw.AutoField()
        document = pw.ForeignKeyField(column_name='document_id', field='id', model=migrator.orm['dpa_document'])
        version = pw.IntegerField()
        kind = pw.CharField(max_length=20)
        stored_name = pw.CharField(max_length=80, unique=True)
        sha256 = pw.CharField(max_length=64)
        size_bytes = pw.IntegerField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "dpa_file"
            indexes = ((("document", "version"), True),)

    @migrator.create_model
    class DpaSignature(pw.Model):
        id = pw.AutoField()
        document = pw.ForeignKeyField(column_name='document_id', field='id', model=migrator.orm['dpa_document'])
        role = pw.CharField(max_length=10)
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'])
        name = pw.CharField(max_length=120)
        title = pw.CharField(max_length=120)
        signed_at = pw.DateTimeField()
        ip = pw.CharField(max_length=45, null=True)
        document_sha256 = pw.CharField(max_length=64)

        class Meta:
            table_name = "dpa_signature"
            indexes = ((("document", "role"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("dpa_signature")
    migrator.remove_model("dpa_file")
    migrator.remove_model("dpa_document")
