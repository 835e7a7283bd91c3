#!/usr/bin/env python3
"""mongo_landed.py LOG COLLECTION [--check-statements] [--db=NAME]

Replays what mongo_recorder logged (JSON lines, canonical extended JSON bodies) for COLLECTION
the way a MongoDB server applies it: an update statement with upsert replaces the document its
key filter names (or adds one), an insert adds a document unless its key (the collection's
unique index `finsync_key`, read from the logged createIndexes) is already there, a delete with
an empty filter empties the collection, a delete with a filter removes the documents it
matches (equality, $gte/$lt on dates). Prints the final documents as the emulator's canonical
truth CSV, sorted by ts_code, trade_date.

--db=NAME replays only the commands sent to database NAME.
--check-statements also fails (exit 1) unless every update statement on COLLECTION is
{q: the key fields of u, u: a whole document, upsert: true, multi: false}.
"""
import json
import sys


def value(v):
    """A canonical extended JSON value as a plain Python value (dates as epoch ms)."""
    if isinstance(v, dict):
        if "$date" in v:
            return ("date", int(v["$date"]["$numberLong"]))
        if "$numberDouble" in v:
            return float(v["$numberDouble"])
        if "$numberLong" in v:
            return int(v["$numberLong"])
        if "$numberInt" in v:
            return int(v["$numberInt"])
    return v


def matches(doc, q):
    for k, cond in q.items():
        have = doc.get(k)
        if isinstance(cond, dict) and any(op.startswith("$") for op in cond):
            for op, bound in cond.items():
                b = value(bound)
                if have is None:
                    return False
                if op == "$gte" and not have >= b:
                    return False
                if op == "$lt" and not have < b:
                    return False
                if op not in ("$gte", "$lt"):
                    raise SystemExit(f"mongo_landed: operator {op} not replayed")
        elif have != value(cond):
            return False
    return True


def day_text(ms):
    import datetime

    return (datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)).strftime("%Y-%m-%d")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    check = "--check-statements" in sys.argv
    db = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--db=")), None)
    if len(args) != 2:
        raise SystemExit(__doc__)
    log, coll = args
    key = None
    docs = {}  # key tuple -> document (plain values)
    bad = []
    with open(log) as f:
        for line in f:
            rec = json.loads(line)
            body = rec.get("body")
            if not body:
                continue
            name = rec["cmd"]
            if body.get(name) != coll or (db is not None and rec["db"] != db):
                continue
            if name == "createIndexes":
                for ix in body["indexes"]:
                    if ix.get("name") == "finsync_key":
                        key = list(ix["key"].keys())
            elif name == "update":
                for st in body["updates"]:
                    u = {k: value(v) for k, v in st["u"].items()}
                    q = {k: value(v) for k, v in st["q"].items()}
                    if check and (
                        st.get("upsert") is not True
                        or st.get("multi") is not False
                        or key is None
                        or list(q.keys()) != key
                        or any(u.get(k) != q[k] for k in key)
                        or any(k.startswith("$") for k in u)
                    ):
                        bad.append(st)
                    docs[tuple(q[k] for k in key)] = u
            elif name == "insert":
                for d in body["documents"]:
                    u = {k: value(v) for k, v in d.items() if k != "_id"}
                    docs.setdefault(tuple(u[k] for k in key), u)
            elif name == "delete":
                for st in body["deletes"]:
                    q = st["q"]
                    docs = {k: d for k, d in docs.items() if q and not matches(d, q)}
    if bad:
        print(f"mongo_landed: {len(bad)} update statements are not key upserts, e.g. {bad[0]}",
              file=sys.stderr)
        sys.exit(1)
    cols = ["ts_code", "trade_date", "open", "high", "low", "close", "pre_close", "change",
            "pct_chg", "vol", "amount"]
    print(",".join(cols))
    rows = []
    for d in docs.values():
        out = []
        for c in cols:
            v = d.get(c)
            if v is None:
                out.append("")
            elif isinstance(v, tuple):
                out.append(day_text(v[1]))
            elif isinstance(v, float):
                out.append(f"{v:.2f}")
            else:
                out.append(str(v))
        rows.append(out)
    rows.sort(key=lambda r: (r[0], r[1]))
    for r in rows:
        print(",".join(r))


if __name__ == "__main__":
    main()
