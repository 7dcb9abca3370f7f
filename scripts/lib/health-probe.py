#!/usr/bin/env python3
"""Asks GET /health of a loopback server every INTERVAL seconds for SECONDS seconds, each time on a
new connection (as an orchestrator's probe does), and prints each answer's time in seconds, one a
line (a failed or non-200 answer counts as 10 s). One long-lived interpreter, so the figures are
the server's and the network's, not a client process's start-up (curl per probe added ~10 ms on a
busy 2-core machine).

Usage: health-probe.py PORT SECONDS [INTERVAL, default 0.05]
"""
import http.client
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
end = time.monotonic() + seconds
while time.monotonic() < end:
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/health")
        answer = conn.getresponse()
        answer.read()
        conn.close()
        took = time.perf_counter() - start if answer.status == 200 else 10.0
    except OSError:
        took = 10.0
    print(f"{took:.6f}")
    time.sleep(interval)
