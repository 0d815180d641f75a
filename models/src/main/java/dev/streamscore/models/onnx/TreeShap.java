package dev.streamscore.models.onnx;

/**
 * Exact path-dependent TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature
 * Attribution for Tree Ensembles", 2018, Algorithm 2) of a summing tree ensemble's margin: for one
 * row, each feature's Shapley value when a feature left out of a coalition is integrated out by
 * following both children of its splits in proportion to their covers (the training rows that
 * reached them, {@code nodes_hitrates}).
 *
 * <p>The values sum to the row's margin minus {@link #expectedValue()}, the margin's cover-weighted
 * mean. What a leaf adds to each feature's value depends on the row only through which of the
 * features split on along the leaf's path the row agrees with (a pattern of at most {@code depth}
 * bits), so for shallow trees (at most 64 splits, at most {@value #MAX_TABLE_FEATURES} distinct
 * features on a path), as long as the tables stay within {@value #TABLE_BUDGET_BYTES} bytes for the
 * whole ensemble, those amounts are computed once per leaf and pattern when the instance is built,
 * and explaining a row is a walk of each tree's splits plus a table lookup per leaf and path
 * feature. Deeper trees run the algorithm's recursion, about {@code leaves x depth^2} operations
 * per tree. Nothing is allocated per row; an instance is not thread-safe (it reuses its path
 * buffers), so each thread explains with its own {@link #copy()}.
 *
 * <pre>{@code
 * TreeShap shap = TreeShap.of(TreeEnsemble.of(node).walk());
 * double[] phi = new double[featureCount];
 * double margin = shap.explain(row, phi); // sum(phi) == margin - shap.expectedValue()
 * }</pre>
 */
public final class TreeShap {

    /** The most distinct features on a leaf's path for its tree to be explained by table. */
    static final int MAX_TABLE_FEATURES = 8;

    /** The most memory the tables of one ensemble take; the trees past it run the recursion. */
    static final long TABLE_BUDGET_BYTES = 64L << 20;

    private final TreeEnsemble.Walk trees;
    private final double expectedValue;
    private final int maxDepth;

    /** Per tree, its leaves' precomputed contributions, or null where the recursion runs. */
    private final LeafTables[] tables;

    // One path per recursion depth, each up to maxDepth + 2 elements: feature, zero and one
    // fractions, and the permutation weights.
    private final int[][] feature;
    private final double[][] zero;
    private final double[][] one;
    private final double[][] weight;

    private TreeShap(
            TreeEnsemble.Walk trees, double expectedValue, int maxDepth, LeafTables[] tables) {
        this.trees = trees;
        this.expectedValue = expectedValue;
        this.maxDepth = maxDepth;
        this.tables = tables;
        // A path holds the root's element and one per distinct feature: at most one per level.
        int levels = maxDepth + 2;
        int elements = Math.min(maxDepth, Math.max(trees.featureCount(), 1)) + 2;
        feature = new int[levels][elements];
        zero = new double[levels][elements];
        one = new double[levels][elements];
        weight = new double[levels][elements];
    }

    /**
     * @throws IllegalArgumentException when a node lacks its cover, or a split's cover is not
     *     positive
     */
    public static TreeShap of(TreeEnsemble.Walk trees) {
        return of(trees, true);
    }

    /** With {@code tables} false, every tree runs the recursion: for tests of both ways. */
    static TreeShap of(TreeEnsemble.Walk trees, boolean tables) {
        if (!trees.hasCovers()) {
            throw new IllegalArgumentException(
                    "TreeSHAP needs every node's cover (the ensemble's nodes_hitrates attribute),"
                            + " and this ensemble has none");
        }
        double expected = trees.base;
        int depth = 0;
        for (int t = 0; t < trees.treeCount(); t++) {
            for (int i = 0; i < trees.mode[t].length; i++) {
                if (!(trees.cover[t][i] > 0f) || Float.isInfinite(trees.cover[t][i])) {
                    throw new IllegalArgumentException(
                            "TreeSHAP needs a positive, finite cover at every node; tree "
                                    + t
                                    + " has "
                                    + trees.cover[t][i]
                                    + " at node "
                                    + i);
                }
            }
            expected += expectedValue(trees, t, 0);
            depth = Math.max(depth, depth(trees, t, 0));
        }
        TreeShap shap = new TreeShap(trees, expected, depth, new LeafTables[trees.treeCount()]);
        long bytes = 0;
        for (int t = 0; tables && t < trees.treeCount() && bytes < TABLE_BUDGET_BYTES; t++) {
            LeafTables table = shap.leafTables(t);
            if (table != null) {
                bytes += table.bytes();
                shap.tables[t] = table;
            }
        }
        return shap;
    }

