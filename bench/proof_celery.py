"""The Celery app of the proof's workers: Parity's own, with a short visibility timeout.

With the Redis transport, a job taken by a worker that is then killed (kill -9, so it
acknowledges nothing) goes back on the queue only once its visibility timeout has passed:
an hour by default. Documents do not wait for that (the sweep re-queues them from the
database), but a scorecard rollup has no such row, so the proof shortens the timeout to
see every job of the run complete within it.
"""

from tcp.celery import app

VISIBILITY_TIMEOUT_SECONDS = 20

app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}

__all__ = ["app"]
