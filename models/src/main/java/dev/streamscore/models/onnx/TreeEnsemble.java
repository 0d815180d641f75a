package dev.streamscore.models.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The trees of one {@code ai.onnx.ml} {@code TreeEnsembleRegressor} or {@code
 * TreeEnsembleClassifier} node, read from its parallel {@code nodes_*} attribute arrays: their
 * shape ({@link #summary()}), the node keeping only the first trees ({@link #firstTrees(int)}), and
 * a plain Java walk of the regressor's trees ({@link #walk()}).
 *
 * <p>Trees are in the order their ids first appear in {@code nodes_treeids}: the order ONNX Runtime
 * sums them in and, for a boosted ensemble exported from scikit-learn, the boosting sequence.
 *
 * <pre>{@code
 * TreeEnsemble trees = TreeEnsemble.of(node);
 * NodeProto first50 = trees.firstTrees(50);
 * }</pre>
 */
public final class TreeEnsemble {

    /** Operators of the ONNX-ML domain read here. */
    public static final Set<String> OPERATORS =
            Set.of("TreeEnsembleRegressor", "TreeEnsembleClassifier");

    /** What {@code model inspect} reports of a tree ensemble. */
    public record Summary(String operator, int trees, int maxDepth, int nodes, int leaves) {}

    private final NodeProto node;
    private final long[] treeIds;
    private final long[] nodeIds;
    private final String[] modes;
    private final long[] trueIds;
    private final long[] falseIds;

    /** Tree ids in order of first appearance. */
    private final List<Long> trees;

    /** Per tree (same order), the index into the nodes_* arrays of each node id. */
    private final List<Map<Long, Integer>> indexOf;

    /** Per tree, the index of its root: the one node no other node of the tree points to. */
    private final int[] roots;

    private TreeEnsemble(NodeProto node) {
        this.node = node;
        this.treeIds = ints("nodes_treeids");
        int n = treeIds.length;
        this.nodeIds = sized(ints("nodes_nodeids"), n, "nodes_nodeids");
        this.trueIds = sized(ints("nodes_truenodeids"), n, "nodes_truenodeids");
        this.falseIds = sized(ints("nodes_falsenodeids"), n, "nodes_falsenodeids");
        AttributeProto modeAttribute = required("nodes_modes");
        if (modeAttribute.getStringsCount() != n) {
            throw malformed("nodes_modes has " + modeAttribute.getStringsCount() + " entries");
        }
        this.modes = new String[n];
        for (int i = 0; i < n; i++) {
            modes[i] = modeAttribute.getStrings(i).toStringUtf8();
        }
        Map<Long, Map<Long, Integer>> byTree = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            if (byTree.computeIfAbsent(treeIds[i], t -> new HashMap<>()).put(nodeIds[i], i)
                    != null) {
                throw malformed("tree " + treeIds[i] + " has node " + nodeIds[i] + " twice");
            }
        }
        this.trees = List.copyOf(byTree.keySet());
        this.indexOf = List.copyOf(byTree.values());
        this.roots = new int[trees.size()];
        for (int t = 0; t < trees.size(); t++) {
            Map<Long, Integer> index = indexOf.get(t);
            Set<Long> children = new HashSet<>();
            for (int i : index.values()) {
                if (!modes[i].equals("LEAF")) {
                    for (long child : new long[] {trueIds[i], falseIds[i]}) {
                        if (!index.containsKey(child)) {
                            throw malformed(
                                    "node "
                                            + nodeIds[i]
                                            + " of tree "
                                            + trees.get(t)
                                            + " points to node "
                                            + child
                                            + ", which the tree lacks");
                        }
                        children.add(child);
                    }
                }
            }
            List<Long> rootIds = new ArrayList<>(index.keySet());
            rootIds.removeAll(children);
            if (rootIds.size() != 1) {
                throw malformed(
                        "tree " + trees.get(t) + " must have one root, found nodes " + rootIds);
            }
            roots[t] = index.get(rootIds.get(0));
        }
    }

    /** Whether {@code node} is a tree ensemble read here. */
    public static boolean isTreeEnsemble(NodeProto node) {
        return OnnxProtos.ML_DOMAIN.equals(node.getDomain())
                && OPERATORS.contains(node.getOpType());
    }

    public static TreeEnsemble of(NodeProto node) {
        if (!isTreeEnsemble(node)) {
            throw new IllegalArgumentException(
                    "expected an ai.onnx.ml tree ensemble node, found "
                            + OnnxProtos.qualifiedOp(node));
        }
        return new TreeEnsemble(node);
    }

    public NodeProto node() {
        return node;
    }

    public boolean isRegressor() {
        return node.getOpType().equals("TreeEnsembleRegressor");
    }

    public int treeCount() {
        return trees.size();
    }

    /** Trees, nodes, leaves and the depth (splits from root to the deepest leaf). */
    public Summary summary() {
        int leaves = 0;
        for (String mode : modes) {
            leaves += mode.equals("LEAF") ? 1 : 0;
        }
        int maxDepth = 0;
        for (int t = 0; t < trees.size(); t++) {
            maxDepth = Math.max(maxDepth, depth(t, roots[t], 0));
        }
        return new Summary(node.getOpType(), trees.size(), maxDepth, modes.length, leaves);
    }

    private int depth(int tree, int i, int level) {
        if (modes[i].equals("LEAF")) {
            return level;
        }
        if (level > indexOf.get(tree).size()) {
            throw malformed("tree " + trees.get(tree) + " has a cycle");
        }
        Map<Long, Integer> index = indexOf.get(tree);
        return Math.max(
                depth(tree, index.get(trueIds[i]), level + 1),
                depth(tree, index.get(falseIds[i]), level + 1));
    }

    /**
     * This node keeping only the first {@code n} trees: every {@code nodes_*} array filtered to
     * their nodes and every {@code target_*} (regressor) or {@code class_*} (classifier) array to
     * their leaves' entries; the other attributes (base values, aggregation, post transform) as
     * they are.
     */
    public NodeProto firstTrees(int n) {
        if (n < 1 || n > trees.size()) {
            throw new IllegalArgumentException(
                    "number of trees to keep must be within 1.."
                            + trees.size()
                            + " (the ensemble's trees), got "
                            + n);
        }
        Set<Long> kept = new HashSet<>(trees.subList(0, n));
        boolean[] keepNode = new boolean[treeIds.length];
        for (int i = 0; i < treeIds.length; i++) {
            keepNode[i] = kept.contains(treeIds[i]);
        }
        String leafPrefix = isRegressor() ? "target_" : "class_";
        long[] leafTrees = ints(leafPrefix + "treeids");
        boolean[] keepLeaf = new boolean[leafTrees.length];
        for (int i = 0; i < leafTrees.length; i++) {
            keepLeaf[i] = kept.contains(leafTrees[i]);
        }
        NodeProto.Builder pruned = node.toBuilder().clearAttribute();
        for (AttributeProto a : node.getAttributeList()) {
            if (a.getName().startsWith("nodes_")) {
                pruned.addAttribute(filtered(a, keepNode));
            } else if (a.getName().startsWith(leafPrefix)) {
                pruned.addAttribute(filtered(a, keepLeaf));
            } else {
                pruned.addAttribute(a);
            }
        }
        return pruned.build();
    }

    /**
     * The trees compiled for {@link Walk#cumulativeMargins}: per tree, arrays indexed by node from
     * the root (index 0).
     *
     * @throws IllegalArgumentException when the ensemble is not a one-target summing regressor with
     *     float thresholds
     */
    public Walk walk() {
        String aggregate = OnnxProtos.stringAttribute(node, "aggregate_function", "SUM");
        long targets = OnnxProtos.intAttribute(node, "n_targets", 1);
        if (!isRegressor() || targets != 1 || !aggregate.equals("SUM")) {
            throw new IllegalArgumentException(
                    "a Java walk of the trees needs a TreeEnsembleRegressor with one target and"
                            + " aggregate_function SUM, found "
                            + node.getOpType()
                            + " with "
                            + targets
                            + " targets and "
                            + aggregate);
        }
        if (OnnxProtos.attribute(node, "nodes_values_as_tensor").isPresent()
                || OnnxProtos.attribute(node, "target_weights_as_tensor").isPresent()
                || OnnxProtos.attribute(node, "base_values_as_tensor").isPresent()) {
            throw new IllegalArgumentException(
                    "a Java walk of the trees needs float thresholds and weights; this ensemble"
                            + " stores them as tensors (*_as_tensor)");
        }
        float[] values = sizedFloats("nodes_values");
        long[] features = ints("nodes_featureids");
        long[] missing =
                OnnxProtos.attribute(node, "nodes_missing_value_tracks_true").isPresent()
                        ? sized(
                                ints("nodes_missing_value_tracks_true"),
                                modes.length,
                                "nodes_missing_value_tracks_true")
                        : new long[modes.length];
        // nodes_hitrates ("popularity of each node") is optional and ONNX Runtime ignores it;
        // streamscore's exporter writes each node's training cover there, which TreeShap needs.
        float[] hitrates =
                OnnxProtos.attribute(node, "nodes_hitrates").isPresent()
                        ? sizedFloats("nodes_hitrates")
                        : null;
        Map<Long, Float> leafWeights = new HashMap<>(); // by (tree index << 32 | node index)
        long[] leafTrees = ints("target_treeids");
        long[] leafNodes = sized(ints("target_nodeids"), leafTrees.length, "target_nodeids");
        float[] weights = floats("target_weights");
        if (weights.length != leafTrees.length) {
            throw malformed("target_weights has " + weights.length + " entries");
        }
        Map<Long, Integer> treeIndex = new HashMap<>();
        for (int t = 0; t < trees.size(); t++) {
            treeIndex.put(trees.get(t), t);
        }
        for (int j = 0; j < leafTrees.length; j++) {
            Integer t = treeIndex.get(leafTrees[j]);
            Integer i = t == null ? null : indexOf.get(t).get(leafNodes[j]);
            if (i == null) {
                throw malformed(
                        "target weight "
                                + j
                                + " names node "
                                + leafNodes[j]
                                + " of tree "
                                + leafTrees[j]
                                + ", which does not exist");
            }
            leafWeights.merge(((long) t << 32) | i, weights[j], Float::sum);
        }
        // base_values is optional in the operator's definition: none means 0.
        List<Float> base =
                OnnxProtos.attribute(node, "base_values")
                        .map(AttributeProto::getFloatsList)
                        .orElse(List.of());
        Walk walk = new Walk(trees.size(), base.isEmpty() ? 0f : base.get(0));
        for (int t = 0; t < trees.size(); t++) {
            // Renumber each tree's nodes from its root, in visiting order.
            Map<Integer, Integer> local = new LinkedHashMap<>();
            List<Integer> pending = new ArrayList<>(List.of(roots[t]));
            while (!pending.isEmpty()) {
                int i = pending.remove(pending.size() - 1);
                if (local.putIfAbsent(i, local.size()) == null && !modes[i].equals("LEAF")) {
                    pending.add(indexOf.get(t).get(falseIds[i]));
                    pending.add(indexOf.get(t).get(trueIds[i]));
                }
            }
            int size = local.size();
            walk.feature[t] = new int[size];
            walk.threshold[t] = new float[size];
            walk.mode[t] = new byte[size];
            walk.trueChild[t] = new int[size];
            walk.falseChild[t] = new int[size];
            walk.missingTrue[t] = new boolean[size];
            walk.weight[t] = new float[size];
            if (hitrates != null) {
                walk.cover[t] = new float[size];
            }
            for (var e : local.entrySet()) {
                int i = e.getKey();
                int k = e.getValue();
                walk.mode[t][k] = Walk.mode(modes[i]);
                walk.missingTrue[t][k] = missing[i] != 0;
                if (hitrates != null) {
                    walk.cover[t][k] = hitrates[i];
                }
                if (modes[i].equals("LEAF")) {
                    walk.weight[t][k] = leafWeights.getOrDefault(((long) t << 32) | i, 0f);
                } else {
                    if (features[i] < 0 || features[i] > Integer.MAX_VALUE - 1) {
                        throw malformed("node " + nodeIds[i] + " reads feature " + features[i]);
                    }
                    walk.feature[t][k] = (int) features[i];
                    walk.featureCount = Math.max(walk.featureCount, (int) features[i] + 1);
                    walk.threshold[t][k] = values[i];
                    walk.trueChild[t][k] = local.get(indexOf.get(t).get(trueIds[i]));
                    walk.falseChild[t][k] = local.get(indexOf.get(t).get(falseIds[i]));
                }
            }
        }
        return walk;
    }

    /** A regressor's trees as flat arrays, walked by {@link #cumulativeMargins}. */
    public static final class Walk {
        static final byte LEAF = 0;
        static final byte LEQ = 1;
        static final byte LT = 2;
        static final byte GTE = 3;
        static final byte GT = 4;
        static final byte EQ = 5;
        static final byte NEQ = 6;

        final int[][] feature;
        final float[][] threshold;
        final byte[][] mode;
        final int[][] trueChild;
        final int[][] falseChild;
        final boolean[][] missingTrue;
        final float[][] weight;

        /** Per node, its cover ({@code nodes_hitrates}); a tree's array is null without them. */
        final float[][] cover;

        final float base;
        int featureCount;

        private Walk(int trees, float base) {
            feature = new int[trees][];
            threshold = new float[trees][];
            mode = new byte[trees][];
            trueChild = new int[trees][];
            falseChild = new int[trees][];
            missingTrue = new boolean[trees][];
            weight = new float[trees][];
            cover = new float[trees][];
            this.base = base;
        }

        /**
         * For a regressor with one target summed over its trees: {@code out[k]}, the margin of
         * {@code row} from its first {@code k + 1} trees and the base value, before any post
         * transform. Leaf weights are added in float in tree order and the base value last, as ONNX
         * Runtime's CPU kernel does with one thread, so {@code out[treeCount() - 1]} is the whole
         * ensemble's output.
         */
        public void cumulativeMargins(float[] row, float[] out) {
            float sum = 0f;
            for (int t = 0; t < trueChild.length; t++) {
                int i = 0;
                byte[] modes = mode[t];
                while (modes[i] != LEAF) {
                    i = goesTrue(t, i, row) ? trueChild[t][i] : falseChild[t][i];
                }
                sum += weight[t][i];
                out[t] = sum + base;
            }
        }

        /**
         * Whether {@code row} takes the true branch of split {@code i} of tree {@code t}: ONNX
         * Runtime's rule, a NaN following {@code nodes_missing_value_tracks_true}.
         */
        boolean goesTrue(int t, int i, float[] row) {
            float x = row[feature[t][i]];
            if (Float.isNaN(x)) {
                return missingTrue[t][i];
            }
            float v = threshold[t][i];
            return switch (mode[t][i]) {
                case LEQ -> x <= v;
                case LT -> x < v;
                case GTE -> x >= v;
                case GT -> x > v;
                case EQ -> x == v;
                default -> x != v;
            };
        }

        public int treeCount() {
            return mode.length;
        }

        /** Whether every node has a cover ({@code nodes_hitrates}): what {@link TreeShap} needs. */
        public boolean hasCovers() {
            for (float[] c : cover) {
                if (c == null) {
                    return false;
                }
            }
            return true;
        }

        /** The base value added to the trees' sum: the margin before any tree. */
        public float base() {
            return base;
        }

        /** One more than the largest feature index a split reads: the row length needed. */
        public int featureCount() {
            return featureCount;
        }

        static byte mode(String mode) {
            return switch (mode) {
                case "LEAF" -> LEAF;
                case "BRANCH_LEQ" -> LEQ;
                case "BRANCH_LT" -> LT;
                case "BRANCH_GTE" -> GTE;
                case "BRANCH_GT" -> GT;
                case "BRANCH_EQ" -> EQ;
                case "BRANCH_NEQ" -> NEQ;
                default -> throw new IllegalArgumentException("unknown node mode '" + mode + "'");
            };
        }
    }

    private AttributeProto required(String name) {
        return OnnxProtos.attribute(node, name)
                .orElseThrow(() -> malformed("attribute " + name + " is missing"));
    }

    private long[] ints(String name) {
        return required(name).getIntsList().stream().mapToLong(Long::longValue).toArray();
    }

    private float[] floats(String name) {
        List<Float> list = required(name).getFloatsList();
        float[] values = new float[list.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = list.get(i);
        }
        return values;
    }

    private float[] sizedFloats(String name) {
        float[] values = floats(name);
        if (values.length != modes.length) {
            throw malformed(name + " has " + values.length + " entries");
        }
        return values;
    }

    private long[] sized(long[] values, int n, String name) {
        if (values.length != n) {
            throw malformed(name + " has " + values.length + " entries, nodes_treeids " + n);
        }
        return values;
    }

    private IllegalArgumentException malformed(String what) {
        return new IllegalArgumentException(
                "malformed " + node.getOpType() + " node '" + node.getName() + "': " + what);
    }

    /** {@code a} keeping the entries where {@code keep} is true; its length must be keep's. */
    private AttributeProto filtered(AttributeProto a, boolean[] keep) {
        AttributeProto.Builder b = a.toBuilder();
        switch (a.getType()) {
            case INTS -> {
                check(a, a.getIntsCount(), keep.length);
                b.clearInts();
                for (int i = 0; i < keep.length; i++) {
                    if (keep[i]) {
                        b.addInts(a.getInts(i));
                    }
                }
            }
            case FLOATS -> {
                check(a, a.getFloatsCount(), keep.length);
                b.clearFloats();
                for (int i = 0; i < keep.length; i++) {
                    if (keep[i]) {
                        b.addFloats(a.getFloats(i));
                    }
                }
            }
            case STRINGS -> {
                check(a, a.getStringsCount(), keep.length);
                b.clearStrings();
                for (int i = 0; i < keep.length; i++) {
                    if (keep[i]) {
                        b.addStrings(a.getStrings(i));
                    }
                }
            }
            case TENSOR -> b.setT(filtered(a, a.getT(), keep));
            default ->
                    throw malformed(
                            "attribute " + a.getName() + " has unexpected type " + a.getType());
        }
        return b.build();
    }

    private TensorProto filtered(AttributeProto a, TensorProto t, boolean[] keep) {
        check(a, OnnxProtos.elementCount(t), keep.length);
        long kept = 0;
        for (boolean k : keep) {
            kept += k ? 1 : 0;
        }
        TensorProto.Builder b = t.toBuilder().clearDims().addDims(kept);
        if (!t.getRawData().isEmpty()) {
            int size = t.getRawData().size() / keep.length;
            byte[] raw = t.getRawData().toByteArray();
            byte[] out = new byte[Math.toIntExact(kept * size)];
            int at = 0;
            for (int i = 0; i < keep.length; i++) {
                if (keep[i]) {
                    System.arraycopy(raw, i * size, out, at, size);
                    at += size;
                }
            }
            return b.setRawData(ByteString.copyFrom(out)).build();
        }
        if (t.getDoubleDataCount() == keep.length) {
            b.clearDoubleData();
            for (int i = 0; i < keep.length; i++) {
                if (keep[i]) {
                    b.addDoubleData(t.getDoubleData(i));
                }
            }
            return b.build();
        }
        if (t.getFloatDataCount() == keep.length) {
            b.clearFloatData();
            for (int i = 0; i < keep.length; i++) {
                if (keep[i]) {
                    b.addFloatData(t.getFloatData(i));
                }
            }
            return b.build();
        }
        throw malformed("attribute " + a.getName() + " holds a tensor of an unsupported form");
    }

    private void check(AttributeProto a, long count, int expected) {
        if (count != expected) {
            throw malformed(
                    "attribute "
                            + a.getName()
                            + " has "
                            + count
                            + " entries, expected "
                            + expected);
        }
    }
}
