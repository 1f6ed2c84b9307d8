"""Retrain recommenders now, with a progress bar: ``manage.py personalize_train [--alias A] [--force]``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from personalize.recommenders import get_recommender, recommender_aliases, training


def _moment(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        parsed = datetime(day.year, day.month, day.day) if day else None
    if parsed is None:
        raise CommandError(f"--{option}: “{value}” is not a date (YYYY-MM-DD or ISO date-time).")
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class Command(BaseCommand):
    help = "Train, evaluate and (if it is at least as good) activate recommender models."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--alias", help="One recommender alias (default: every trainable one, then the trending lists).")
        parser.add_argument("--since", help="Oldest event to learn from (date or ISO date-time).")
        parser.add_argument("--until", help="Newest event to learn from.")
        parser.add_argument("--force", action="store_true", help="Activate even if it scores below the active version.")
        refit = parser.add_mutually_exclusive_group()
        refit.add_argument(
            "--no-refit", action="store_true", help="Serve the model fitted for the evaluation instead of refitting on all events (half the time)."
        )
        refit.add_argument(
            "--refit", action="store_true", help="Always refit on all events (default: only up to the backend's REFIT_MAX_EVENTS)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (cron, logs).")

    def handle(self, *args: Any, **options: Any) -> None:
        since, until = _moment(options["since"], "since"), _moment(options["until"], "until")
        if since and until and since >= until:
            raise CommandError("--since must be before --until.")
        aliases = recommender_aliases()
        if options["alias"]:
            if options["alias"] not in aliases:
                raise CommandError(f"Unknown recommender “{options['alias']}”; configured: {', '.join(aliases)}.")
            if not get_recommender(options["alias"]).trainable:
                raise CommandError(f"Recommender “{options['alias']}” has nothing to train (its lists refresh on their own).")
            aliases = [options["alias"]]
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if options["no_progress"]:
                return
            bar = bars.get(stage)
            if bar is None or bar.total != total or done < bar.n:
                if bar is not None:
                    bar.close()
                bar = bars[stage] = tqdm(total=total, desc=stage, unit="", leave=False, file=self.stderr._out)
            bar.update(done - bar.n)

        since, until = training.window(since, until)
        data = training.load_training_data(since, until, progress=progress)
        if not data.n_events:
            raise CommandError(training.window_message(since, until))
        self.stdout.write(f"{data.n_events} events, {data.n_users} shoppers, {data.n_items} products.")
        failed = []
        for alias in aliases:
            if not get_recommender(alias).trainable:
                continue
            version = training.train(
                alias=alias, since=since, until=until, force=options["force"], progress=progress, data=data,
                refit=False if options["no_refit"] else (True if options["refit"] else None),
            )
            for bar in bars.values():
                bar.close()
            bars.clear()
            self._report(version)
            if version.status == version.Status.FAILED:
                failed.append(alias)
        if not options["alias"]:
            refreshed = training.refresh_lists(data)
            self.stdout.write(f"Refreshed lists: {', '.join(refreshed) or '-'}.")
        if failed:
            raise CommandError(f"Training failed for: {', '.join(failed)} (the active versions keep serving).")

    def _report(self, version: Any) -> None:
        model, base = version.metrics.get("model", {}), version.metrics.get("baseline", {})
        line = f"{version.alias} #{version.pk}: {version.get_status_display()}"
        if model:
            line += (
                f" — validation NDCG@10 {model.get('ndcg@10', 0):.4f} (popular {base.get('ndcg@10', 0):.4f}),"
                f" P@10 {model.get('precision@10', 0):.4f}, R@10 {model.get('recall@10', 0):.4f},"
                f" coverage {model.get('coverage', 0):.3f}, {version.training_seconds:.1f}s"
            )
        chosen = version.metrics.get("tuning", {}).get("chosen")
        if chosen:
            line += "; chose " + ", ".join(f"{name}={value}" for name, value in chosen.items())
        style = self.style.ERROR if version.status == version.Status.FAILED else self.style.SUCCESS
        self.stdout.write(style(line))
        if version.error:
            self.stderr.write(version.error.splitlines()[0])