    /** Memory the per-leaf tables take, in bytes (an estimate of the arrays' contents). */
    public long tableBytes() {
        long bytes = 0;
        for (LeafTables t : tables) {
            bytes += t == null ? 0 : t.bytes();
        }
        return bytes;
    }

    /** Trees explained by table; the others run the recursion. */
    public int tableTrees() {
        int n = 0;
        for (LeafTables t : tables) {
            n += t == null ? 0 : 1;
        }
        return n;
    }

    /** Another instance over the same trees, for another thread. */
    public TreeShap copy() {
        return new TreeShap(trees, expectedValue, maxDepth, tables);
    }

    /**
     * The margin's mean over the training rows, as the covers give it: where {@code phi} starts.
     */
    public double expectedValue() {
        return expectedValue;
    }

    public int treeCount() {
        return trees.treeCount();
    }

    /** One more than the largest feature index a split reads. */
    public int featureCount() {
        return trees.featureCount();
    }

    /**
     * Writes each feature's contribution to the margin of {@code row} into {@code phi} (which it
     * first zeroes; at least {@link #featureCount()} long) and returns the margin, summed in
     * double.
     */
    public double explain(float[] row, double[] phi) {
        java.util.Arrays.fill(phi, 0.0);
        double margin = trees.base;
        for (int t = 0; t < trees.treeCount(); t++) {
            margin += leafWeight(t, row);
            LeafTables table = tables[t];
            if (table == null) {
                recurse(t, 0, row, phi, 0, 0, 1.0, 1.0, -1);
            } else {
                table.add(goesTrueMask(t, table.splits, row), phi);
            }
        }
        return margin;
    }

    /** Bit {@code b} set when {@code row} takes the true branch of split {@code splits[b]}. */
    private long goesTrueMask(int t, int[] splits, float[] row) {
        long mask = 0;
        for (int b = 0; b < splits.length; b++) {
            mask |= (trees.goesTrue(t, splits[b], row) ? 1L : 0L) << b;
        }
        return mask;
    }

    /**
     * The leaves of one tree, each with what it adds to each of its path's features for every
     * pattern of agreement. The pattern's bit {@code j} is set when the row agrees with every split
     * on the path's feature {@code j}: takes the true branch at each split of its {@code
     * trueMasks[j]} and the false branch at each of its {@code falseMasks[j]}.
     */
    private static final class LeafTables {
        final int[] splits;
        final int[][] features;
        final long[][] trueMasks;
        final long[][] falseMasks;
        final double[][] amounts; // per leaf: [pattern * d + j]

        LeafTables(int[] splits, int leaves) {
            this.splits = splits;
            features = new int[leaves][];
            trueMasks = new long[leaves][];
            falseMasks = new long[leaves][];
            amounts = new double[leaves][];
        }

        long bytes() {
            long b = 8L * splits.length;
            for (int l = 0; l < features.length; l++) {
                b += 8L * amounts[l].length + 20L * features[l].length;
            }
            return b;
        }

        void add(long goesTrue, double[] phi) {
            for (int l = 0; l < features.length; l++) {
                int[] fs = features[l];
                long[] tm = trueMasks[l];
                long[] fm = falseMasks[l];
                int d = fs.length;
                int pattern = 0;
                for (int j = 0; j < d; j++) {
                    // Agrees with every split on the feature: all its true ones taken, no false.
                    long disagree = (~goesTrue & tm[j]) | (goesTrue & fm[j]);
                    pattern |= (disagree == 0 ? 1 : 0) << j;
                }
                double[] a = amounts[l];
                int at = pattern * d;
                for (int j = 0; j < d; j++) {
                    phi[fs[j]] += a[at + j];
                }
            }
        }
    }

