"""Newsletter issues: what sales send, one delivery record per issue and person (so a
killed sending job never mails anyone twice), and anonymous unsubscribe statistics."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class NewsletterIssue(pw.Model):
        id = pw.AutoField()
        newsletter = pw.ForeignKeyField(column_name='newsletter_id', field='id', model=migrator.orm['newsletter'],
                                        on_delete='CASCADE')
        subject = pw.CharField(max_length=200)
        body = pw.TextField()
        created_by = pw.ForeignKeyField(column_name='created_by_id', field='id', model=migrator.orm['users'],
                                        null=True, on_delete='SET NULL')
        created_at = pw.DateTimeField()
        status = pw.CharField(max_length=10)
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], null=True,
                                 on_delete='SET NULL', unique=True)
        sent_count = pw.IntegerField()
        sent_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "newsletter_issue"

    @migrator.create_model
    class IssueDelivery(pw.Model):
        id = pw.AutoField()
        issue = pw.ForeignKeyField(column_name='issue_id', field='id', model=migrator.orm['newsletter_issue'],
                                   on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'],
                                  on_delete='CASCADE')
        claimed_at = pw.DateTimeField()
        sent_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "issue_delivery"
            indexes = ((("issue", "user"), True),)

    @migrator.create_model
    class Unsubscribe(pw.Model):
        id = pw.AutoField()
        newsletter = pw.ForeignKeyField(column_name='newsletter_id', field='id', model=migrator.orm['newsletter'],
                                        null=True, on_delete='CASCADE')
        reason = pw.CharField(max_length=30)
        source = pw.CharField(max_length=20)
        occurred_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "unsubscribe"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("unsubscribe")
    migrator.remove_model("issue_delivery")
    migrator.remove_model("newsletter_issue")
