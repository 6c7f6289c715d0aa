"""``python -m majors_alts_monitor.run --start S --end E --config C``"""

from .cli import run_entry

if __name__ == "__main__":
    run_entry()
