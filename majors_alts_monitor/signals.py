"""``python -m majors_alts_monitor.signals --asof D --config C``"""

from .cli import signals_entry

if __name__ == "__main__":
    signals_entry()
