#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*) from real
data: entries, commands and checkpoints of ledger-data/vectors/sample-log.jsonl, proof bundles
computed over it (RFC 9162 audit paths), and for the HTTP target the payload examples of
docs/EVENTS.md. Deterministic; run it again after a format change:

    python3 fuzz/make_seeds.py
"""

import base64
import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
SAMPLE = ROOT / "ledger-data" / "vectors" / "sample-log.jsonl"
VKEY = "deedlog.example/sample+161bf914+ARqGjiskrny9GDrZ+0fEFTNy4h2wpi8li/MqXgYBVjCS"


def compact(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves: list) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(i: int, leaves: list) -> list:
    """RFC 9162 section 2.1.3 audit path of leaf i, bottom to top."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if i < k:
        return path(i, leaves[:k]) + [mth(leaves[k:])]
    return path(i - k, leaves[k:]) + [mth(leaves[:k])]


def main() -> None:
    # Regression inputs (seed-regression-*) are findings kept by hand; everything else is
    # rewritten.
    for old in CORPUS.glob("*/seed-*"):
        if not old.name.startswith("seed-regression-"):
            old.unlink()
    lines = SAMPLE.read_bytes().split(b"\n")
    header, rest = lines[0], [line for line in lines[1:] if line]
    entries = [line for line in rest if line.startswith(b'{"derived":')]
    notes = [json.loads(line)["checkpoint"].encode() for line in rest if line.startswith(b'{"checkpoint":')]
    picks = [0, 1, 2, 7, 39, 40, 41, 99, 150, 199]

    for i in picks:
        write("entry_decode", f"sample-{i:03}", entries[i])

    for i in picks[:6]:
        signed = json.loads(entries[i])["signed"]
        write("signed_command", f"sample-{i:03}", compact(signed))
    signed = json.loads(entries[3])["signed"]
    without = dict(signed)
    without.pop("expected_version", None)
    write("signed_command", "no-expected-version", compact(without))
    explicit_null = dict(signed)
    explicit_null["expected_version"] = None
    write("signed_command", "expected-version-null", compact(explicit_null))

    for n, note in enumerate(notes):
        write("checkpoint", f"sample-{n}", note)
    write("checkpoint", "vkey-then-note", VKEY.encode() + b"\n" + notes[0])

    leaves = [leaf(e) for e in entries]
    for seq, size in [(0, 40), (5, 40), (39, 40), (41, 80), (199, 200)]:
        note = next(n for n in notes if n.split(b"\n")[1] == str(size).encode())
        bundle = {
            "format": "deedlog/proof-bundle/v1",
            "seq": seq,
            "entry": base64.b64encode(entries[seq]).decode(),
            "leaf_hash": leaves[seq].hex(),
            "tree_size": size,
            "inclusion": [h.hex() for h in path(seq, leaves[:size])],
            "checkpoint": note.decode(),
            "log_key": VKEY,
        }
        write("proof_bundle", f"seq{seq}-size{size}", json.dumps(bundle).encode())

    # An export: the header, the first 40 entries and the checkpoint over them; and the same cut
    # short before its checkpoint (entries left uncovered).
    first = rest[: rest.index(next(line for line in rest if line.startswith(b'{"checkpoint":'))) + 1]
    write("export_jsonl", "first-40", b"\n".join([header] + first) + b"\n")
    write("export_jsonl", "uncovered", b"\n".join([header] + first[:12]) + b"\n")
    write("export_jsonl", "header-only", header + b"\n")

    # HTTP: kinds in catalogue order (crates/domain/src/payload.rs), signers in the order the
    # harness holds them (crates/../fuzz/src/http.rs): the two parties, then the node's keys.
    payload_rs = (ROOT / "crates" / "domain" / "src" / "payload.rs").read_text()
    block = payload_rs[payload_rs.index("payloads! {"):]
    kinds = re.findall(r'^\s+"([a-z_]+\.[a-z_]+)" =>', block, re.M)
    signers = ["party/PA-seller", "party/PA-buyer", "agent/AT-0001", "authority/housing",
               "authority/identity", "authority/registry", "bank/BK-01", "office/OF-01", "platform"]
    events = (ROOT / "docs" / "EVENTS.md").read_text()
    table = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| [^|]* \| ([^|]*) \|", events, re.M))
    examples = dict(re.findall(r"^### `([a-z_.]+)`\n.*?```json\n(.*?)\n```", events, re.M | re.S))
    stream_of = {"platform": "platform/genesis", "key": "party/PA-seller", "party": "party/PA-seller",
                 "agency": "agency/AG-0001", "agent": "agent/AT-0001", "bank": "bank/BK-01",
                 "office": "office/OF-01", "property": "property/PR-0001",
                 "verification": "verification/PV-1", "entrustment": "entrustment/EN-1",
                 "listing": "listing/LS-1", "viewing": "viewing/VW-1", "loan": "precheck/LP-1",
                 "contract": "contract/CT-1", "proxy": "proxy/PX-1", "erasure": "erasure/ER-1"}
    for index, kind in enumerate(kinds):
        if kind not in examples:
            continue
        payload = json.loads(examples[kind])
        who = table.get(kind, "").split(",")[0].strip()
        signer = next((n for n, s in enumerate(signers) if s == who or s.startswith(who + "/")), 0)
        stream = stream_of.get(kind.split(".")[0], "party/PA-seller")
        body = bytes([0x80 | index, signer, 0xFF]) + stream.encode() + b"\n" + compact(payload)
        write("http_command", f"signed-{kind}", body)
    # Raw bodies: a well-formed command whose signature does not match this node's keys, the same
    # with an explicit null expected_version, and bodies that are not commands at all.
    raw = json.loads(entries[5])["signed"]
    raw["kind"] = kinds[0]
    write("http_command", "raw-command", bytes([0]) + compact(raw))
    raw["expected_version"] = None
    write("http_command", "raw-expected-version-null", bytes([0]) + compact(raw))
    write("http_command", "raw-not-json", bytes([1]) + b"{\"actor\":")
    write("http_command", "raw-array", bytes([2]) + b"[]")


if __name__ == "__main__":
    main()
