"""``python -m tests.fuzz``: see :mod:`tests.fuzz.run`."""

import sys

from .run import main

sys.exit(main())
