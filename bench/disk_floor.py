#!/usr/bin/env python3
"""The disk's own floor for a durable append: what the ledger's write-ahead log can at best do.

Writes FRAME bytes at increasing offsets of a file preallocated with zeros (as the ledger's
log segments are) and calls fdatasync after each, COUNT times, on the filesystem of DIRECTORY.
Prints one JSON line: syncs per second, p50 and p99 in milliseconds. One client, no batching:
the ledger's one-client p50 can approach this number, and its group commit carries many
redemptions per sync above it.

Usage: disk_floor.py [DIRECTORY] [--count 2000] [--frame-bytes 1024]
"""
import argparse
import json
import os
import tempfile
import time

SEGMENT_BYTES = 16 * 1024 * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=".")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--frame-bytes", type=int, default=1024)
    arguments = parser.parse_args()
    with tempfile.NamedTemporaryFile(dir=arguments.directory) as segment:
        zeros = b"\0" * (1024 * 1024)
        for _ in range(SEGMENT_BYTES // len(zeros)):
            segment.write(zeros)
        segment.flush()
        os.fsync(segment.fileno())
        frame = b"x" * arguments.frame_bytes
        latencies = []
        offset = 0
        started = time.perf_counter()
        for _ in range(arguments.count):
            before = time.perf_counter()
            os.pwrite(segment.fileno(), frame, offset)
            os.fdatasync(segment.fileno())
            latencies.append(time.perf_counter() - before)
            offset = (offset + arguments.frame_bytes) % (SEGMENT_BYTES - arguments.frame_bytes)
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "measure": "fdatasync floor",
        "frame_bytes": arguments.frame_bytes,
        "count": arguments.count,
        "syncs_per_s": round(arguments.count / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
    }))


if __name__ == "__main__":
    main()
