#!/usr/bin/python3
"""A small numpy interpreter for the exported ONNX graphs, independent of the trainer.

It reads only what is in model.onnx (node attributes and initializers), evaluates the
graph in float32 the way ONNX Runtime's CPU kernels do, and compares the result with
the `expected_probability` column of the model's parity-sample.csv (scikit-learn's
predict_proba). It exists because this machine has no ONNX Runtime for Python: it
catches attribute mistakes (node ids, modes, branch ids, leaf weights, base values,
weight layout) before the Java side loads the file.

    /usr/bin/python3 models/training/check_graph.py models/artifacts/gbdt models/artifacts/mlp

Exits non-zero when any probability differs by more than --tolerance (default 1e-5).
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

SUPPORTED = {"Sub", "Div", "MatMul", "Add", "Relu", "Sigmoid", "TreeEnsembleRegressor"}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class TreeEnsemble:
    """ai.onnx.ml TreeEnsembleRegressor (single target, SUM, post_transform NONE)."""

    def __init__(self, node):
        a = _attrs(node)
        for name, expected in (("aggregate_function", b"SUM"), ("post_transform", b"NONE")):
            found = a.get(name, expected)
            if found != expected:
                raise ValueError(f"{name}: expected {expected!r}, found {found!r}")
        if a.get("n_targets", 1) != 1:
            raise ValueError(f"n_targets: expected 1, found {a['n_targets']}")
        if any(v for v in a.get("nodes_missing_value_tracks_true", [])):
            raise ValueError("nodes_missing_value_tracks_true set: not supported here")
        tree_ids = list(a["nodes_treeids"])
        node_ids = list(a["nodes_nodeids"])
        index = {(t, n): i for i, (t, n) in enumerate(zip(tree_ids, node_ids))}
        if len(index) != len(tree_ids):
            raise ValueError("duplicate (tree id, node id) pairs")
        self.modes = [m.decode() for m in a["nodes_modes"]]
        unknown = set(self.modes) - {"BRANCH_LEQ", "LEAF"}
        if unknown:
            raise ValueError(f"node modes: expected BRANCH_LEQ or LEAF, found {sorted(unknown)}")
        self.feature = np.asarray(a["nodes_featureids"], dtype=np.int64)
        self.value = np.asarray(a["nodes_values"], dtype=np.float32)
        n = len(tree_ids)
        self.true_idx = np.full(n, -1, dtype=np.int64)
        self.false_idx = np.full(n, -1, dtype=np.int64)
        for i in range(n):
            if self.modes[i] != "LEAF":
                t = tree_ids[i]
                self.true_idx[i] = index[(t, a["nodes_truenodeids"][i])]
                self.false_idx[i] = index[(t, a["nodes_falsenodeids"][i])]
        self.is_leaf = np.array([m == "LEAF" for m in self.modes])
        self.leaf_weight = np.zeros(n, dtype=np.float32)
        has_weight = np.zeros(n, dtype=bool)
        for t, nid, tgt, w in zip(a["target_treeids"], a["target_nodeids"],
                                  a["target_ids"], a["target_weights"]):
            if tgt != 0:
                raise ValueError(f"target id {tgt} on a single-target ensemble")
            i = index[(t, nid)]
            if not self.is_leaf[i]:
                raise ValueError(f"weight on non-leaf node tree {t} node {nid}")
            self.leaf_weight[i] = np.float32(self.leaf_weight[i] + np.float32(w))
            has_weight[i] = True
        if not np.array_equal(has_weight, self.is_leaf):
            raise ValueError("some leaves carry no weight")
        # Roots in ascending tree id: the order ONNX Runtime accumulates in.
        roots = {}
        for i, (t, nid) in enumerate(zip(tree_ids, node_ids)):
            if nid == 0:
                roots[t] = i
        self.roots = [roots[t] for t in sorted(set(tree_ids))]
        base = a.get("base_values", [0.0])
        self.base = np.float32(base[0]) if base else np.float32(0.0)

    def leaves(self, x):
        """Leaf index reached in each tree, shape [N, trees]."""
        out = np.empty((x.shape[0], len(self.roots)), dtype=np.int64)
        for k, root in enumerate(self.roots):
            cur = np.full(x.shape[0], root, dtype=np.int64)
            while True:
                active = ~self.is_leaf[cur]
                if not active.any():
                    break
                c = cur[active]
                go_true = x[np.nonzero(active)[0], self.feature[c]] <= self.value[c]
                cur[active] = np.where(go_true, self.true_idx[c], self.false_idx[c])
            out[:, k] = cur
        return out

    def __call__(self, x):
        leaves = self.leaves(x)
        acc = np.zeros(x.shape[0], dtype=np.float32)
        for k in range(leaves.shape[1]):
            acc = (acc + self.leaf_weight[leaves[:, k]]).astype(np.float32)
        return (acc + self.base).astype(np.float32).reshape(-1, 1)


def evaluate(model, x):
    """Runs the graph on float32 input x [N, F]; returns {output name: array}."""
    x = np.asarray(x, dtype=np.float32)
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in values]
    if len(inputs) != 1:
        raise ValueError(f"expected one graph input, found {[i.name for i in inputs]}")
    values[inputs[0].name] = x
    for node in model.graph.node:
        if node.op_type not in SUPPORTED:
            raise ValueError(f"unsupported op {node.op_type}")
        args = [values[n] for n in node.input]
        op = node.op_type
        if op == "TreeEnsembleRegressor":
            if node.domain != "ai.onnx.ml":
                raise ValueError(f"TreeEnsembleRegressor in domain {node.domain!r}")
            out = TreeEnsemble(node)(args[0])
        elif op == "Sub":
            out = args[0] - args[1]
        elif op == "Div":
            out = args[0] / args[1]
        elif op == "MatMul":
            out = args[0] @ args[1]
        elif op == "Add":
            out = args[0] + args[1]
        elif op == "Relu":
            out = np.maximum(args[0], np.float32(0))
        elif op == "Sigmoid":
            with np.errstate(over="ignore"):  # exp overflow is a saturated 0.0, as intended
                out = (1.0 / (1.0 + np.exp(-args[0].astype(np.float64)))).astype(np.float32)
        if out.dtype != np.float32:
            raise ValueError(f"{node.name or op}: produced {out.dtype}, expected float32")
        values[node.output[0]] = out
    return {o.name: values[o.name] for o in model.graph.output}


def read_parity_sample(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header[-1] != "expected_probability":
        raise ValueError(f"{path}: last column should be expected_probability, found {header[-1]}")
    x = np.array([[np.float32(float(v)) for v in r[:-1]] for r in body], dtype=np.float32)
    expected = np.array([float(r[-1]) for r in body], dtype=np.float64)
    return header[:-1], x, expected


def check_folder(folder, tolerance):
    with open(os.path.join(folder, "descriptor.json")) as f:
        desc = json.load(f)
    model = onnx.load(os.path.join(folder, desc["model_file"]))
    onnx.checker.check_model(model)
    features, x, expected = read_parity_sample(os.path.join(folder, "parity-sample.csv"))
    if features != desc["features"]:
        raise ValueError(f"{folder}: parity-sample columns differ from descriptor features")
    [graph_input] = [i for i in model.graph.input
                     if i.name not in {t.name for t in model.graph.initializer}]
    if graph_input.name != desc["input_name"]:
        raise ValueError(f"input name {graph_input.name} != descriptor {desc['input_name']}")
    dims = graph_input.type.tensor_type.shape.dim
    if dims[1].dim_value != len(features):
        raise ValueError(f"input width {dims[1].dim_value} != {len(features)} features")
    got = evaluate(model, x)[desc["output_name"]]
    if got.shape != (len(x), 1):
        raise ValueError(f"output shape {got.shape}, expected {(len(x), 1)}")
    diff = np.abs(got[:, 0].astype(np.float64) - expected)
    return float(diff.max()), len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="model folders (model.onnx, descriptor.json, parity-sample.csv)")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args()
    ok = True
    for folder in args.folders:
        worst, n = check_folder(folder, args.tolerance)
        verdict = "ok" if worst <= args.tolerance else "FAIL"
        ok &= worst <= args.tolerance
        print(f"{folder}: {n} rows, max |numpy graph - sklearn| = {worst:.3g} ({verdict})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
