#!/usr/bin/env python3
"""Verify an openlfr audit chain independently of the lfr program.

    scripts/audit-verify.py HOME        (HOME holds lfr.db and audit.head)

Written from the description in docs/RECORDS.md with the Python standard
library only, so that an auditor need not trust the program that wrote the
records. Exit 0 and a summary when the chain verifies; exit 1 and the first
broken entry otherwise.
"""
import hashlib
import os
import sqlite3
import struct
import sys

DOMAIN = b"openlfr audit entry v1"


def field(b):
    return struct.pack(">Q", len(b)) + b


def entry_hash(seq, time, actor, action, obj, detail, prev):
    h = hashlib.blake2b(digest_size=32)
    h.update(field(DOMAIN))
    h.update(struct.pack(">Q", seq))
    for text in (time, actor, action, obj, detail):
        h.update(field(text.encode("utf-8")))
    h.update(prev)
    return h.digest()


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    home = sys.argv[1]
    # Read-only, so that verifying cannot change what it verifies.
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(home, "lfr.db"), uri=True)
    rows = db.execute("SELECT seq, time, actor, action, object, detail, prev_hash, hash"
                      " FROM audit ORDER BY seq")
    prev, expect, hashes = bytes(32), 1, {}
    for seq, time, actor, action, obj, detail, prev_hash, stored in rows:
        if seq != expect:
            print("audit entry %d: missing (next is %d)" % (expect, seq))
            return 1
        if bytes(prev_hash) != prev:
            print("audit entry %d: does not link to the entry before it" % seq)
            return 1
        if entry_hash(seq, time, actor, action, obj, detail, prev) != bytes(stored):
            print("audit entry %d: contents do not match its hash" % seq)
            return 1
        prev, expect = bytes(stored), expect + 1
        hashes[seq] = prev
    head = expect - 1
    try:
        with open(os.path.join(home, "audit.head")) as f:
            words = f.read().split()
    except FileNotFoundError:
        words = None
    if head and not words:
        print("audit.head is missing")
        return 1
    if words:
        if len(words) != 5 or words[0] != "openlfr-audit-head-v1" or words[1] != "seq" \
                or words[3] != "hash":
            print("audit.head is malformed")
            return 1
        a_seq, a_hash = int(words[2]), bytes.fromhex(words[4])
        if a_seq > head:
            print("audit entry %d: missing (audit.head records entry %d)" % (head + 1, a_seq))
            return 1
        if hashes[a_seq] != a_hash:
            print("audit entry %d: differs from audit.head" % a_seq)
            return 1
    print("audit chain ok: %d entries, head %d %s" % (head, head, prev.hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
