"""``python -m gdino_client``: the same as the ``gdino-annotate`` command."""

import sys

from gdino_client.commands.annotate import main

sys.exit(main())
