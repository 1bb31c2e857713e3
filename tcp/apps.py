from django.apps import AppConfig


class TcpConfig(AppConfig):
    name = "tcp"
    verbose_name = "Parity core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from tcp.middleware import session_started
        from tcp.pagecache import watch_every_table

        # Django's own sign-in announces itself only through this signal; the session's
        # clock starts there, in the same save as the sign-in.
        user_logged_in.connect(session_started, dispatch_uid="parity-session-started")
        # After every migrate, when all its tables exist: a new table is watched too.
        post_migrate.connect(watch_every_table, sender=self, dispatch_uid="parity-watch-tables")
