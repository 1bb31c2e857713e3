"""Time a QBR from request to stored PDF against WeasyPrint alone: `make bench` runs it.

Run alone as `python -m tcp.devstack exec -- python bench/documents.py` with DATABASE_URL
pointing at a database holding a demo organisation (bench/run.py passes the large one).
For the busiest account (the most milestones), it measures in one run:

1. the whole job: the request, then the render a worker does (gather and snapshot the
   figures, template them into HTML, convert to PDF, store the file), and its queries;
2. WeasyPrint alone converting the same finished HTML to PDF.

Each is the median of several warm runs, the two taken in turn. It prints `BENCH-ROW {json}`
lines for bench/run.py and a readable table, then deletes the documents it made.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
RATIO_GOAL = 1.5
QUERY_GOAL = 30


def main() -> int:
    sys.path.insert(0, str(ROOT))
    media = tempfile.mkdtemp(prefix="parity-bench-media-")
    os.environ["MEDIA_ROOT"] = media
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tcp.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()

    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from engagements import services
    from engagements.documents import document_html, quarter_shift, quarter_start
    from engagements.models import Account, Document, DocumentKind
    from engagements.pdf import html_to_pdf
    from tcp.models import Role, User

    account = (
        Account.objects.annotate(n=Count("engagements__milestones")).order_by("-n", "id").first()
    )
    leader = User.objects.filter(roles__contains=[Role.SALES_LEADERSHIP], is_active=True).first()
    if account is None or leader is None:
        print("bench | documents: no demo organisation in this database", file=sys.stderr)
        return 1
    quarter = quarter_shift(quarter_start(timezone.localdate()), -1)

    def whole_job() -> tuple[float, int, Document]:
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            document = services.document_request(
                kind=DocumentKind.QBR, account=account, quarter=quarter, actor=leader
            )
            stored = services.document_render(document_id=document.pk)
        elapsed = time.perf_counter() - started
        assert stored, "the render did not store its document"
        document.refresh_from_db()
        return elapsed, len(queries), document

    made: list[int] = []
    try:
        _, _, warm = whole_job()  # imports, templates and fonts loaded once, as in a worker
        made.append(warm.pk)
        totals, counts, alone = [], [], []
        # Interleaved, so a busy moment of the machine weighs on both sides alike.
        for _ in range(RUNS):
            seconds, count, document = whole_job()
            made.append(document.pk)
            totals.append(seconds)
            counts.append(count)
            assert document.snapshot is not None
            html = document_html(document.snapshot)
            started = time.perf_counter()
            html_to_pdf(html)
            alone.append(time.perf_counter() - started)
    finally:
        for document in Document.objects.filter(pk__in=made):
            document.file.delete(save=False)
        Document.objects.filter(pk__in=made).delete()

    total, baseline = statistics.median(totals), statistics.median(alone)
    ratio = total / baseline
    rows = [
        {
            "label": "QBR request → stored PDF",
            "value_s": round(total, 4),
            "baseline_s": round(baseline, 4),
            "ratio": round(ratio, 3),
            "goal": f"<= {RATIO_GOAL}x WeasyPrint alone",
            "ok": ratio <= RATIO_GOAL,
            "note": f"{account.name}, {document.pages} pages, vs WeasyPrint on the same HTML",
        },
        {
            "label": "QBR queries",
            "value": max(counts),
            "baseline": QUERY_GOAL,
            "ratio": round(max(counts) / QUERY_GOAL, 3),
            "goal": f"<= {QUERY_GOAL}",
            "ok": max(counts) <= QUERY_GOAL,
            "note": "request and render, the same for every run",
        },
    ]
    for row in rows:
        print("BENCH-ROW " + json.dumps(row), flush=True)
    print()
    print(f"QBR of {account.name} for Q{(quarter.month - 1) // 3 + 1} {quarter.year}")
    print(f"  whole job     {total * 1000:8.1f} ms  (median of {RUNS})")
    print(f"  WeasyPrint    {baseline * 1000:8.1f} ms  (the same HTML)")
    print(f"  ratio         {ratio:8.2f}×  (goal ≤ {RATIO_GOAL}×)")
    print(f"  queries       {max(counts):8d}   (goal ≤ {QUERY_GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
