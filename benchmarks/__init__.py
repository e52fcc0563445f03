"""Side-by-side benchmarks of flakymirror against the Debian ``docker-registry`` (distribution).

Run ``make bench`` (or ``.venv/bin/python benchmarks/run.py [--quick] [--only NAME]``).
"""
