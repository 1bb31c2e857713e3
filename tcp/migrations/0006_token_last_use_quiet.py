from django.db import migrations

# A token's last use is written once a minute for each token in use, and no stored page
# shows it: writing it alone leaves the data generation (tcp.pagecache) where it was. Every
# other edit of a token (revoked, renamed, expiry moved) still moves it, through a row
# trigger that compares the rows without that column; a whole-row comparison keeps the
# table's columns free to change in later migrations.
QUIET = """
DROP TRIGGER IF EXISTS tcp_data_generation ON tcp_apitoken;
CREATE TRIGGER tcp_data_generation AFTER INSERT OR DELETE OR TRUNCATE ON tcp_apitoken
    FOR EACH STATEMENT EXECUTE FUNCTION tcp_data_generation_bump();
CREATE TRIGGER tcp_data_generation_edit AFTER UPDATE ON tcp_apitoken FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION tcp_data_generation_bump();
"""
LOUD = """
DROP TRIGGER IF EXISTS tcp_data_generation_edit ON tcp_apitoken;
DROP TRIGGER IF EXISTS tcp_data_generation ON tcp_apitoken;
CREATE TRIGGER tcp_data_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON tcp_apitoken FOR EACH STATEMENT EXECUTE FUNCTION tcp_data_generation_bump();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tcp", "0005_data_generation"),
    ]

    operations = [migrations.RunSQL(QUIET, LOUD)]
