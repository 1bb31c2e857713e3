from django.db import migrations

# The data generation (tcp.pagecache): a sequence that every statement writing a watched
# table moves, through the trigger function below, which tcp.pagecache attaches to every
# table after each migrate. CACHE 1 (the default) is what makes last_value, read by another
# session, the latest number handed out. It starts at a random point, so two databases
# built apart (a rebuilt test database, a fresh install) never share a generation; a copy
# restored over the original repeats its numbers, and its stored pages age out within
# tcp.pagecache.PAGE_SECONDS (or clear the cache after such a restore).
CREATE = """
DO $$ BEGIN
    EXECUTE format(
        'CREATE SEQUENCE tcp_data_generation_seq CACHE 1 START WITH %s',
        (1 + floor(random() * 4e18))::bigint
    );
END $$;
-- Called once, so that the sequence has a last value to read from the start.
SELECT nextval('tcp_data_generation_seq');
CREATE FUNCTION tcp_data_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('tcp_data_generation_seq');
    RETURN NULL;
END $$;
"""
DROP = """
DROP FUNCTION tcp_data_generation_bump() CASCADE;
DROP SEQUENCE tcp_data_generation_seq;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tcp", "0004_tombstone_owners"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
