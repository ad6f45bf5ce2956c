"""The service's contract, shared by server and client: defaults, error types, class-name rules.

Torch-free and dependency-free: ``gdino_client`` imports this package and nothing else of ``handler``.
"""
