#!/usr/bin/python3
"""Trains the merchant-payouts example's model (payouts.yaml) and exports it to ONNX.

    apt-get install -y python3-sklearn python3-onnx python3-numpy python3-yaml
    cd pipelines/examples/payouts
    /usr/bin/python3 generate_events.py --seed 1 --merchants 2000 \
        --out /tmp/payouts-train.jsonl --labels /tmp/payouts-train-labels.csv
    /usr/bin/python3 train.py --events /tmp/payouts-train.jsonl \
        --labels /tmp/payouts-train-labels.csv

Computes the features of payouts.yaml in Python, by the pipeline file's semantics taken
literally: events are read in file (arrival) order; an event that fails the schema or a
check is a dead letter and takes no part; a re-send (a payout_id seen before) is skipped;
each aggregate of an event e at time t covers the other events of e's key received before
e whose time is <= t and, with a window W, > t - W; first/last are the earliest/latest of
those by (event time, then arrival); count/sum/distinct over none are 0, avg/min/max/
first/last over none are the aggregate's default. The aggregates are evaluated generically
from the YAML; each CEL expression of the file (aggregate expressions, `where`s, checks and
features) has a hand-written Python twin in the tables below, and the script refuses to run
when the file names an expression, or lists features, that the tables do not match.

Then it splits the rows by time (first 80% train, last 20% held out), fits a
StandardScaler + LogisticRegression, folds the scaler into the weights and writes into
--out (default: model/ beside this script):

  model.onnx          input `features` float32 [N, F], output `probability` float32 [N, 1]:
                      MatMul, Add, Sigmoid (IR version 8, opset 13: ONNX Runtime 1.28)
  descriptor.json     name payouts-logreg, features, thresholds, baseline, quality, training
  parity-sample.csv   50 held-out rows: the features, then expected_probability (numpy, in
                      float64 from the float32 inputs and weights of model.onnx)

Thresholds (chosen on the held-out set; a payout is flagged when probability >= t):
  review  = the lowest score whose held-out false-positive rate is at most 1%
  decline = the lowest score whose held-out false-positive rate is at most 0.1%

With --dump-features CSV it only writes payout_id and the feature row of every scored
event of --events (or of every Nth with --dump-every N; no labels needed, no training), as
shortest round-trip doubles, for comparing a pipeline engine's rows: expected-features.csv
is `--events events.jsonl --dump-features expected-features.csv --dump-every 10`.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import re
import shlex
import sys

import numpy as np
import onnx
import sklearn
import yaml
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_curve
from sklearn.preprocessing import StandardScaler

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
PIPELINE = os.path.join(HERE, "payouts.yaml")
INPUT_NAME = "features"
OUTPUT_NAME = "probability"
IR_VERSION = 8  # accepted by ONNX Runtime 1.28
OPSET = 13
MODEL_NAME = "payouts-logreg"
MODEL_VERSION = "1.0.0"
REVIEW_FPR = 0.01
DECLINE_FPR = 0.001
PARITY_ROWS = 50
PARITY_MAX_FRAUDS = 20
PARITY_TOP_LEGIT = 10
TOLERANCE = 1e-5
LOGREG_PARAMS = dict(C=1.0, penalty="l2", solver="lbfgs", max_iter=5000)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": HOUR_MS, "d": DAY_MS}

# ---------------------------------------------------------------------------- CEL twins
# The pipeline's functions, as streamscore defines them (Java's Math on doubles).


def hour_of_day(millis):
    return ((millis % DAY_MS) + DAY_MS) % DAY_MS / float(HOUR_MS)


def day_of_week(millis):
    return float((millis // DAY_MS + 3) % 7)  # 1970-01-01 was a Thursday


# Expressions over one event's fields: checks, aggregate values and `where`s.
EVENT_EXPRS = {
    "amount_minor > 0": lambda e: e["amount_minor"] > 0,
    "amount_minor": lambda e: e["amount_minor"],
    "bank_account_id": lambda e: e["bank_account_id"],
    "country": lambda e: e["country"],
    "requested_at": lambda e: e["requested_at"],
    'method == "INSTANT"': lambda e: e["method"] == "INSTANT",
}

# The features: name, CEL text (exactly as in payouts.yaml), Python twin of (event, aggregates).
FEATURES = [
    ("amount_log",
     "log1p(double(amount_minor) / 100.0)",
     lambda e, a: math.log1p(float(e["amount_minor"]) / 100.0)),
    ("amount_vs_avg_30d",
     "payouts_30d == 0 ? 0.0 : log1p(double(amount_minor) / 100.0) - log1p(avg_30d / 100.0)",
     lambda e, a: 0.0 if a["payouts_30d"] == 0
     else math.log1p(float(e["amount_minor"]) / 100.0) - math.log1p(a["avg_30d"] / 100.0)),
    ("amount_vs_max_30d",
     "payouts_30d == 0 ? 0.0 : log1p(double(amount_minor) / 100.0) - log1p(max_30d / 100.0)",
     lambda e, a: 0.0 if a["payouts_30d"] == 0
     else math.log1p(float(e["amount_minor"]) / 100.0) - math.log1p(a["max_30d"] / 100.0)),
    ("amount_share_30d",
     "double(amount_minor) / (sum_30d + double(amount_minor) + 1.0)",
     lambda e, a: float(e["amount_minor"]) / (a["sum_30d"] + float(e["amount_minor"]) + 1.0)),
    ("instant",
     'method == "INSTANT" ? 1.0 : 0.0',
     lambda e, a: 1.0 if e["method"] == "INSTANT" else 0.0),
    ("account_changed",
     "seen > 0 && bank_account_id != prev_account ? 1.0 : 0.0",
     lambda e, a: 1.0 if a["seen"] > 0 and e["bank_account_id"] != a["prev_account"] else 0.0),
    ("off_first_account",
     "seen > 0 && bank_account_id != first_account ? 1.0 : 0.0",
     lambda e, a: 1.0 if a["seen"] > 0 and e["bank_account_id"] != a["first_account"] else 0.0),
    ("country_changed",
     "seen > 0 && country != prev_country ? 1.0 : 0.0",
     lambda e, a: 1.0 if a["seen"] > 0 and e["country"] != a["prev_country"] else 0.0),
    ("distinct_accounts_7d",
     "double(accounts_7d)",
     lambda e, a: float(a["accounts_7d"])),
    ("instant_24h_log",
     "log1p(double(instant_24h))",
     lambda e, a: math.log1p(float(a["instant_24h"]))),
    ("hours_since_prev_log",
     "seen == 0 ? log1p(720.0) : min(log1p(double(requested_at - prev_time) / 3600000.0),"
     " log1p(720.0))",
     lambda e, a: math.log1p(720.0) if a["seen"] == 0
     else min(math.log1p(float(e["requested_at"] - a["prev_time"]) / 3600000.0),
              math.log1p(720.0))),
    ("hour_sin",
     "sin(hour_of_day(requested_at) * 0.2617993877991494)",
     lambda e, a: math.sin(hour_of_day(e["requested_at"]) * 0.2617993877991494)),
    ("hour_cos",
     "cos(hour_of_day(requested_at) * 0.2617993877991494)",
     lambda e, a: math.cos(hour_of_day(e["requested_at"]) * 0.2617993877991494)),
    ("history_log",
     "log1p(double(seen))",
     lambda e, a: math.log1p(float(a["seen"]))),
]

AGGREGATE_KINDS = ("count", "sum", "avg", "min", "max", "distinct", "first", "last")


# ---------------------------------------------------------------------------- pipeline file

def normalize(expr):
    return re.sub(r"\s+", " ", str(expr).strip())


def twin(expr, where):
    fn = EVENT_EXPRS.get(normalize(expr))
    if fn is None:
        raise SystemExit(f"payouts.yaml: {where} `{expr}` has no Python twin in train.py's "
                         f"EVENT_EXPRS; add one")
    return fn


def parse_duration(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", str(text).strip())
    if not m:
        raise SystemExit(f"payouts.yaml: bad window {text!r} (expected e.g. 10m, 24h, 30d)")
    return int(m.group(1)) * DURATION_UNITS[m.group(2)]


def load_pipeline(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    with open(os.path.join(os.path.dirname(path), doc["input"]["schema"]), encoding="utf-8") as f:
        schema = json.load(f)
    checks = [twin(c, "check") for c in doc["input"].get("checks", [])]
    aggregates = []
    for name, spec in doc["aggregates"].items():
        kinds = [k for k in AGGREGATE_KINDS if k in spec]
        if len(kinds) != 1:
            raise SystemExit(f"payouts.yaml: aggregate {name} needs exactly one of {AGGREGATE_KINDS}")
        kind = kinds[0]
        unknown = set(spec) - {kind, "where", "window", "default"}
        if unknown:
            raise SystemExit(f"payouts.yaml: aggregate {name}: unknown keys {sorted(unknown)}")
        if kind == "count" and spec[kind] is not True:
            raise SystemExit(f"payouts.yaml: aggregate {name}: count must be `true`")
        aggregates.append({
            "name": name,
            "kind": kind,
            "value": None if kind == "count" else twin(spec[kind], f"aggregate {name}"),
            "where": twin(spec["where"], f"where of {name}") if "where" in spec else None,
            "window": parse_duration(spec["window"]) if "window" in spec else None,
            "default": spec.get("default"),
        })
    listed = [(next(iter(item)), normalize(next(iter(item.values())))) for item in doc["features"]]
    ours = [(name, normalize(cel)) for name, cel, _ in FEATURES]
    if listed != ours:
        for i, (a, b) in enumerate(zip(listed + [None] * len(ours), ours + [None] * len(listed))):
            if a != b:
                raise SystemExit(f"payouts.yaml feature {i} is {a}, but train.py computes {b}; "
                                 f"update FEATURES")
    return doc, schema, checks, aggregates


# ---------------------------------------------------------------------------- events

def conforms(event, schema):
    """Whether a decoded JSON object is a Payout of the schema (this schema's types only)."""
    if not isinstance(event, dict):
        return False
    for field in schema["fields"]:
        t = field["type"]
        if field["name"] not in event:
            if "default" in field:
                event[field["name"]] = field["default"]
                continue
            return False
        v = event[field["name"]]
        if isinstance(t, dict) and t.get("type") == "enum":
            ok = v in t["symbols"]
        else:
            base = t["type"] if isinstance(t, dict) else t
            if base == "string":
                ok = isinstance(v, str)
            elif base in ("long", "int"):
                ok = isinstance(v, int) and not isinstance(v, bool)
            elif base == ["null", "string"]:
                ok = v is None or isinstance(v, str)
            else:
                raise SystemExit(f"Payout.avsc: field type {t!r} not handled by train.py")
        if not ok:
            return False
    return True


def read_events(path, schema, checks):
    """(scored events in arrival order, dead letters, re-sends)."""
    events, dead, resent, seen_ids = [], 0, 0, set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                dead += 1
                continue
            if not conforms(event, schema) or not all(c(event) for c in checks):
                dead += 1
                continue
            if event["payout_id"] in seen_ids:
                resent += 1
                continue
            seen_ids.add(event["payout_id"])
            events.append(event)
    return events, dead, resent


def aggregate(spec, history, t, time_field):
    """One aggregate of an event at time t over `history`: the key's events received before it."""
    window = spec["window"]
    covered = [(i, e) for i, e in enumerate(history)
               if e[time_field] <= t and (window is None or e[time_field] > t - window)
               and (spec["where"] is None or spec["where"](e))]
    kind = spec["kind"]
    if kind == "count":
        return len(covered)
    values = [spec["value"](e) for _, e in covered]
    if kind == "sum":
        return float(sum(values))  # exact here: integer amounts far below 2**53
    if kind == "distinct":
        return len(set(values))
    if not covered:
        return spec["default"]
    if kind == "avg":
        return float(sum(values)) / len(values)
    if kind == "min":
        return float(min(values))
    if kind == "max":
        return float(max(values))
    ordered = sorted(covered, key=lambda c: (c[1][time_field], c[0]))  # event time, then arrival
    chosen = ordered[0][1] if kind == "first" else ordered[-1][1]
    return spec["value"](chosen)


def feature_rows(events, doc, aggregates):
    key, time_field = doc["input"]["key"], doc["input"]["time"]
    histories = {}
    rows = []
    for e in events:
        history = histories.setdefault(e[key], [])
        values = {a["name"]: aggregate(a, history, e[time_field], time_field) for a in aggregates}
        row = [fn(e, values) for _, _, fn in FEATURES]
        if not all(math.isfinite(v) for v in row):
            raise SystemExit(f"non-finite feature for {e['payout_id']}: {row}")
        rows.append(row)
        history.append(e)
    return np.array(rows, dtype=np.float64)


def read_labels(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        if next(reader) != ["payout_id", "label"]:
            raise SystemExit(f"{path}: expected the header payout_id,label")
        return {row[0]: int(row[1]) for row in reader}


# ---------------------------------------------------------------------------- model

def threshold_at_fpr(y, scores, max_fpr):
    """Lowest score t such that the share of genuine rows with score >= t is at most max_fpr."""
    fpr, tpr, thr = roc_curve(y, scores, drop_intermediate=False)
    i = max(int(np.searchsorted(fpr, max_fpr, side="right")) - 1, 1)  # thr[0] is a sentinel
    return float(thr[i]), float(fpr[i]), float(tpr[i])


def quality(y, scores):
    review, _, recall_1pct = threshold_at_fpr(y, scores, REVIEW_FPR)
    decline, _, recall_01pct = threshold_at_fpr(y, scores, DECLINE_FPR)
    flagged = scores >= review
    tp = int(np.sum(flagged & (y == 1)))
    return {"review": review, "decline": decline}, {
        "holdout_rows": int(len(y)),
        "holdout_frauds": int(y.sum()),
        "pr_auc": round(float(average_precision_score(y, scores)), 6),
        "recall_at_1pct_fpr": round(recall_1pct, 6),
        "recall_at_0.1pct_fpr": round(recall_01pct, 6),
        "precision_at_review": round(tp / max(int(flagged.sum()), 1), 6),
        "recall_at_review": round(tp / max(int(y.sum()), 1), 6),
    }


def to_onnx(weights, bias, n_features):
    """logit = features x weights + bias, probability = sigmoid(logit)."""
    inits = [numpy_helper.from_array(weights.reshape(n_features, 1).astype(np.float32), "weights"),
             numpy_helper.from_array(np.array([bias], dtype=np.float32), "bias")]
    nodes = [helper.make_node("MatMul", [INPUT_NAME, "weights"], ["margin"], name="matmul"),
             helper.make_node("Add", ["margin", "bias"], ["logit"], name="add_bias"),
             helper.make_node("Sigmoid", ["logit"], [OUTPUT_NAME], name="to_probability")]
    x = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n_features])
    y = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 1])
    graph = helper.make_graph(nodes, MODEL_NAME, [x], [y], initializer=inits)
    model = helper.make_model(graph, producer_name="streamscore-train",
                              producer_version="1.0.0",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = MODEL_NAME
    onnx.checker.check_model(model, full_check=True)
    return model


def graph_probability(model, X):
    """The graph's probability from what model.onnx holds: float32 inputs and weights, in float64."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w = inits["weights"].astype(np.float64)
    b = inits["bias"].astype(np.float64)
    logit = X.astype(np.float32).astype(np.float64) @ w + b
    return 1.0 / (1.0 + np.exp(-logit[:, 0]))


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def f32(v):
    # repr of the float32 value widened to double: Float.parseFloat gives back the same float32.
    return repr(float(np.float32(v)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", required=True, help="JSON-lines Payout events (generate_events.py)")
    ap.add_argument("--labels", help="payout_id,label CSV (generate_events.py --labels)")
    ap.add_argument("--out", default=os.path.join(HERE, "model"), help="model folder")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dump-features", metavar="CSV",
                    help="only write payout_id and the features of each scored event here")
    ap.add_argument("--dump-every", type=int, default=1, metavar="N",
                    help="with --dump-features: only every Nth scored event (the 1st, N+1st, ...)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    doc, schema, checks, aggregates = load_pipeline(PIPELINE)
    features = [name for name, _, _ in FEATURES]
    events, dead, resent = read_events(args.events, schema, checks)
    X = feature_rows(events, doc, aggregates)
    print(f"{len(events)} events scored, {dead} dead letters, {resent} re-sends skipped; "
          f"{len(features)} features")

    if args.dump_features:
        with open(args.dump_features, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["payout_id"] + features)
            for e, row in list(zip(events, X))[::args.dump_every]:
                w.writerow([e["payout_id"]] + [repr(float(v)) for v in row])
        print(f"wrote {args.dump_features}")
        return
    if not args.labels:
        raise SystemExit("--labels is required for training")

    labels = read_labels(args.labels)
    y = np.array([labels[e["payout_id"]] for e in events], dtype=np.int64)
    times = np.array([e[doc["input"]["time"]] for e in events], dtype=np.int64)
    order = np.argsort(times, kind="stable")  # arrival order is time order for generated files
    X, y = X[order], y[order]
    n_train = int(len(y) * 0.8)
    Xtr, ytr, Xho, yho = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    print(f"train {len(ytr)} rows ({ytr.sum()} frauds), held out {len(yho)} ({yho.sum()} frauds)")

    scaler = StandardScaler().fit(Xtr)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    clf = LogisticRegression(random_state=args.seed, **LOGREG_PARAMS)
    clf.fit((Xtr - scaler.mean_) / scale, ytr)
    coef = clf.coef_[0]
    weights = coef / scale
    bias = float(clf.intercept_[0] - np.sum(coef * scaler.mean_ / scale))
    sk_scores = clf.predict_proba((Xho - scaler.mean_) / scale)[:, 1]

    model = to_onnx(weights, bias, len(features))
    scores = graph_probability(model, Xho)
    diff = float(np.max(np.abs(scores - sk_scores)))
    if diff > TOLERANCE:
        raise SystemExit(f"folded float32 graph differs from scikit-learn by {diff:.3g}")
    thresholds, q = quality(yho, scores)

    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "model.onnx")
    onnx.save(model, model_path)
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    digest = sha256_of(model_path)
    descriptor = {
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "model_file": "model.onnx",
        "sha256": digest,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "features": features,
        "thresholds": thresholds,
        "baseline": [float(np.float32(v)) for v in Xtr.mean(axis=0)],
        "quality": q,
        "training": {
            "command": shlex.join(["/usr/bin/python3"] + sys.argv),
            "seed": args.seed,
            "events_sha256": sha256_of(args.events),
            "train_rows": int(len(ytr)),
            "framework": f"scikit-learn {sklearn.__version__}",
            "params": dict(LOGREG_PARAMS, estimator="StandardScaler + LogisticRegression",
                           folded="weights = coef / scale, bias = intercept - sum(coef * mean / scale)",
                           split="first 80% of rows (event time order) train, last 20% held out"),
            "weights": {name: round(float(c), 6) for name, c in zip(features, coef)},
        },
    }
    with open(os.path.join(args.out, "descriptor.json"), "w", encoding="utf-8") as f:
        json.dump(descriptor, f, indent=2)
        f.write("\n")

    frauds = np.flatnonzero(yho == 1)
    if len(frauds) > PARITY_MAX_FRAUDS:
        frauds = rng.choice(frauds, PARITY_MAX_FRAUDS, replace=False)
    legit = np.flatnonzero(yho == 0)
    top = legit[np.argsort(-scores[legit], kind="stable")[:PARITY_TOP_LEGIT]]
    rest = np.setdiff1d(legit, top)
    n_random = min(PARITY_ROWS - len(frauds) - len(top), len(rest))
    rows = np.sort(np.concatenate([frauds, top, rng.choice(rest, n_random, replace=False)]))
    with open(os.path.join(args.out, "parity-sample.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(features + ["expected_probability"])
        for i in rows:
            w.writerow([f32(v) for v in Xho[i]] + [format(float(scores[i]), ".17g")])

    print(f"model.onnx {os.path.getsize(model_path)} bytes, sha256 {digest}")
    print(f"thresholds review {thresholds['review']:.6g} decline {thresholds['decline']:.6g}")
    print(f"quality {json.dumps(q)}")
    print("standardized weights: " + ", ".join(f"{n} {c:+.3f}" for n, c in zip(features, coef)))
    print(f"max |float32 graph - scikit-learn| on the held-out set: {diff:.3g}")


if __name__ == "__main__":
    main()
