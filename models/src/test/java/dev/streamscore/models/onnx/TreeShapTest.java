package dev.streamscore.models.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.models.explain.Explainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TreeSHAP of the bundled GBDT on its committed parity rows (held-out rows, frauds among them),
 * checked against SHAP's defining property and against an independent brute-force Shapley
 * computation.
 */
class TreeShapTest {

    private static TreeEnsemble.Walk walk;
    private static TreeShap shap;
    private static List<float[]> rows;
    private static List<Double> sklearnProbabilities;

    @BeforeAll
    static void load() throws Exception {
        ModelArtifact gbdt = ModelArtifact.load("bundled:gbdt");
        NodeProto node =
                OnnxProtos.parse(gbdt.onnxBytes(), "gbdt").getGraph().getNodeList().stream()
                        .filter(TreeEnsemble::isTreeEnsemble)
                        .findFirst()
                        .orElseThrow();
        walk = TreeEnsemble.of(node).walk();
        shap = TreeShap.of(walk);
        rows = new ArrayList<>();
        sklearnProbabilities = new ArrayList<>();
        List<String> lines = Files.readAllLines(Path.of("artifacts", "gbdt", "parity-sample.csv"));
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",");
            float[] row = new float[cells.length - 1];
            for (int i = 0; i < row.length; i++) {
                row[i] = Float.parseFloat(cells[i]);
            }
            rows.add(row);
            sklearnProbabilities.add(Double.parseDouble(cells[cells.length - 1]));
        }
    }

    @Test
    void contributionsSumToTheMarginMinusTheExpectedValue() throws Exception {
        double[] phi = new double[18];
        float[][] asArrays = rows.toArray(new float[0][]);
        float[] onnx;
        try (OnnxModel model = OnnxModel.open("bundled:gbdt", OnnxOptions.DEFAULT)) {
            onnx = model.score(asArrays);
        }
        for (int r = 0; r < rows.size(); r++) {
            double margin = shap.explain(rows.get(r), phi);
            double sum = 0;
            for (double v : phi) {
                sum += v;
            }
            assertThat(sum).as("row %d", r).isCloseTo(margin - shap.expectedValue(), within(1e-5));
            // The margin is the model's: its sigmoid is what ONNX Runtime and scikit-learn give.
            double p = 1 / (1 + Math.exp(-margin));
            assertThat(p).as("row %d vs ONNX Runtime", r).isCloseTo(onnx[r], within(1e-5));
            assertThat(p)
                    .as("row %d vs sklearn", r)
                    .isCloseTo(sklearnProbabilities.get(r), within(1e-5));
        }
        // The expected value is a margin the training data would give: a small fraud rate.
        assertThat(1 / (1 + Math.exp(-shap.expectedValue()))).isBetween(0.0001, 0.2);
    }

    @Test
    void matchesABruteForceShapleyComputationOverEachTreesFeatures() {
        double[] phi = new double[18];
        int compared = 0;
        for (int r = 0; r < rows.size(); r += 4) {
            float[] row = rows.get(r);
            shap.explain(row, phi);
            double[] brute = bruteForce(row);
            for (int f = 0; f < 18; f++) {
                assertThat(phi[f]).as("row %d feature %d", r, f).isCloseTo(brute[f], within(1e-9));
            }
            compared++;
        }
        assertThat(compared).isGreaterThanOrEqualTo(50);
    }

    @Test
    void aFraudRowsTopContributionIsLargeAndPositive() {
        // The parity sample's first rows include frauds: the highest-scoring one must be explained
        // by at least one feature pushing it up by a visible amount.
        int best = 0;
        for (int r = 1; r < rows.size(); r++) {
            if (sklearnProbabilities.get(r) > sklearnProbabilities.get(best)) {
                best = r;
            }
        }
        double[] phi = new double[18];
        shap.explain(rows.get(best), phi);
        double max = Double.NEGATIVE_INFINITY;
        for (double v : phi) {
            max = Math.max(max, v);
        }
        assertThat(max).isGreaterThan(0.5);
    }

    @Test
    void theLeafTablesGiveWhatTheRecursionGives() {
        TreeShap recursive = TreeShap.of(walk, false);
        double[] a = new double[18];
        double[] b = new double[18];
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < 500; i++) {
            float[] row = rows.get(random.nextInt(rows.size())).clone();
            // Move some features to random values, so that the rows reach many patterns.
            for (int f = 0; f < 18; f++) {
                if (random.nextInt(3) == 0) {
                    row[f] = (float) (random.nextDouble() * 12 - 4);
                }
            }
            double ma = shap.explain(row, a);
            double mb = recursive.explain(row, b);
            assertThat(ma).isEqualTo(mb);
            for (int f = 0; f < 18; f++) {
                assertThat(a[f]).as("row %d feature %d", i, f).isCloseTo(b[f], within(1e-12));
            }
        }
    }

    @Test
    void everyTreeOfTheBundledGbdtIsExplainedByTableWithinTheBudget() {
        assertThat(shap.tableTrees()).isEqualTo(walk.treeCount());
        assertThat(shap.tableBytes()).isPositive().isLessThan(TreeShap.TABLE_BUDGET_BYTES);
        System.out.printf(
                "bundled GBDT: %d trees by table, %d KiB%n",
                shap.tableTrees(), shap.tableBytes() / 1024);
    }

    @Test
    void anInstanceCopyGivesTheSameValues() {
        double[] a = new double[18];
        double[] b = new double[18];
        TreeShap other = shap.copy();
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 20; i++) {
            float[] row = rows.get(random.nextInt(rows.size()));
            shap.explain(row, a);
            other.explain(row, b);
            assertThat(b).containsExactly(a);
        }
    }

    @Test
    void anEnsembleWithoutCoversIsRefusedWithAReason() throws Exception {
        ModelArtifact gbdt = ModelArtifact.load("bundled:gbdt");
        NodeProto node =
                OnnxProtos.parse(gbdt.onnxBytes(), "gbdt").getGraph().getNodeList().stream()
                        .filter(TreeEnsemble::isTreeEnsemble)
                        .findFirst()
                        .orElseThrow();
        NodeProto.Builder stripped = node.toBuilder().clearAttribute();
        for (AttributeProto a : node.getAttributeList()) {
            if (!a.getName().equals("nodes_hitrates")) {
                stripped.addAttribute(a);
            }
        }
        TreeEnsemble.Walk bare = TreeEnsemble.of(stripped.build()).walk();
        assertThat(bare.hasCovers()).isFalse();
        assertThatThrownBy(() -> TreeShap.of(bare))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nodes_hitrates");
    }

    @Test
    void logitIsFiniteAtTheEnds() {
        assertThat(Explainer.logit(0.0)).isFinite().isNegative();
        assertThat(Explainer.logit(1.0)).isFinite().isPositive();
        assertThat(Explainer.logit(0.5)).isCloseTo(0.0, within(1e-12));
    }

    /**
     * Shapley values by definition, tree by tree (they add up over a sum of trees): for each tree,
     * every coalition of the features it splits on, valued by the tree's expected output given the
     * coalition's features (the others integrated out by cover), with the Shapley weights.
     */
    private static double[] bruteForce(float[] row) {
        double[] phi = new double[18];
        for (int t = 0; t < walk.treeCount(); t++) {
            TreeSet<Integer> used = new TreeSet<>();
            for (int i = 0; i < walk.mode[t].length; i++) {
                if (walk.mode[t][i] != TreeEnsemble.Walk.LEAF) {
                    used.add(walk.feature[t][i]);
                }
            }
            int[] features = used.stream().mapToInt(Integer::intValue).toArray();
            int k = features.length;
            double[] value = new double[1 << k];
            for (int s = 0; s < 1 << k; s++) {
                boolean[] known = new boolean[18];
                for (int j = 0; j < k; j++) {
                    known[features[j]] = (s & (1 << j)) != 0;
                }
                value[s] = conditional(t, 0, row, known);
            }
            for (int j = 0; j < k; j++) {
                for (int s = 0; s < 1 << k; s++) {
                    if ((s & (1 << j)) != 0) {
                        continue;
                    }
                    int size = Integer.bitCount(s);
                    double weight = factorial(size) * factorial(k - size - 1) / factorial(k);
                    phi[features[j]] += weight * (value[s | (1 << j)] - value[s]);
                }
            }
        }
        return phi;
    }

    /** The tree's output with the known features fixed and the others integrated out by cover. */
    private static double conditional(int t, int node, float[] row, boolean[] known) {
        if (walk.mode[t][node] == TreeEnsemble.Walk.LEAF) {
            return walk.weight[t][node];
        }
        int a = walk.trueChild[t][node];
        int b = walk.falseChild[t][node];
        int f = walk.feature[t][node];
        if (known[f]) {
            // Only BRANCH_LEQ in this model: the exporter's mode.
            assertThat(walk.mode[t][node]).isEqualTo(TreeEnsemble.Walk.LEQ);
            return conditional(t, row[f] <= walk.threshold[t][node] ? a : b, row, known);
        }
        return (walk.cover[t][a] * conditional(t, a, row, known)
                        + walk.cover[t][b] * conditional(t, b, row, known))
                / walk.cover[t][node];
    }

    private static double factorial(int n) {
        double f = 1;
        for (int i = 2; i <= n; i++) {
            f *= i;
        }
        return f;
    }
}
