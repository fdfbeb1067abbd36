from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations

CREATE_CONFIG = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'lumiodesk_fr') THEN
        CREATE TEXT SEARCH CONFIGURATION lumiodesk_fr (COPY = french);
        ALTER TEXT SEARCH CONFIGURATION lumiodesk_fr
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    """PostgreSQL extensions and the French, accent-insensitive search configuration."""

    initial = True
    dependencies = []
    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunSQL(CREATE_CONFIG, "DROP TEXT SEARCH CONFIGURATION IF EXISTS lumiodesk_fr"),
    ]
