"""Knowledge search by passage: ``KnowledgePassage`` and ``KnowledgeIndexState`` replace the per-article
search structures.

PostgreSQL: a GIN index over ``agents_knowledgepassage.search_vector`` (the article's tsvector column goes,
and its index with it). SQLite: the FTS5 table ``agents_knowledgepassage_fts`` (title, heading and body
stems; rowid = passage id) replaces ``agents_knowledgearticle_fts``; it is a separate table, so Django's
table rebuilds on SQLite never drop it. Existing articles are cut into passages here, so search works at
once; their vectors come from ``manage.py knowledge_reindex`` (which queues the embedding jobs).
"""

import secrets

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models


from agents.knowledge.passages import Passage, article_passages
from agents.knowledge.text import stems

OLD_FTS = "agents_knowledgearticle_fts"
FTS = "agents_knowledgepassage_fts"
PG_INDEX = "agents_passage_search_gin"
PG_VECTOR = (
    "setweight(to_tsvector('simple', title_terms), 'A') || setweight(to_tsvector('simple', heading_terms), 'B')"
    " || setweight(to_tsvector('simple', body_terms), 'D')"
)


def create_structures(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON agents_knowledgepassage USING gin (search_vector)"
        )
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {OLD_FTS}")
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(title, heading, body, tokenize='unicode61')"
        )


def drop_structures(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS}")
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {OLD_FTS} USING fts5(title, body, tokenize='porter unicode61')"
        )


def index_articles(apps, schema_editor):
    Article = apps.get_model("agents", "KnowledgeArticle")
    Passage = apps.get_model("agents", "KnowledgePassage")
    State = apps.get_model("agents", "KnowledgeIndexState")
    connection = schema_editor.connection
    workspaces = set()
    for article in Article.objects.filter(published=True).iterator():
        title_terms = " ".join(stems(article.title))
        rows = [Passage(workspace_id=article.workspace_id, article_id=article.pk, position=0, kind="title",
                        digest=Passage(heading="", body="").digest(article.title), title_terms=title_terms)]
        for position, passage in enumerate(article_passages(body=article.body), start=1):
            rows.append(Passage(
                workspace_id=article.workspace_id, article_id=article.pk, position=position, kind="section",
                heading=passage.heading, body=passage.body, title_terms=title_terms,
                heading_terms=" ".join(stems(passage.heading)), body_terms=" ".join(stems(passage.body)),
                digest=passage.digest(article.title),
            ))
        created = [row for row in Passage.objects.bulk_create(rows) if row.kind == "section"]
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.executemany(
                    f"INSERT INTO {FTS} (rowid, title, heading, body) VALUES (%s, %s, %s, %s)",  # nosec B608
                    [[row.pk, row.title_terms, row.heading_terms, row.body_terms] for row in created],
                )
            elif connection.vendor == "postgresql" and created:
                cursor.execute(
                    f"UPDATE agents_knowledgepassage SET search_vector = {PG_VECTOR} WHERE id = ANY(%s)",  # nosec B608
                    [[row.pk for row in created]],
                )
        workspaces.add(article.workspace_id)
    State.objects.bulk_create(
        [State(workspace_id=workspace_id, version=secrets.randbits(40)) for workspace_id in workspaces]
    )


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0003_conversation_hand_back_and_teammate_times'),
        ('halo', '0004_contact_custom_fields_gin'),
    ]

    operations = [
        migrations.CreateModel(
            name='KnowledgeIndexState',
            fields=[
                ('workspace', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='halo.workspace')),
                ('version', models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveField(
            model_name='knowledgearticle',
            name='search_vector',
        ),
        migrations.CreateModel(
            name='KnowledgePassage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField()),
                ('kind', models.CharField(choices=[('title', "The article's title (searched by meaning only)"), ('section', 'A section of the article')], default='section', max_length=16)),
                ('heading', models.CharField(blank=True, default='', max_length=300)),
                ('body', models.TextField(blank=True, default='')),
                ('title_terms', models.TextField(blank=True, default='')),
                ('heading_terms', models.TextField(blank=True, default='')),
                ('body_terms', models.TextField(blank=True, default='')),
                ('digest', models.CharField(max_length=64)),
                ('search_vector', django.contrib.postgres.search.SearchVectorField(blank=True, editable=False, null=True)),
                ('embedding', models.BinaryField(blank=True, null=True)),
                ('embedding_model', models.CharField(blank=True, default='', max_length=64)),
                ('article', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='passages', to='agents.knowledgearticle')),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='halo.workspace')),
            ],
            options={
                'ordering': ['article_id', 'position'],
                'indexes': [models.Index(fields=['workspace', 'kind'], name='passage_workspace_kind')],
                'constraints': [models.CheckConstraint(condition=models.Q(('kind__in', ['title', 'section'])), name='passage_kind_valid')],
            },
        ),
        migrations.RunPython(create_structures, drop_structures),
        migrations.RunPython(index_articles, migrations.RunPython.noop),
    ]
