#!/usr/bin/python3
"""Trains streamscore's reference fraud models and exports them to ONNX.

    /usr/bin/python3 models/training/train.py \
        --data models/training/data/train.csv --out models/artifacts

Reads the CSV written by `streamscore export-training-data` (transaction_id, card_id,
event_time, fraud_pattern, label, then the feature columns; the feature list is taken
from the header), splits it by time (first 80% of rows train, last 20% held out),
trains a gradient-boosted tree ensemble and a small MLP with scikit-learn, and writes
for each model a folder <out>/<id>/ holding:

  model.onnx          input `features` float32 [N, F], output `probability` float32 [N, 1]
  descriptor.json     features, thresholds, held-out quality, how it was trained
  parity-sample.csv   200 held-out rows and scikit-learn's probability for each

The ONNX graphs are built by hand with onnx.helper (no skl2onnx here) and checked by
check_graph.py's numpy interpreter against scikit-learn before anything is written.

Both models are fitted on all training frauds plus 25% of the training legit rows
(--legit-sample-rate, drawn with the seed): 4x faster for the tree ensemble and, on the
simulated data, better rather than worse. The probabilities are therefore those of a model
that saw about 4x the real fraud rate (not calibrated to it); the thresholds below absorb
that. Quality is always measured on the untouched held-out 20%.

Thresholds (chosen on the held-out set; a transaction is flagged when probability >= t):
  review  = the lowest score whose held-out false-positive rate is at most 1%
  decline = the lowest score whose held-out false-positive rate is at most 0.1%
"""
import argparse
import csv
import hashlib
import json
import os
import shlex
import sys
import time
import warnings

import numpy as np
import onnx
import sklearn
from onnx import TensorProto, helper, numpy_helper
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import average_precision_score, roc_curve
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_graph  # noqa: E402

META_COLUMNS = ["transaction_id", "card_id", "event_time", "fraud_pattern", "label"]
INPUT_NAME = "features"
OUTPUT_NAME = "probability"
OPSET_DEFAULT = 13
OPSET_ML = 3
IR_VERSION = 8  # accepted by ONNX Runtime 1.28
REVIEW_FPR = 0.01
DECLINE_FPR = 0.001
PARITY_ROWS = 200
PARITY_MAX_FRAUDS = 50
PARITY_TOP_LEGIT = 25
TOLERANCE = 1e-5
MAX_LEAF_WEIGHT = 50.0  # learning_rate x leaf value; beyond this the margin saturates

GBDT_PARAMS = dict(n_estimators=200, max_depth=4, learning_rate=0.1, subsample=0.8,
                   min_samples_leaf=100)
MLP_PARAMS = dict(hidden_layer_sizes=(64, 32), activation="relu", solver="adam", alpha=1e-4,
                  batch_size=512, learning_rate_init=1e-3, max_iter=50, tol=1e-5,
                  n_iter_no_change=5, early_stopping=False, shuffle=True)
# Bumped when a model is retrained on different data: 2.0.0 is the realistic generator's.
VERSIONS = {"gbdt": "2.0.0", "mlp": "2.0.0", "deep": "1.0.0"}
# The expensive reference network: the same recipe, about 125x the MLP's multiply-adds per row.
DEEP_PARAMS = dict(MLP_PARAMS, hidden_layer_sizes=(512, 512, 256), max_iter=20)


# ---------------------------------------------------------------------------- data

