"""The lake: read-only access to a research lake and its checks (``data_io``, ``scan``,
``tables``), the importers that build and top up a user-owned lake (``importers``), and
synthetic lakes with planted truth (``synthetic``, ``demo``). Only this wing knows where a lake
is and reads it; only the importers write one, and never the research lake."""
