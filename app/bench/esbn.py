"""ESBN's bench is the deghosting bench (``python -m app.bench.deghost``): ESBN side by side
with the classical merges and deghosting on the same dynamic and static brackets."""

from app.bench.deghost import main

if __name__ == "__main__":
    raise SystemExit(main())
