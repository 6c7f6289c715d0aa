"""What a run reports: kpis.json, the by-regime metrics and the daily frames (``assembly``),
the next-day decision and its explanation (``decision``), the console summaries
(``summary``) and the atomic writers and output lock (``outputs``). Only this wing and the
dashboard write outputs."""
