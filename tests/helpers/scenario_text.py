"""Scenario files as text, for the scenario tests."""

#: A small valid scenario without a [mirror] table (loading it needs nothing from the mirror).
MINIMAL = """\
name = "minimal"
description = "a healthy mirror; the image opens at once"
source = "https://github.com/buildpacks/lifecycle/pull/1675"

[[images]]
ref = "cnb/run:jammy"
layers = 2
seed = 7

[action]
kind = "open"
image = "cnb/run:jammy"

[expect]
outcome = "success"
attempts = 1

[expect.sleeps]
opener = []
transport = []

[expect.requests]
manifest = 1
"GET blob" = 1
"""
