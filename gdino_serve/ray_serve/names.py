"""The names Serve knows the application and its deployments by (no Ray import: callers set Ray's
environment before anything imports Ray)."""

from __future__ import annotations

APP_NAME = "gdino"
DETECTOR, GATEWAY = "Detector", "Gateway"
