"""A stand-in service for the launcher's tests: it never serves.

It reports a port it does not listen on, or with NEVER_SERVING_SILENT=1 nothing at all.
"""

import os
import signal

if __name__ == "__main__":
    if not os.environ.get("NEVER_SERVING_SILENT"):
        print("listening on 127.0.0.1:1", flush=True)
    signal.pause()
