"""What a run reports: kpis.json, the by-regime metrics and the daily frames (``assembly``),
the next-day decision and its explanation (``decision``), the console summaries
(``summary``) and the bytes of every output file with the run's manifest (``outputs``). Writing
them, under the output root's lock, as one generation switched in by one rename, is
``publish``'s job (docs/publication.md)."""
