from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from engagements.demo import DEMO_PASSWORD, SCALES, DemoBuilder
from engagements.models import Account, Engagement, OneOnOne, RevenueEntry
from tcp.models import User


class Command(BaseCommand):
    help = "Build the demo organisation: staff in every role, accounts and engagements since 2017."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=2018, help="Same seed, same organisation.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when data exists.")
        parser.add_argument(
            "--reset", action="store_true", help="Delete existing people and accounts first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        has_data = User.objects.exists() or Account.objects.exists()
        if has_data and options["if_empty"]:
            self.stdout.write("The database already holds an organisation; nothing loaded.")
            return
        if has_data and not options["reset"]:
            raise CommandError("The database already holds data. Use --reset to replace it.")
        started = time.monotonic()
        with transaction.atomic():
            if options["reset"]:
                # Revenue protects its engagements and 1:1s protect their people.
                RevenueEntry.objects.all().delete()
                OneOnOne.objects.all().delete()
                Engagement.objects.all().delete()
                Account.objects.all().delete()
                User.objects.all().delete()
            counts = DemoBuilder(scale=SCALES[options["scale"]], seed=options["seed"]).build()
        # Bulk inserts leave the planner's statistics empty; refresh them for the new rows.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo organisation loaded in {time.monotonic() - started:.1f}s: "
                f"{counts['staff']} staff, {counts['accounts']} accounts, "
                f"{counts['engagements']} engagements. Logins (password '{DEMO_PASSWORD}'): "
                "leader, am.alex, dm.dana, tm.tariq, hm.harper, admin."
            )
        )
