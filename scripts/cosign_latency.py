#!/usr/bin/env python3
"""Added latency from a batch's checkpoint to its cosigned checkpoint, with three local witnesses.

Starts three `deedlog witness` processes and `deedlog serve --witness …` on loopback, runs a demo
against the node, and polls a proof bundle every 2 ms. For each checkpoint the log signed it takes the
checkpoint's own `time <ms>` line and the first moment a
carried all three cosignatures; the difference is the added latency. Usage:

    scripts/cosign_latency.py target/release/deedlog [deals]
"""
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(binary, data, extra):
    proc = subprocess.Popen([binary, "serve", "--data", data, "--bind", "127.0.0.1:0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("deedlog serving on "):
            return proc, line.split()[3]
    raise SystemExit("serve did not start")


def main():
    binary = sys.argv[1]
    deals = sys.argv[2] if len(sys.argv) > 2 else "3"
    tmp = tempfile.mkdtemp(prefix="cosign-latency-")
    data = os.path.join(tmp, "data")
    proc, _ = serve(binary, data, [])
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    log_vkey = open(os.path.join(data, "log.vkey")).read().strip()
    witnesses, args = [], []
    for i in range(3):
        key = os.path.join(tmp, f"w{i}.key")
        subprocess.run([binary, "keygen", "--out", key], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        witnesses.append(subprocess.Popen(
            [binary, "witness", "--data", os.path.join(tmp, f"w{i}"), "--key", key, "--log", log_vkey,
             "--bind", f"127.0.0.1:{port}", "--name", f"witness.test/w{i}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        args += ["--witness", f"http://127.0.0.1:{port}"]
    time.sleep(1)
    proc, url = serve(binary, data, args)
    host = url.removeprefix("http://")
    stop = threading.Event()

    cosigned = []  # (size, first seen ms), in the order seen

    def parse(note):
        body, sigs = note.split("\n\n", 1)
        lines = body.split("\n")
        t = next((int(l[5:]) for l in lines[3:] if l.startswith("time ")), None)
        cosigs = sum(1 for l in sigs.splitlines() if l.startswith("— witness.test/"))
        return int(lines[1]), t, cosigs

    def poll():
        conn = http.client.HTTPConnection(host, timeout=5)
        while not stop.is_set():
            conn.request("GET", "/v1/log/entries/0")
            answer = json.loads(conn.getresponse().read())
            now = time.time() * 1000
            bundle = answer.get("proof") or answer.get("bundle") or answer
            note = (bundle.get("witnessed") or {}).get("checkpoint") or bundle.get("checkpoint")
            if note:
                size, _, cosigs = parse(note)
                if cosigs == 3 and (not cosigned or cosigned[-1][0] < size):
                    cosigned.append((size, now))
            time.sleep(0.002)

    poller = threading.Thread(target=poll)
    poller.start()
    demo_started = time.time() * 1000
    subprocess.run([binary, "demo", "--server", url, "--data", data, "--deals", deals],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    time.sleep(2)
    stop.set()
    poller.join()
    # Every checkpoint the log signed, with its time line.
    conn = http.client.HTTPConnection(host, timeout=5)
    times, start = {}, 1
    while True:
        conn.request("GET", f"/v1/log/checkpoints?from={start}&to={start + 9999}")
        page = json.loads(conn.getresponse().read())
        for c in page["checkpoints"]:
            size, t, _ = parse(c["note"])
            times[size] = t
        if not page.get("next_from"):
            break
        start = page["next_from"]
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    for w in witnesses:
        w.kill()
    lat = []
    for size, t in sorted(times.items()):
        first = next((seen for s, seen in cosigned if s >= size), None)
        # Checkpoints signed before the demo (the first start's reference data) predate the
        # witnesses and are left out.
        if first is not None and t is not None and t >= demo_started:
            lat.append(first - t)
    lat.sort()
    result = {"checkpoints": sum(1 for t in times.values() if t and t >= demo_started), "measured": len(lat),
              "cosigned_sizes_seen": len(cosigned),
              "p50_ms": round(statistics.median(lat), 1) if lat else None,
              "p90_ms": round(lat[int(len(lat) * 0.9)], 1) if lat else None,
              "max_ms": round(lat[-1], 1) if lat else None,
              "min_ms": round(lat[0], 1) if lat else None}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
