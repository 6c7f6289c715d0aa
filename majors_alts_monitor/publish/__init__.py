"""Publication: how outputs and an importer's lake are written so that a reader never sees half
a write, one writer at a time (``lock``), paths checked before writing (``paths``), complete
sets switched in by one rename (``generations``, ``layout``), files that accumulate
(``accumulate``) and ``majors-alts verify`` (``verify``). A base-level package: it imports only
``errors`` and the standard library, so the report, sweep and importer wings all write through it.
See docs/publication.md."""
