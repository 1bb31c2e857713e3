from django.apps import AppConfig


class TcpConfig(AppConfig):
    name = "tcp"
    verbose_name = "Parity core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from tcp.middleware import session_started

        # Django's own sign-in announces itself only through this signal; the session's
        # clock starts there, in the same save as the sign-in.
        user_logged_in.connect(session_started, dispatch_uid="parity-session-started")
