"""``gdino-playground``: the page to try prompts in a browser, in front of the service."""

from __future__ import annotations

import argparse

from gdino_client.commands.arguments import add_service_arguments, configure_logging, service_token
from gdino_client.http_serving import serve_until_interrupted
from gdino_client.playground import make_server
from handler.contract import defaults


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="gdino-playground",
        description="A page to try prompts: drop an image, type classes or a caption, see the boxes.",
    )
    p.add_argument("--host", default=defaults.HOST, help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=defaults.PLAYGROUND_PORT, help="port to listen on (default %(default)s)")
    add_service_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    settings = {"model": args.model, "box_threshold": args.box_threshold, "text_threshold": args.text_threshold}
    server = make_server(args.url, settings, service_token(args), args.host, args.port)
    return serve_until_interrupted(server, f"prompt playground for {args.url}")


if __name__ == "__main__":
    raise SystemExit(main())