    /** The tables of tree {@code t}, or null when it is too large for them. */
    private LeafTables leafTables(int t) {
        int nodes = trees.mode[t].length;
        int[] bitOf = new int[nodes];
        int splitCount = 0;
        for (int i = 0; i < nodes; i++) {
            bitOf[i] = trees.mode[t][i] == TreeEnsemble.Walk.LEAF ? -1 : splitCount++;
        }
        if (splitCount > 64) {
            return null;
        }
        int[] splits = new int[splitCount];
        for (int i = 0; i < nodes; i++) {
            if (bitOf[i] >= 0) {
                splits[bitOf[i]] = i;
            }
        }
        LeafTables table = new LeafTables(splits, nodes - splitCount);
        int[] leafIndex = {0};
        boolean built =
                collectLeaves(
                        t,
                        0,
                        bitOf,
                        new int[0],
                        new double[0],
                        new long[0],
                        new long[0],
                        table,
                        leafIndex);
        return built ? table : null;
    }

    /**
     * Depth first from {@code node}, with the path's distinct features so far, their zero fractions
     * and their split masks; false when a path has too many distinct features.
     */
    private boolean collectLeaves(
            int t,
            int node,
            int[] bitOf,
            int[] fs,
            double[] zs,
            long[] tms,
            long[] fms,
            LeafTables table,
            int[] leafIndex) {
        if (trees.mode[t][node] == TreeEnsemble.Walk.LEAF) {
            int d = fs.length;
            if (d > MAX_TABLE_FEATURES) {
                return false;
            }
            int l = leafIndex[0]++;
            table.features[l] = fs;
            table.trueMasks[l] = tms;
            table.falseMasks[l] = fms;
            double value = trees.weight[t][node];
            double[] amounts = new double[(1 << d) * d];
            for (int pattern = 0; pattern < 1 << d; pattern++) {
                // The path at this leaf, as the recursion would have it: the root's element, then
                // one per distinct feature (the order does not change the weights).
                extend(0, 0, 1.0, 1.0, -1);
                for (int j = 0; j < d; j++) {
                    extend(0, j + 1, zs[j], (pattern >> j & 1), fs[j]);
                }
                for (int j = 0; j < d; j++) {
                    double w = unwoundSum(0, d, j + 1);
                    amounts[pattern * d + j] = w * ((pattern >> j & 1) - zs[j]) * value;
                }
            }
            table.amounts[l] = amounts;
            return true;
        }
        int split = trees.feature[t][node];
        double cover = trees.cover[t][node];
        long bit = 1L << bitOf[node];
        for (boolean toTrue : new boolean[] {true, false}) {
            int child = toTrue ? trees.trueChild[t][node] : trees.falseChild[t][node];
            double ratio = trees.cover[t][child] / cover;
            int k = 0;
            while (k < fs.length && fs[k] != split) {
                k++;
            }
            int[] f2 = k < fs.length ? fs : java.util.Arrays.copyOf(fs, fs.length + 1);
            double[] z2 = java.util.Arrays.copyOf(zs, f2.length);
            long[] t2 = java.util.Arrays.copyOf(tms, f2.length);
            long[] m2 = java.util.Arrays.copyOf(fms, f2.length);
            if (k == fs.length) {
                f2[k] = split;
                z2[k] = 1.0;
            }
            z2[k] *= ratio;
            if (toTrue) {
                t2[k] |= bit;
            } else {
                m2[k] |= bit;
            }
            if (!collectLeaves(t, child, bitOf, f2, z2, t2, m2, table, leafIndex)) {
                return false;
            }
        }
        return true;
    }

    private double leafWeight(int t, float[] row) {
        int i = 0;
        while (trees.mode[t][i] != TreeEnsemble.Walk.LEAF) {
            i = trees.goesTrue(t, i, row) ? trees.trueChild[t][i] : trees.falseChild[t][i];
        }
        return trees.weight[t][i];
    }

