#!/usr/bin/python3
"""Writes the tiny ONNX models the operator tests score with (run once; outputs are committed).

    /usr/bin/python3 operators/src/test/resources/fixture-model/make_fixture_models.py

Every model reads input `features` float[batch, 18] and writes `probability` float[batch, 1]
= sigmoid(features . W + B), with the known weights below, so a test can compute the expected
score independently of ONNX Runtime. BatchingInferenceOperatorTest holds a copy of WEIGHTS and
BIAS: change both together.

    linear-v1/             the reference fixture (name fixture-linear, version 1)
    linear-v2/             same name, version 2, negated weights: a model upgrade
    fails-unless-8-rows/   reshapes its input to [8, 18] before the MatMul, so ONNX Runtime
                           accepts it at load (OnnxModel warms up with 8 rows) and then fails
                           at run time for any batch that does not hold exactly 8 rows
    wrong-features/        the v1 model with a descriptor whose first two features are swapped
    wrong-shape/           takes float[batch, 17], but its descriptor lists the 18 features: a
                           model whose inputs do not match its descriptor (version wrong-shape)
    unbounded/             v1 without its Sigmoid: scores outside [0, 1] (version unbounded)
    fails-on-nan/          v1's scores, but ONNX Runtime fails the whole call when any row holds
                           a NaN feature (a Gather whose index is out of range for such rows): a
                           real model error caused by one poison row, for failure isolation

Needs only the `onnx` module (Debian python3-onnx); no ONNX Runtime for Python.
"""
import hashlib
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = [
    "amount_log", "card_present", "channel_ecom", "channel_atm", "high_risk_mcc",
    "hour_sin", "hour_cos", "txn_count_1h", "txn_count_24h", "amount_sum_1h_log",
    "amount_sum_24h_log", "secs_since_prev_log", "country_changed", "foreign",
    "amount_to_avg_log", "small_ecom_count_1h", "distinct_countries_24h", "history_count_log",
]
WEIGHTS = [1.0, -0.5, 0.25, 0.75, -0.25, 0.1, -0.1, 0.05, 0.02,
           0.3, -0.3, -0.05, 0.4, 0.2, 0.6, 0.15, 0.1, -0.2]
BIAS = -0.5
THRESHOLDS = {"review": 0.5, "decline": 0.8}

HERE = os.path.dirname(os.path.abspath(__file__))


def linear_model(weights, reshape_rows=None, fail_on_nan=False, columns=18, sigmoid=True):
    w = numpy_helper.from_array(np.asarray(weights, dtype=np.float32).reshape(columns, 1), "W")
    b = numpy_helper.from_array(np.asarray([BIAS], dtype=np.float32), "B")
    inits = [w, b]
    nodes = []
    x = "features"
    if reshape_rows is not None:
        inits.append(numpy_helper.from_array(np.asarray([reshape_rows, 18], dtype=np.int64), "fixed_shape"))
        nodes.append(helper.make_node("Reshape", [x, "fixed_shape"], ["fixed"]))
        x = "fixed"
    nodes += [
        helper.make_node("MatMul", [x, "W"], ["z0"]),
        helper.make_node("Add", ["z0", "B"], ["z"]),
    ]
    if fail_on_nan:
        # poisoned[r] = 1 if row r holds a NaN, else 0; Gather(table of 1 value, poisoned * 1000)
        # reads index 0 (adds 0.0) for clean rows and fails with "indices element out of data
        # bounds" as soon as one row of the call is poisoned.
        inits.append(numpy_helper.from_array(np.asarray([0.0], dtype=np.float32), "zero_table"))
        inits.append(numpy_helper.from_array(np.asarray([1000], dtype=np.int64), "out_of_range"))
        nodes += [
            helper.make_node("IsNaN", ["features"], ["nan"]),
            helper.make_node("Cast", ["nan"], ["nan_i"], to=TensorProto.INT64),
            helper.make_node("ReduceMax", ["nan_i"], ["poisoned"], axes=[1], keepdims=1),
            helper.make_node("Mul", ["poisoned", "out_of_range"], ["index"]),
            helper.make_node("Gather", ["zero_table", "index"], ["guard"], axis=0),
            helper.make_node("Add", ["z", "guard"], ["z_guarded"]),
            helper.make_node("Sigmoid", ["z_guarded"], ["probability"]),
        ]
    elif sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["z"], ["probability"]))
    else:
        nodes.append(helper.make_node("Identity", ["z"], ["probability"]))
    graph = helper.make_graph(
        nodes,
        "fixture_linear",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", columns])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="streamscore-test-fixture")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def write(folder, model, version, features=FEATURES):
    path = os.path.join(HERE, folder)
    os.makedirs(path, exist_ok=True)
    onnx.save(model, os.path.join(path, "model.onnx"))
    with open(os.path.join(path, "model.onnx"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    descriptor = {
        "name": "fixture-linear",
        "version": version,
        "model_file": "model.onnx",
        "sha256": digest,
        "input_name": "features",
        "output_name": "probability",
        "features": features,
        "thresholds": THRESHOLDS,
    }
    with open(os.path.join(path, "descriptor.json"), "w") as f:
        json.dump(descriptor, f, indent=2)
        f.write("\n")


def write_lifecycle_fixtures():
    write("wrong-shape", linear_model(WEIGHTS[:17], columns=17), "wrong-shape")
    write("unbounded", linear_model([10 * w for w in WEIGHTS], sigmoid=False), "unbounded")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--lifecycle-only"]:
        # Added later, with another onnx release: the others keep their committed bytes.
        write_lifecycle_fixtures()
        sys.exit(0)
    write_lifecycle_fixtures()
    write("linear-v1", linear_model(WEIGHTS), "1")
    write("linear-v2", linear_model([-w for w in WEIGHTS]), "2")
    write("fails-unless-8-rows", linear_model(WEIGHTS, reshape_rows=8), "broken")
    write("fails-on-nan", linear_model(WEIGHTS, fail_on_nan=True), "fails-on-nan")
    swapped = [FEATURES[1], FEATURES[0]] + FEATURES[2:]
    write("wrong-features", linear_model(WEIGHTS), "1", features=swapped)
