#!/usr/bin/env python3
"""Abusive clients against a running tympan-serve, measured (run by scripts/bench-slow-clients.sh).

Phases, each measured with wrk (8 connections, POST /predict of a real clip):
  baseline   nothing else connected;
  attack     IDLE connections that never send a byte, DRIP clients sending request headers one
             byte a second, and BODY clients that send headers then the body one byte a second;
  after      the attackers gone.
It also reports how many attacker connections the server closed on its own (a timeout) and the
server's open descriptors and RSS during the attack. Standard library only.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time


def wrk(url, lua, seconds):
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", lua, url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for p in ("50%", "99%"):
        m = re.search(rf"^\s+{p}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
        lat[p] = float(m.group(1)) * scale
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": lat["50%"],
        "p99_ms": lat["99%"],
        "errors": int(errors.group(1)) if errors else 0,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
    }


def proc_status(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
    return fds, rss


class Attackers:
    def __init__(self, host, port, idle, drip, body):
        self.stop = threading.Event()
        self.closed_by_server = 0
        self.lock = threading.Lock()
        self.socks = []
        for _ in range(idle):
            self.socks.append(("idle", socket.create_connection((host, port))))
        for _ in range(drip):
            self.socks.append(("drip", socket.create_connection((host, port))))
        for _ in range(body):
            s = socket.create_connection((host, port))
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                      b"Content-Length: 100000\r\n\r\n")
            self.socks.append(("body", s))
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        header = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n" + b"X: y\r\n" * 1000
        offset = 0
        alive = list(self.socks)
        while not self.stop.is_set() and alive:
            still = []
            for kind, s in alive:
                try:
                    if kind == "drip":
                        s.send(header[offset % len(header):offset % len(header) + 1])
                    elif kind == "body":
                        s.send(b"R")
                    else:
                        s.setblocking(False)
                        try:
                            if s.recv(1) == b"":
                                raise ConnectionResetError
                        except BlockingIOError:
                            pass
                        s.setblocking(True)
                    still.append((kind, s))
                except OSError:
                    with self.lock:
                        self.closed_by_server += 1
            alive = still
            offset += 1
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        self.thread.join()
        for _, s in self.socks:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--lua", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--drip", type=int, default=200)
    ap.add_argument("--body", type=int, default=200)
    ap.add_argument("--hold", type=int, default=40,
                    help="seconds the attackers stay before closing counts are read")
    a = ap.parse_args()
    url = f"http://127.0.0.1:{a.port}/predict"

    fds0, rss0 = proc_status(a.pid)
    base = wrk(url, a.lua, a.seconds)
    started = time.monotonic()
    attackers = Attackers("127.0.0.1", a.port, a.idle, a.drip, a.body)
    time.sleep(2)
    fds1, rss1 = proc_status(a.pid)
    during = wrk(url, a.lua, a.seconds)
    time.sleep(max(0.0, a.hold - (time.monotonic() - started)))
    closed = attackers.closed_by_server
    attackers.close()
    time.sleep(1)
    after = wrk(url, a.lua, a.seconds)

    n = a.idle + a.drip + a.body
    print(f"attackers: {a.idle} idle, {a.drip} header drip (1 B/s), {a.body} body drip (1 B/s)")
    print(f"{'phase':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'timeouts':>8}")
    for name, r in (("baseline", base), ("attack", during), ("after", after)):
        print(f"{name:<9} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>8} {r['timeouts']:>8}")
    print(f"throughput under attack / baseline: {during['rps'] / base['rps']:.2f}")
    print(f"p99 under attack / baseline: {during['p99_ms'] / base['p99_ms']:.2f}")
    print(f"server descriptors: {fds0} -> {fds1} during the attack ({n} attacker connections)")
    print(f"server RSS: {rss0} kB -> {rss1} kB ({(rss1 - rss0) / n:.1f} kB per attacker connection)")
    print(f"attacker connections closed by the server within {a.hold} s: {closed} of {n}")
    ok = during["errors"] == 0 and during["timeouts"] == 0 and during["rps"] > 0.5 * base["rps"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
