"""``python -m trust_dw.bench day --ds D --out F``: one measured day (the driver's child process)."""

import sys

from trust_dw.bench.commands import main

sys.exit(main())
