#!/usr/bin/env python3
"""Verify an openlfr audit log independently of the lfr program.

    scripts/audit-verify.py HOME [--checkpoint FILE] [--key K]... [--witness-key K]...
                                 [--require-witness N] [--time-tolerance SECONDS]
    scripts/audit-verify.py --proof FILE --key K
    scripts/audit-verify.py --consistency REQUEST --checkpoint FILE --key K

The first form checks a home (it needs lfr.db and audit.head; log.pub gives
the log keys unless --key is given; no media key, and nothing is written):
the hash chain, entry times, the Merkle tree (RFC 9162, SHA-256) against the
signed head, audit.head and every published checkpoint, and with
--checkpoint that the log extends an earlier checkpoint, through a
consistency proof checked as RFC 9162 2.1.4.2 says, cosigned by --require-
witness of the --witness-key witnesses. The second checks an inclusion proof
(c2sp.org/tlog-proof@v1, made by `lfr audit prove`) against the log key
alone, and prints the entry it proves. The third checks a witness request
(made by `lfr audit checkpoint --old N`) against the earlier checkpoint of N
entries: the log's later checkpoint extends it.

Written from docs/RECORDS.md with the Python standard library only (Ed25519
included, from RFC 8032), so that an auditor need not trust the program that
wrote the records. Exit 0 and a summary when everything verifies; exit 1 and
the first problem, one line, otherwise; exit 2 for bad arguments. Records are
not checked against their entries here: `lfr audit verify` does that.
"""
import base64
import binascii
import hashlib
import os
import sqlite3
import struct
import sys
import time as _time

DOMAIN = b"openlfr audit entry v1"
TOLERANCE_S = 300
EM_DASH = "\u2014 "


class Bad(Exception):
    """A verification failure: its message is the one line printed."""


# ---- Ed25519 verification (RFC 8032, section 5.1.7) ------------------------