def load_csv(path):
    """Returns (features, event_time int64, pattern str array, label int array, X float32)."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header[:len(META_COLUMNS)] != META_COLUMNS:
            raise ValueError(f"{path}: expected the header to start with {META_COLUMNS}, "
                             f"found {header[:len(META_COLUMNS)]}")
        features = header[len(META_COLUMNS):]
        if not features:
            raise ValueError(f"{path}: no feature columns after 'label'")
        times, patterns, labels, values = [], [], [], []
        for lineno, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise ValueError(f"{path}:{lineno}: expected {len(header)} columns, found {len(row)}")
            times.append(int(row[2]))
            patterns.append(row[3])
            labels.append(int(row[4]))
            values.append(row[5:])
    X = np.array(values, dtype=np.float64).astype(np.float32)
    y = np.array(labels, dtype=np.int64)
    t = np.array(times, dtype=np.int64)
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError(f"{path}: label must be 0 or 1, found {sorted(set(np.unique(y)))}")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{path}: non-finite value in row {bad[0] + 2}, column {features[bad[1]]}")
    if np.any(np.diff(t) < 0):
        # The exporter promises time order; keep the split honest if it did not.
        print("warning: rows are not in event_time order; sorting them (stable)")
        order = np.argsort(t, kind="stable")
        t, y, X = t[order], y[order], X[order]
        patterns = [patterns[i] for i in order]
    return features, t, np.array(patterns), y, X


# ---------------------------------------------------------------------------- metrics

def threshold_at_fpr(y, scores, max_fpr):
    """Lowest score t such that the share of legit rows with score >= t is at most max_fpr.

    Returns (t, fpr at t, recall at t). When even the top score is shared by more legit
    rows than max_fpr allows (ties at a saturated 1.0), no score meets the rule: then t is
    the top score, the least FPR reachable, and a warning is printed.
    """
    fpr, tpr, thr = roc_curve(y, scores, drop_intermediate=False)
    i = np.searchsorted(fpr, max_fpr, side="right") - 1  # last point with fpr <= max_fpr
    if i == 0:  # thr[0] is a sentinel above every score
        i = 1
        print(f"warning: no score reaches FPR <= {max_fpr}; using the top score "
              f"{thr[1]!r} (FPR {fpr[1]:.5f})")
    return float(thr[i]), float(fpr[i]), float(tpr[i])


def quality(y, scores):
    review, _, recall_1pct = threshold_at_fpr(y, scores, REVIEW_FPR)
    decline, _, _ = threshold_at_fpr(y, scores, DECLINE_FPR)
    flagged = scores >= review
    tp = int(np.sum(flagged & (y == 1)))
    q = {
        "holdout_rows": int(len(y)),
        "holdout_frauds": int(y.sum()),
        "pr_auc": round(float(average_precision_score(y, scores)), 6),
        "recall_at_1pct_fpr": round(recall_1pct, 6),
        "precision_at_review": round(tp / max(int(flagged.sum()), 1), 6),
        "recall_at_review": round(tp / max(int(y.sum()), 1), 6),
    }
    return {"review": review, "decline": decline}, q


# ---------------------------------------------------------------------------- ONNX

def float32_at_or_below(t64):
    """Largest float32 <= t64, so that x32 <= t32 decides exactly like x32 <= t64."""
    t32 = np.float32(t64)
    if float(t32) > t64:
        t32 = np.nextafter(t32, np.float32(-np.inf), dtype=np.float32)
    return t32


def _io(n_features):
    x = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n_features])
    y = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 1])
    return x, y


def _model(graph, name, opsets):
    model = helper.make_model(
        graph, producer_name="streamscore-train", producer_version="1.0.0",
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = IR_VERSION
    model.doc_string = name
    onnx.checker.check_model(model, full_check=True)
    return model


def gbdt_to_onnx(gbc, n_features, name):
    """TreeEnsembleRegressor (raw log-odds margin) followed by Sigmoid."""
    if gbc.n_classes_ != 2 or gbc.estimators_.shape[1] != 1:
        raise ValueError("expected a binary GradientBoostingClassifier")
    lr = gbc.learning_rate
    attrs = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids",
                             "nodes_values", "nodes_modes", "nodes_truenodeids",
                             "nodes_falsenodeids", "nodes_hitrates", "target_treeids",
                             "target_nodeids", "target_ids", "target_weights")}
    for tree_id, est in enumerate(gbc.estimators_[:, 0]):
        tree = est.tree_
        for node in range(tree.node_count):
            left, right = int(tree.children_left[node]), int(tree.children_right[node])
            attrs["nodes_treeids"].append(tree_id)
            attrs["nodes_nodeids"].append(node)
            # The node's cover: the (weighted) training rows that reached it when the tree was
            # fit. ONNX Runtime ignores it; streamscore's TreeSHAP reason codes need it.
            attrs["nodes_hitrates"].append(float(tree.weighted_n_node_samples[node]))
            if left == -1:  # sklearn's TREE_LEAF
                attrs["nodes_featureids"].append(0)
                attrs["nodes_values"].append(0.0)
                attrs["nodes_modes"].append("LEAF")
                attrs["nodes_truenodeids"].append(0)
                attrs["nodes_falsenodeids"].append(0)
                attrs["target_treeids"].append(tree_id)
                attrs["target_nodeids"].append(node)
                attrs["target_ids"].append(0)
                with np.errstate(over="ignore"):  # overflow is caught below
                    attrs["target_weights"].append(float(np.float32(lr * tree.value[node, 0, 0])))
            else:
                attrs["nodes_featureids"].append(int(tree.feature[node]))
                attrs["nodes_values"].append(float(float32_at_or_below(float(tree.threshold[node]))))
                attrs["nodes_modes"].append("BRANCH_LEQ")
                attrs["nodes_truenodeids"].append(left)   # sklearn: x <= threshold goes left
                attrs["nodes_falsenodeids"].append(right)
    weights = np.array(attrs["target_weights"], dtype=np.float32)
    if not np.isfinite(weights).all() or np.abs(weights).max() > MAX_LEAF_WEIGHT:
        # sklearn's Newton leaf step divides by sum p(1-p), which explodes in leaves whose
        # rows are already predicted near 0 or 1; such leaves overflow float32 or swamp the
        # float32 sum. Larger min_samples_leaf keeps them away.
        raise SystemExit(f"{name}: leaf weight up to {np.abs(weights).max():.3g} "
                         f"(limit {MAX_LEAF_WEIGHT}); raise min_samples_leaf")
    base = float(gbc._raw_predict_init(np.zeros((1, n_features), dtype=np.float32))[0, 0])
    ensemble = helper.make_node(
        "TreeEnsembleRegressor", [INPUT_NAME], ["margin"], name="trees", domain="ai.onnx.ml",
        n_targets=1, aggregate_function="SUM", post_transform="NONE",
        base_values=[float(np.float32(base))], **attrs)
    sigmoid = helper.make_node("Sigmoid", ["margin"], [OUTPUT_NAME], name="to_probability")
    x, y = _io(n_features)
    graph = helper.make_graph([ensemble, sigmoid], name, [x], [y])
    return _model(graph, name, [("", OPSET_DEFAULT), ("ai.onnx.ml", OPSET_ML)])


def mlp_to_onnx(pipeline, n_features, name):
    """(x - mean) / scale, then MatMul/Add/Relu per hidden layer, MatMul/Add, Sigmoid."""
    scaler, mlp = pipeline.named_steps["scale"], pipeline.named_steps["mlp"]
    if mlp.out_activation_ != "logistic" or mlp.n_outputs_ != 1 or mlp.activation != "relu":
        raise ValueError("expected a binary relu MLPClassifier with a logistic output")
    inits = [
        numpy_helper.from_array(scaler.mean_.astype(np.float32), "scaler_mean"),
        numpy_helper.from_array(scaler.scale_.astype(np.float32), "scaler_scale"),
    ]
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, "scaler_mean"], ["centered"], name="center"),
        helper.make_node("Div", ["centered", "scaler_scale"], ["h0"], name="scale"),
    ]
    last = len(mlp.coefs_) - 1
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(b.astype(np.float32), f"b{i}"))
        nodes.append(helper.make_node("MatMul", [f"h{i}", f"w{i}"], [f"mm{i}"], name=f"matmul{i}"))
        out = "logit" if i == last else f"pre{i}"
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [out], name=f"bias{i}"))
        if i != last:
            nodes.append(helper.make_node("Relu", [out], [f"h{i + 1}"], name=f"relu{i}"))
    nodes.append(helper.make_node("Sigmoid", ["logit"], [OUTPUT_NAME], name="to_probability"))
    x, y = _io(n_features)
    graph = helper.make_graph(nodes, name, [x], [y], initializer=inits)
    return _model(graph, name, [("", OPSET_DEFAULT)])


# ---------------------------------------------------------------------------- artifacts

def f32(v):
    # repr of the float32 value widened to double: exact, so Float.parseFloat and
    # (float) Double.parseDouble both give back the very same float32.
    return repr(float(np.float32(v)))


def parity_rows(y, scores, rng):
    """Held-out row indices: frauds (up to 50), the top-scoring legit rows, random legit."""
    frauds = np.flatnonzero(y == 1)
    if len(frauds) > PARITY_MAX_FRAUDS:
        frauds = rng.choice(frauds, PARITY_MAX_FRAUDS, replace=False)
    legit = np.flatnonzero(y == 0)
    top = legit[np.argsort(-scores[legit], kind="stable")[:PARITY_TOP_LEGIT]]
    rest = np.setdiff1d(legit, top)
    n_random = min(PARITY_ROWS - len(frauds) - len(top), len(rest))
    chosen = np.concatenate([frauds, top, rng.choice(rest, n_random, replace=False)])
    return np.sort(chosen)


def with_sha256(descriptor, model_path):
    """The descriptor with the model file's SHA-256 right after model_file (streamscore checks it)."""
    with open(model_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    out = {}
    for key, value in descriptor.items():
        if key != "sha256":
            out[key] = value
        if key == "model_file":
            out["sha256"] = digest
    return out


def write_artifacts(out_dir, model_id, model, descriptor, features, X_rows, probs):
    folder = os.path.join(out_dir, model_id)
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    descriptor = with_sha256(descriptor, os.path.join(folder, "model.onnx"))
    with open(os.path.join(folder, "descriptor.json"), "w") as f:
        json.dump(descriptor, f, indent=2)
        f.write("\n")
    with open(os.path.join(folder, "parity-sample.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(features + ["expected_probability"])
        for row, p in zip(X_rows, probs):
            w.writerow([f32(v) for v in row] + [format(float(p), ".17g")])
    return folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="CSV from `streamscore export-training-data`")
    ap.add_argument("--out", required=True, help="artifact folder (one subfolder per model)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--legit-sample-rate", type=float, default=0.25,
                    help="share of legit training rows kept for fitting (all frauds are kept); "
                         "quality is always measured on the untouched held-out set")
    ap.add_argument("--models", default="gbdt,mlp,deep", help="comma-separated subset of gbdt,mlp,deep")
    args = ap.parse_args()
    command = shlex.join(["/usr/bin/python3"] + sys.argv)
    rng = np.random.default_rng(args.seed)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    t0 = time.time()
    features, _, patterns, y, X = load_csv(args.data)
    n_train = int(len(y) * 0.8)
    Xtr, ytr, Xho, yho = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    print(f"loaded {len(y)} rows, {len(features)} features, {y.sum()} frauds "
          f"({y.mean():.3%}) in {time.time() - t0:.1f}s; train {len(ytr)} "
          f"({ytr.sum()} frauds), held out {len(yho)} ({yho.sum()} frauds)")
    if args.legit_sample_rate < 1.0:
        keep = (ytr == 1) | (rng.random(len(ytr)) < args.legit_sample_rate)
        Xtr, ytr = Xtr[keep], ytr[keep]
        print(f"fitting on {len(ytr)} rows after keeping {args.legit_sample_rate:.0%} of legit rows")
    pattern_counts = {p: int(np.sum(patterns[n_train:] == p)) for p in np.unique(patterns)}
    print(f"held-out fraud_pattern counts: {pattern_counts}")

    wanted = args.models.split(",")
    summary = []
    for model_id in wanted:
        if model_id == "gbdt":
            est = GradientBoostingClassifier(random_state=args.seed, **GBDT_PARAMS)
            params = dict(GBDT_PARAMS, estimator="GradientBoostingClassifier", loss="log_loss")
        elif model_id in ("mlp", "deep"):
            mlp_params = MLP_PARAMS if model_id == "mlp" else DEEP_PARAMS
            est = Pipeline([("scale", StandardScaler()),
                            ("mlp", MLPClassifier(random_state=args.seed, **mlp_params))])
            params = dict(mlp_params, estimator="StandardScaler + MLPClassifier",
                          hidden_layer_sizes=list(mlp_params["hidden_layer_sizes"]))
        else:
            raise ValueError(f"unknown model id {model_id!r}: expected gbdt, mlp or deep")
        params["legit_sample_rate"] = args.legit_sample_rate
        params["split"] = "first 80% of rows (event_time order) train, last 20% held out"

        t1 = time.time()
        est.fit(Xtr, ytr)
        fit_s = time.time() - t1
        if model_id != "gbdt":
            params["epochs_run"] = int(est.named_steps["mlp"].n_iter_)
        scores = est.predict_proba(Xho.astype(np.float32))[:, 1]
        thresholds, q = quality(yho, scores)
        name = f"fraud-{model_id}"
        n_features = len(features)
        model = (gbdt_to_onnx(est, n_features, name) if model_id == "gbdt"
                 else mlp_to_onnx(est, n_features, name))

        # Check the graph against sklearn on the whole held-out set before writing anything.
        graph_probs = check_graph.evaluate(model, Xho)[OUTPUT_NAME][:, 0]
        holdout_diff = float(np.max(np.abs(graph_probs.astype(np.float64) - scores)))
        if model_id == "gbdt":
            check_tree_decisions(est, model, Xho, rng)
        if holdout_diff > TOLERANCE:
            raise SystemExit(f"{name}: numpy graph differs from sklearn by {holdout_diff:.3g} "
                             f"> {TOLERANCE} on the held-out set")

        descriptor = {
            "name": name,
            "version": VERSIONS[model_id],
            "model_file": "model.onnx",
            "input_name": INPUT_NAME,
            "output_name": OUTPUT_NAME,
            "features": features,
            "thresholds": thresholds,
            # The mean training row (before the legit rows are thinned): the reference that
            # occlusion reason codes replace one feature at a time with.
            "baseline": [float(np.float32(v)) for v in X[:n_train].mean(axis=0)],
            "quality": q,
            "training": {
                "command": command,
                "seed": args.seed,
                "train_rows": int(len(ytr)),
                "framework": f"scikit-learn {sklearn.__version__}",
                "params": params,
            },
        }
        rows = parity_rows(yho, scores, rng)
        folder = write_artifacts(args.out, model_id, model, descriptor, features,
                                 Xho[rows], scores[rows])
        parity_diff, _ = check_graph.check_folder(folder, TOLERANCE)
        if parity_diff > TOLERANCE:
            raise SystemExit(f"{name}: parity sample differs by {parity_diff:.3g}")
        size = os.path.getsize(os.path.join(folder, "model.onnx"))
        print(f"{name}: fit {fit_s:.1f}s on {len(ytr)} rows; model.onnx {size / 1024:.0f} KiB; "
              f"thresholds review {thresholds['review']:.6g} decline {thresholds['decline']:.6g}")
        print(f"  quality {json.dumps(q)}")
        print(f"  max |numpy graph - sklearn|: held-out {holdout_diff:.3g}, parity sample {parity_diff:.3g}")
        summary.append((name, q, fit_s))

    print("\n| model | held-out rows | frauds | PR-AUC | recall @ 1% FPR | precision @ review | "
          "recall @ review | fit time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, q, fit_s in summary:
        print(f"| {name} | {q['holdout_rows']} | {q['holdout_frauds']} | {q['pr_auc']:.4f} | "
              f"{q['recall_at_1pct_fpr']:.4f} | {q['precision_at_review']:.4f} | "
              f"{q['recall_at_review']:.4f} | {fit_s:.0f} s |")
    print(f"total {time.time() - t0:.0f}s")


def check_tree_decisions(gbc, model, Xho, rng):
    """Every tree must reach the same leaf as sklearn, also for inputs sitting exactly on,
    just below and just above each split threshold."""
    ensemble = check_graph.TreeEnsemble(next(n for n in model.graph.node
                                             if n.op_type == "TreeEnsembleRegressor"))
    base = Xho[rng.choice(len(Xho), min(len(Xho), 20000), replace=False)].copy()
    probe = base.copy()
    feats, thr = [], []
    for est in gbc.estimators_[:, 0]:
        t = est.tree_
        internal = t.children_left != -1
        feats.extend(t.feature[internal])
        thr.extend(t.threshold[internal])
    feats, thr = np.array(feats), np.array(thr)
    pick = rng.integers(0, len(thr), len(probe))
    t32 = np.array([float32_at_or_below(v) for v in thr[pick]], dtype=np.float32)
    shift = rng.integers(-1, 2, len(probe))  # one float32 step below, at, or above
    v = np.where(shift < 0, np.nextafter(t32, np.float32(-np.inf)),
                 np.where(shift > 0, np.nextafter(t32, np.float32(np.inf)), t32)).astype(np.float32)
    probe[np.arange(len(probe)), feats[pick]] = v
    X = np.vstack([base, probe]).astype(np.float32)
    # sklearn's apply() gives node ids per tree; the ONNX node ids are the same numbers.
    expected = gbc.apply(X)[:, :, 0].astype(np.int64)
    got = ensemble.leaves(X)
    node_ids = np.array([int(a) for a in next(
        helper.get_attribute_value(a) for a in next(
            n for n in model.graph.node if n.op_type == "TreeEnsembleRegressor").attribute
        if a.name == "nodes_nodeids")])
    mismatches = int(np.sum(node_ids[got] != expected))
    if mismatches:
        raise SystemExit(f"tree decisions differ from sklearn in {mismatches} (row, tree) pairs")
    print(f"  tree decisions identical to sklearn on {len(X)} rows x {expected.shape[1]} trees "
          f"(half of them probing split thresholds)")


if __name__ == "__main__":
    main()
