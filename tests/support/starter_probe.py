"""Run by the process starter's tests: reports what the fork sees, then exits as told.

python -m support.starter_probe EXIT_CODE [SLEEP_SECONDS]
"""

from __future__ import annotations

import json
import os
import sys
import time

if __name__ == "__main__":
    seen = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "probe": os.environ.get("PROBE"),
        "home": "HOME" in os.environ,
    }
    print(json.dumps(seen))
    print("to stderr", file=sys.stderr)
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
    sys.exit(int(sys.argv[1]))