P = 2**255 - 19
ORDER = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    A = (a[1] - a[0]) * (b[1] - b[0]) % P
    B = (a[1] + a[0]) * (b[1] + b[0]) % P
    C = 2 * a[3] * b[3] * D % P
    Dd = 2 * a[2] * b[2] % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def ed25519_verify(public, msg, sig):
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decompress(public)
    r = _decompress(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= ORDER:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % ORDER
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# ---- Signed notes, keys, checkpoints (c2sp.org) ---------------------------------


def b64(text, length=None):
    """Strict standard base64: one encoding per value."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Bad("not base64: %.40s" % text)
    if base64.b64encode(raw).decode() != text or (length is not None and len(raw) != length):
        raise Bad("not base64 of %s bytes: %.40s" % (length, text))
    return raw


def key_id(name, kind, public):
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def name_ok(name):
    return 0 < len(name) <= 128 and all(0x20 < ord(c) < 0x7F and c != "+" for c in name)


class Verifier:
    def __init__(self, text):
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not name_ok(parts[0]) or len(parts[1]) != 8:
            raise Bad("not a verifier key (name+id+key): %.60s" % text.strip())
        raw = b64(parts[2], 33)
        self.name, self.kind, self.public = parts[0], raw[0], raw[1:]
        if self.kind not in (1, 4) or key_id(self.name, self.kind, self.public).hex() != parts[1]:
            raise Bad("verifier key %s: its id does not match the key" % self.name)
        self.text = text.strip()


def parse_note(text):
    """(signed text, [(name, key id, signature bytes)]) of a signed note."""
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise Bad("signed note: does not end with a newline, or holds a control character")
    split = text.rfind("\n\n")
    if split <= 0:
        raise Bad("signed note: no blank line before the signatures")
    body, sigs = text[: split + 1], []
    for line in text[split + 2 :].splitlines():
        if not line.startswith(EM_DASH):
            raise Bad("signed note: a signature line does not start with an em dash")
        name, _, sig = line[len(EM_DASH) :].partition(" ")
        if not name_ok(name):
            raise Bad("signed note: a malformed key name")
        raw = b64(sig)
        if len(raw) < 5:
            raise Bad("signed note: a signature is too short")
        sigs.append((name, raw[:4], raw[4:]))
    if not sigs:
        raise Bad("signed note: no signature")
    return body, sigs


def note_verify(body, sigs, key):
    """1 when key signed the note, 0 when it did not, -1 when its line fails."""
    kid = key_id(key.name, key.kind, key.public)
    for name, sid, sig in sigs:
        if name != key.name or sid != kid:
            continue
        msg = body.encode()
        if key.kind == 4:
            if len(sig) != 72:
                return -1
            msg = b"cosignature/v1\ntime %d\n" % struct.unpack(">Q", sig[:8])[0] + msg
            sig = sig[8:]
        return 1 if ed25519_verify(key.public, msg, sig) else -1
    return 0


def parse_checkpoint(body):
    lines = body.split("\n")[:-1]
    if len(lines) < 3 or not all(lines):
        raise Bad("checkpoint: fewer than three non-empty lines")
    if not lines[1].isdigit() or (len(lines[1]) > 1 and lines[1][0] == "0"):
        raise Bad("checkpoint: tree size is not a decimal without leading zeros")
    return lines[0], int(lines[1]), b64(lines[2], 32)


def open_checkpoint(text, keys, what):
    body, sigs = parse_note(text)
    origin, size, root = parse_checkpoint(body)
    for k in keys:
        r = note_verify(body, sigs, k)
        if r < 0:
            raise Bad("%s: the signature by %s does not verify" % (what, k.name))
        if r > 0:
            return origin, size, root, body, sigs, k
    raise Bad("%s: not signed by a trusted log key" % what)


# ---- The Merkle tree (RFC 9162, SHA-256) ---------------------------------------


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """The root of a list of leaf hashes, by the RFC's definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


class Frontier:
    """The roots of the perfect subtrees: enough to append and to find the root."""

    def __init__(self):
        self.size, self.h = 0, []

    def push(self, leaf):
        cur, s = leaf, self.size
        while s & 1:
            cur = node(self.h.pop(), cur)
            s >>= 1
        self.h.append(cur)
        self.size += 1

    def root(self):
        if not self.h:
            return hashlib.sha256(b"").digest()
        r = self.h[-1]
        for x in reversed(self.h[:-1]):
            r = node(x, r)
        return r


def consistency_proof(leaves, m):
    """SUBPROOF(m, leaves, True) of RFC 9162 2.1.4.1."""

    def sub(m, d, b):
        if m == len(d):
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < len(d):
            k *= 2
        if m <= k:
            return sub(m, d[:k], b) + [mth(d[k:])]
        return sub(m - k, d[k:], False) + [mth(d[:k])]

    return [] if m == 0 or m == len(leaves) else sub(m, leaves, True)


def check_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def check_consistency(m, n, old_root, new_root, proof):
    """RFC 9162 2.1.4.2 (with the empty and equal cases)."""
    if m > n:
        return False
    if m == n:
        return not proof and old_root == new_root
    if m == 0:
        return not proof
    if not proof:
        return False
    proof = list(proof)
    if m & (m - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# ---- Entries ------------------------------------------------------------------------


def field(b):
    return struct.pack(">Q", len(b)) + b


def encode(seq, fields, prev):
    """The canonical bytes of an entry (docs/RECORDS.md, "Hash")."""
    return field(DOMAIN) + struct.pack(">Q", seq) + b"".join(field(f) for f in fields) + prev


def decode(data):
    """An entry's (seq, fields as bytes, prev_hash) from its canonical bytes."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise Bad("proof: the entry's bytes are cut short")
        pos += n
        return data[pos - n : pos]

    def text():
        return take(struct.unpack(">Q", take(8))[0])

    if text() != DOMAIN:
        raise Bad("proof: the extra data is not an openlfr audit entry")
    seq = struct.unpack(">Q", take(8))[0]
    fields = [text() for _ in range(5)]
    prev = take(32)
    if pos != len(data):
        raise Bad("proof: bytes after the entry")
    return seq, fields, prev


def utc_ms(t):
    """Milliseconds of a stored entry time (2026-11-24T09:30:00.000Z), or None."""
    try:
        s = t.decode("ascii")
        if len(s) != 24 or s[10] != "T" or s[-1] != "Z":
            return None
        st = _time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
        import calendar

        return calendar.timegm(st) * 1000 + int(s[20:23])
    except (UnicodeDecodeError, ValueError):
        return None


# ---- A home ---------------------------------------------------------------------------


def connect(home):
    """The database, read only: an immutable file when a read-only folder
    keeps SQLite from its -shm file and no -wal file holds changes."""
    path = os.path.join(home, "lfr.db")
    if not os.path.exists(path):
        raise Bad("%s: not an lfr home (no lfr.db)" % home)
    quoted = path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")
    try:
        db = sqlite3.connect("file:%s?mode=ro" % quoted, uri=True)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as e:
        wal = path + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise Bad("%s: %s; its -wal file holds changes that cannot be read without its "
                      "-shm file in a folder it may not write" % (path, e))
        db = sqlite3.connect("file:%s?immutable=1" % quoted, uri=True)
    db.text_factory = bytes
    return db


def read_text_file(path, limit=8 << 20):
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Bad("%s: too large" % path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("%s: not UTF-8" % path)


def load_keys(args, home):
    keys = []
    for k in args:
        text = k if "+" in k and not os.path.exists(k) else read_text_file(k).splitlines()[0]
        keys.append(Verifier(text))
    if not keys and home:
        try:
            for line in read_text_file(os.path.join(home, "log.pub")).splitlines():
                if line.strip():
                    keys.append(Verifier(line))
        except FileNotFoundError:
            pass
    return keys


def verify_home(home, opts):
    keys = load_keys(opts["key"], home)
    witnesses = [Verifier(k if "+" in k and not os.path.exists(k) else
                          read_text_file(k).splitlines()[0]) for k in opts["witness_key"]]
    try:
        anchor = read_text_file(os.path.join(home, "audit.head"), 65536)
    except FileNotFoundError:
        anchor = None
    db = connect(home)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    has_log = b"log_head" in tables or "log_head" in tables
    head = published = None
    if has_log:
        head = db.execute("SELECT size, frontier, note, typeof(note) FROM log_head WHERE id = 1"
                          ).fetchone()
        published = [(s, n) for s, n in db.execute(
            "SELECT size, note FROM log_checkpoints ORDER BY size")]
    outside = None
    if opts["checkpoint"]:
        try:
            outside = open_checkpoint(read_text_file(opts["checkpoint"]), keys,
                                      "the checkpoint given")
        except Bad as e:
            raise Bad(str(e))

    # The sizes whose roots are compared: the signed head, audit.head, the
    # published checkpoints and the one given (read now, checked below).
    wanted = set()
    for text in ([head[2].decode("utf-8", "replace")] if head else []) + \
            ([anchor] if anchor and has_log and not anchor.startswith("openlfr-audit-head")
             else []) + [p_note.decode("utf-8", "replace") for _, p_note in published or []]:
        try:
            wanted.add(parse_checkpoint(parse_note(text)[0])[1])
        except Bad:
            pass
    rows = db.execute("SELECT seq, time, actor, action, object, detail, prev_hash, hash,"
                      " typeof(time), typeof(actor), typeof(action), typeof(object),"
                      " typeof(detail) FROM audit ORDER BY seq")
    prev, expect, latest, latest_seq = bytes(32), 1, None, 0
    tree, leaves, roots = Frontier(), [], {0: hashlib.sha256(b"").digest()}
    v1_hash = {}
    tolerance = opts["tolerance"] * 1000
    for row in rows:
        seq, fields, prev_hash, stored, types = row[0], list(row[1:6]), row[6], row[7], row[8:]
        if seq != expect:
            if seq > expect:
                raise Bad("audit entry %d: entry is missing (the next entry is %d)" % (expect, seq))
            raise Bad("audit entry %d: entry is out of order" % expect)
        if any(t != b"text" for t in types):
            raise Bad("audit entry %d: entry has a field that is not text: written outside lfr"
                      % seq)
        if bytes(prev_hash or b"") != prev:
            raise Bad("audit entry %d: does not link to the entry before it" % seq)
        data = encode(seq, fields, prev)
        h = hashlib.blake2b(data, digest_size=32).digest()
        if h != bytes(stored or b""):
            raise Bad("audit entry %d: contents do not match its hash" % seq)
        ms = utc_ms(fields[0])
        if ms is None:
            raise Bad("audit entry %d: its time is not a UTC time" % seq)
        if latest is not None and ms < latest - tolerance:
            raise Bad("audit entry %d: its time is earlier than entry %d's by more than %d s: "
                      "the clock was set back" % (seq, latest_seq, opts["tolerance"]))
        if latest is None or ms > latest:
            latest, latest_seq = ms, seq
        leaf = leaf_hash(data)
        tree.push(leaf)
        if outside:
            leaves.append(leaf)
        if seq in wanted:
            roots[seq] = tree.root()
        v1_hash[seq] = h
        prev, expect = h, expect + 1
    n = expect - 1
    lines = ["audit chain ok: %d entries, head %d %s" % (n, n, prev.hex())]

    if not has_log:
        if n and not anchor:
            raise Bad("audit.head is missing")
        if anchor:
            w = anchor.split()
            if len(w) != 5 or w[0] != "openlfr-audit-head-v1" or w[1] != "seq" or w[3] != "hash":
                raise Bad("audit.head is malformed")
            try:
                a_seq, a_hash = int(w[2]), bytes.fromhex(w[4])
            except ValueError:
                raise Bad("audit.head is malformed")
            if a_seq > n:
                raise Bad("audit entry %d: missing (audit.head records entry %d)" % (n + 1, a_seq))
            if v1_hash.get(a_seq) != a_hash:
                raise Bad("audit entry %d: differs from audit.head" % a_seq)
        return lines

    if not keys:
        raise Bad("no trusted log key: the home has no log.pub and none was given")
    if head is None:
        raise Bad("the log's signed head (log_head) is missing")
    if head[3] != b"text":
        raise Bad("the log's signed head is malformed")
    try:
        note_text = head[2].decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("the log's signed head is not UTF-8")
    _, size, root, _, _, key = open_checkpoint(note_text, keys, "the log's signed head")
    if head[0] != size:
        raise Bad("the log's signed head: its size is not its checkpoint's: changed outside lfr")
    roots[n] = tree.root()
    if n > size:
        raise Bad("audit entry %d: entry was added without the log key: the signed head covers"
                  " entries 1 to %d only" % (size + 1, size))
    if n < size:
        raise Bad("audit entry %d: entries %d to %d are missing: the signed head covers %d"
                  % (n + 1, n + 1, size, size))
    signed = [(size, root, "the signed head")]
    if anchor is None:
        raise Bad("audit.head is missing")
    if not anchor.startswith("openlfr-audit-head-v1"):
        _, a_size, a_root, _, _, _ = open_checkpoint(anchor, keys, "audit.head")
        if a_size > n:
            raise Bad("audit entry %d: entries %d to %d are missing (audit.head records %d)"
                      % (n + 1, n + 1, a_size, a_size))
        signed.append((a_size, a_root, "audit.head"))
    for p_size, p_note in published:
        _, c_size, c_root, _, _, _ = open_checkpoint(
            p_note.decode("utf-8", "replace"), keys,
            "published checkpoint of %d entries" % p_size)
        if c_size != p_size or c_size > n:
            raise Bad("published checkpoint of %d entries: does not fit the log" % p_size)
        signed.append((c_size, c_root, "a published checkpoint"))
    lo, hi, hi_what = 0, None, ""
    for s_size, s_root, what in signed:
        if roots.get(s_size) == s_root:
            lo = max(lo, s_size)
        elif hi is None or s_size < hi:
            hi, hi_what = s_size, what
    if hi is not None:
        if lo >= hi:
            raise Bad("the log forks: %s of %d entries does not match it" % (hi_what, hi))
        raise Bad("audit entry %d: the log was rewritten within entries %d to %d: they no longer"
                  " hash to the root in %s" % (lo + 1, lo + 1, hi, hi_what))
    lines.append("log ok: %d entries, root %s, signed by %s+%s"
                 % (n, root.hex(), key.name, key_id(key.name, key.kind, key.public).hex()))
    lines.append("published checkpoints ok: %d" % len(published))

    if outside:
        _, m, m_root, body, sigs, _ = outside
        if m > n:
            raise Bad("audit entry %d: the log has %d entries, but the checkpoint records %d:"
                      " entries %d to %d were removed" % (n + 1, n, m, n + 1, m))
        proof = consistency_proof(leaves, m)
        if not check_consistency(m, n, m_root, root, proof):
            raise Bad("the log does not extend the checkpoint of %d entries: its first %d entries"
                      " no longer hash to the checkpoint's root" % (m, m))
        count = 0
        for w in witnesses:
            r = note_verify(body, sigs, w)
            if r < 0:
                raise Bad("the checkpoint's cosignature by witness %s does not verify" % w.name)
            count += r
        if count < opts["require_witness"]:
            raise Bad("the checkpoint has %d cosignatures by the witnesses given; %d required"
                      % (count, opts["require_witness"]))
        lines.append("%s: the log extends this checkpoint of %d entries; %d witness"
                     " cosignature%s checked" % (opts["checkpoint"], m, count,
                                                  "" if count == 1 else "s"))
    return lines


def verify_proof(path, keys):
    text = read_text_file(path)
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Bad("proof: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Bad("proof: does not start with c2sp.org/tlog-proof@v1")
    extra = None
    i = 1
    if i < len(lines) and lines[i].startswith("extra "):
        extra = b64(lines[i][6:])
        i += 1
    if i >= len(lines) or not lines[i].startswith("index ") or not lines[i][6:].isdigit():
        raise Bad("proof: no 'index N' line")
    index = int(lines[i][6:])
    proof = [b64(x, 32) for x in lines[i + 1 :]]
    if extra is None:
        raise Bad("proof: no extra data: the entry's bytes are needed")
    origin, size, root, _, _, key = open_checkpoint(note, keys, "the proof's checkpoint")
    seq, fields, _ = decode(extra)
    if seq != index + 1:
        raise Bad("proof: the entry is number %d, the proof is for index %d" % (seq, index))
    if not check_inclusion(index, size, leaf_hash(extra), proof, root):
        raise Bad("proof: entry %d is not in the checkpoint of %d entries" % (seq, size))
    names = ("time", "actor", "action", "object", "detail")
    out = ["proof ok: entry %d is in the log %s of %d entries (root %s), signed by %s"
           % (seq, origin, size, root.hex(), key.name)]
    out += ["%s\t%s" % (k, v.decode("utf-8", "replace")) for k, v in zip(names, fields)]
    return out


def verify_request(path, old_path, keys):
    text = read_text_file(path)
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old ") or not lines[0][4:].isdigit():
        raise Bad("witness request: no 'old N' line and proof")
    old = int(lines[0][4:])
    proof = [b64(x, 32) for x in lines[1:] if x]
    _, m, m_root, _, _, _ = open_checkpoint(read_text_file(old_path), keys, "the old checkpoint")
    origin, n, root, _, _, _ = open_checkpoint(note, keys, "the request's checkpoint")
    if old != m:
        raise Bad("witness request: from %d entries, but the old checkpoint has %d" % (old, m))
    if not check_consistency(m, n, m_root, root, proof):
        raise Bad("the checkpoint of %d entries does not extend the one of %d: the log was"
                  " rewritten" % (n, m))
    return ["consistency ok: the log %s of %d entries extends the checkpoint of %d" % (origin, n, m)]


def main(argv):
    opts = {"key": [], "witness_key": [], "checkpoint": None, "require_witness": 0,
            "tolerance": TOLERANCE_S, "proof": None, "consistency": None}
    home = None
    i = 0
    try:
        while i < len(argv):
            a = argv[i]
            if a in ("--key", "--witness-key", "--checkpoint", "--require-witness",
                     "--time-tolerance", "--proof", "--consistency"):
                if i + 1 >= len(argv):
                    raise ValueError("%s needs a value" % a)
                v = argv[i + 1]
                i += 2
                if a == "--key":
                    opts["key"].append(v)
                elif a == "--witness-key":
                    opts["witness_key"].append(v)
                elif a == "--require-witness":
                    opts["require_witness"] = int(v)
                elif a == "--time-tolerance":
                    opts["tolerance"] = int(v)
                else:
                    opts[a[2:]] = v
            elif a.startswith("-") or home is not None:
                raise ValueError("unexpected argument %s" % a)
            else:
                home = a
                i += 1
        if (home is None) == (opts["proof"] is None and opts["consistency"] is None):
            raise ValueError("give a home, --proof FILE or --consistency FILE")
    except ValueError as e:
        print("audit-verify.py: %s" % e, file=sys.stderr)
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        if opts["proof"]:
            lines = verify_proof(opts["proof"], load_keys(opts["key"], None))
        elif opts["consistency"]:
            if not opts["checkpoint"]:
                raise Bad("--consistency needs --checkpoint, the earlier checkpoint")
            lines = verify_request(opts["consistency"], opts["checkpoint"],
                                   load_keys(opts["key"], None))
        else:
            lines = verify_home(home, opts)
    except Bad as e:
        print(str(e))
        return 1
    except (OSError, sqlite3.Error) as e:
        print("audit-verify.py: %s" % e)
        return 1
    except (ValueError, TypeError, IndexError, KeyError, struct.error) as e:
        # Whatever else malformed input leads to: one line, not a traceback.
        print("audit-verify.py: malformed input: %s" % e)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
