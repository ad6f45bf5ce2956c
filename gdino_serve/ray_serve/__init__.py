"""The Ray Serve front end: the service's HTTP API on a maintained engine that spans machines.

Never part of the ``.mar``. A Gateway deployment translates HTTP into the mapping the shared
front-end code reads and calls a batched Detector deployment through a handle; the Detector runs
the same pipeline and reply code as the TorchServe handler (``handler.frontends.http``), so every
answer and error body is the same. ``app`` builds the application (``serve deploy`` names
``gdino_serve.ray_serve.app:build_app``), ``config`` reads deploy/ray/serve-config.yaml, ``local``
serves on one machine (``gdino-serve --engine ray``), ``cluster`` starts test and benchmark clusters.
"""
