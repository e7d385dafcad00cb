#!/usr/bin/env python3
"""Checks a voucher ledger event export (or backup) without the ledger's code.

Usage: check_chain.py FILE   (FILE from `voucherctl events export --output FILE`, or a backup
written by `voucherctl backup FILE`; header and trailer lines of a backup are skipped).

Each event line is the stored record as JSON with its own SHA-256 appended as the last field:
    {"format":2,"sequence":7,"previous_sha256":"…","event":{"type":…},"sha256":"…"}
(records written by builds before event format 2 have no "format" key and start with
"sequence"; both chain the same way).
Remove `,"sha256":"<64 hex>"` from the end, hash what is left (UTF-8 bytes, no newline), and it
must equal that sha256; the next line's previous_sha256 must equal it too. The first event names
64 zeros. Prints the last sequence and hash (keep them: a later export must begin the same way).
Exit 0 when the chain holds, 1 naming the first bad line otherwise.
"""
import hashlib
import json
import sys

GENESIS = "0" * 64
SUFFIX_LENGTH = len(',"sha256":""}') + 64


def check(path):
    previous_hash, previous_sequence = GENESIS, 0
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip(b"\n")
            # A backup's header names its file format as text; an event's format is a number.
            if line.startswith(b'{"format":"') or line.startswith(b'{"end"'):
                continue
            body, suffix = line[:-SUFFIX_LENGTH], line[-SUFFIX_LENGTH:]
            if not suffix.startswith(b',"sha256":"') or not suffix.endswith(b'"}'):
                return fail(number, "no sha256 field at the end")
            declared = suffix[len(b',"sha256":"'):-2].decode("ascii")
            record = body + b"}"
            actual = hashlib.sha256(record).hexdigest()
            if actual != declared:
                return fail(number, f"contents hash to {actual}, the line says {declared}")
            parsed = json.loads(record)
            if parsed["sequence"] != previous_sequence + 1 and previous_sequence != 0:
                return fail(number, f"event {parsed['sequence']} follows event {previous_sequence}")
            if previous_sequence != 0 and parsed["previous_sha256"] != previous_hash:
                return fail(number, f"event {parsed['sequence']} does not name event {previous_sequence}'s hash")
            if parsed["sequence"] == 1 and parsed["previous_sha256"] != GENESIS:
                return fail(number, "the first event must name 64 zeros")
            previous_hash, previous_sequence = actual, parsed["sequence"]
    print(f"chain holds: {previous_sequence} events, last sha256 {previous_hash}")
    return 0


def fail(number, message):
    print(f"line {number}: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(check(sys.argv[1]))
