"""``python -m mlp_tiers.cli``: the ``mlp-tiers`` command."""

import sys

from mlp_tiers.cli import main

sys.exit(main())