    /**
     * Node {@code node} of tree {@code t}: the path of recursion level {@code level} is the first
     * {@code length} elements of the parent level's path, extended by {@code splitFeature} (-1 at
     * the root) with the given fractions.
     */
    private void recurse(
            int t,
            int node,
            float[] row,
            double[] phi,
            int level,
            int length,
            double zeroFraction,
            double oneFraction,
            int splitFeature) {
        if (level > 0) {
            System.arraycopy(feature[level - 1], 0, feature[level], 0, length);
            System.arraycopy(zero[level - 1], 0, zero[level], 0, length);
            System.arraycopy(one[level - 1], 0, one[level], 0, length);
            System.arraycopy(weight[level - 1], 0, weight[level], 0, length);
        }
        int depth = extend(level, length, zeroFraction, oneFraction, splitFeature);
        if (trees.mode[t][node] == TreeEnsemble.Walk.LEAF) {
            double value = trees.weight[t][node];
            for (int i = 1; i <= depth; i++) {
                double w = unwoundSum(level, depth, i);
                phi[feature[level][i]] += w * (one[level][i] - zero[level][i]) * value;
            }
            return;
        }
        int split = trees.feature[t][node];
        boolean hotIsTrue = trees.goesTrue(t, node, row);
        int hot = hotIsTrue ? trees.trueChild[t][node] : trees.falseChild[t][node];
        int cold = hotIsTrue ? trees.falseChild[t][node] : trees.trueChild[t][node];
        double cover = trees.cover[t][node];
        double incomingZero = 1.0;
        double incomingOne = 1.0;
        int k = 1;
        while (k <= depth && feature[level][k] != split) {
            k++;
        }
        if (k <= depth) {
            // The feature was split on above: its element is undone and its fractions carry on.
            incomingZero = zero[level][k];
            incomingOne = one[level][k];
            unwind(level, depth, k);
            depth--;
        }
        double hotZero = incomingZero * trees.cover[t][hot] / cover;
        double coldZero = incomingZero * trees.cover[t][cold] / cover;
        recurse(t, hot, row, phi, level + 1, depth + 1, hotZero, incomingOne, split);
        recurse(t, cold, row, phi, level + 1, depth + 1, coldZero, 0.0, split);
    }

    /**
     * Appends an element at index {@code length} of the path of {@code level} and updates the
     * permutation weights; returns the index of the last element.
     */
    private int extend(int level, int length, double zeroFraction, double oneFraction, int f) {
        int[] fs = feature[level];
        double[] z = zero[level];
        double[] o = one[level];
        double[] w = weight[level];
        int d = length; // the new element's index
        fs[d] = f;
        z[d] = zeroFraction;
        o[d] = oneFraction;
        w[d] = d == 0 ? 1.0 : 0.0;
        for (int i = d - 1; i >= 0; i--) {
            w[i + 1] += oneFraction * w[i] * (i + 1) / (d + 1);
            w[i] = zeroFraction * w[i] * (d - i) / (d + 1.0);
        }
        return d;
    }

    /** Removes element {@code k} of the path of {@code level}, whose last index is {@code d}. */
    private void unwind(int level, int d, int k) {
        int[] fs = feature[level];
        double[] z = zero[level];
        double[] o = one[level];
        double[] w = weight[level];
        double oneK = o[k];
        double zeroK = z[k];
        double next = w[d];
        for (int i = d - 1; i >= 0; i--) {
            if (oneK != 0.0) {
                double tmp = w[i];
                w[i] = next * (d + 1) / ((i + 1) * oneK);
                next = tmp - w[i] * zeroK * (d - i) / (d + 1.0);
            } else {
                w[i] = w[i] * (d + 1) / (zeroK * (d - i));
            }
        }
        for (int i = k; i < d; i++) {
            fs[i] = fs[i + 1];
            z[i] = z[i + 1];
            o[i] = o[i + 1];
        }
    }

    /** The total permutation weight of the path of {@code level} with element {@code k} undone. */
    private double unwoundSum(int level, int d, int k) {
        double[] w = weight[level];
        double oneK = one[level][k];
        double zeroK = zero[level][k];
        double next = w[d];
        double total = 0.0;
        for (int i = d - 1; i >= 0; i--) {
            if (oneK != 0.0) {
                double tmp = next * (d + 1) / ((i + 1) * oneK);
                total += tmp;
                next = w[i] - tmp * zeroK * (d - i) / (d + 1.0);
            } else {
                total += w[i] / zeroK / ((d - i) / (d + 1.0));
            }
        }
        return total;
    }

    private static double expectedValue(TreeEnsemble.Walk trees, int t, int node) {
        if (trees.mode[t][node] == TreeEnsemble.Walk.LEAF) {
            return trees.weight[t][node];
        }
        int a = trees.trueChild[t][node];
        int b = trees.falseChild[t][node];
        double cover = trees.cover[t][node];
        return (trees.cover[t][a] * expectedValue(trees, t, a)
                        + trees.cover[t][b] * expectedValue(trees, t, b))
                / cover;
    }

    private static int depth(TreeEnsemble.Walk trees, int t, int node) {
        if (trees.mode[t][node] == TreeEnsemble.Walk.LEAF) {
            return 0;
        }
        return 1
                + Math.max(
                        depth(trees, t, trees.trueChild[t][node]),
                        depth(trees, t, trees.falseChild[t][node]));
    }
}
