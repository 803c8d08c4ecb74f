"""What both python-binance scripts share: one line per check, and known gaps.

A check prints "ok NAME" or "FAIL NAME: why"; a name in the script's
KNOWN_GAPS prints "gap NAME: why" instead of failing, and fails once it
works, so that it is taken off the list.
"""

import asyncio
import sys
import traceback

KNOWN_GAPS: set = set()

failures = []


def check(name, condition, detail=""):
    gap = name in KNOWN_GAPS
    if condition and not gap:
        print(f"ok {name}", flush=True)
    elif condition:
        print(f"FAIL {name}: works now; take it off KNOWN_GAPS", flush=True)
        failures.append(name)
    elif gap:
        print(f"gap {name}: {str(detail)[:200]}", flush=True)
    else:
        print(f"FAIL {name}: {str(detail)[:500]}", flush=True)
        failures.append(name)


def attempt(name, run, ok):
    """A check whose call may raise (a missing endpoint raises)."""
    try:
        result = run()
        check(name, ok(result), result)
    except Exception as e:
        check(name, False, f"{type(e).__name__}: {e}")


async def recv_n(socket, n, timeout=20):
    """The first `n` messages of a python-binance socket."""
    messages = []
    async with socket as s:
        while len(messages) < n:
            messages.append(await asyncio.wait_for(s.recv(), timeout))
    return messages


def run(rest_checks, stream_checks):
    """Run the checks (an exception is a failure) and exit 1 if any failed."""
    try:
        rest_checks()
        asyncio.run(stream_checks())
    except Exception:
        traceback.print_exc()
        failures.append("exception")
    sys.exit(1 if failures else 0)
