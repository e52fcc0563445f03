"""Any client under test: real registry clients run against an incident, judged from the outside.

This commit holds the client side: command templates and placeholders, the cell a client runs
in, and the presets (skopeo, podman, buildah, containerd's ctr, oras-py, python-dxf).
"""
