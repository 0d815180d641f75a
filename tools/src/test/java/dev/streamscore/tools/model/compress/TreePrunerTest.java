package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link TreePruner} keeps the first trees of the committed gbdt exactly: the pruned model scores
 * bit for bit like a reference built another way (the whole model with the later trees' leaf
 * weights set to zero, so ONNX Runtime adds zeros for them), and like a plain Java walk of the
 * trees within 1e-6.
 */
class TreePrunerTest {

    private static final ModelProto GBDT = Fixtures.model("gbdt");
    private static final Fixtures.ParitySample SAMPLE = Fixtures.paritySample("gbdt");
    private static final int TREES = 200;

    /** The whole model, with every leaf weight of trees whose id is {@code n} or more zeroed. */
    private static ModelProto laterTreesWeighedZero(int n) {
        NodeProto trees = GBDT.getGraph().getNode(0);
        NodeProto.Builder reference = trees.toBuilder().clearAttribute();
        AttributeProto treeIds = OnnxProtos.attribute(trees, "target_treeids").orElseThrow();
        for (AttributeProto a : trees.getAttributeList()) {
            if (!a.getName().equals("target_weights")) {
                reference.addAttribute(a);
                continue;
            }
            AttributeProto.Builder weights = a.toBuilder().clearFloats();
            for (int i = 0; i < a.getFloatsCount(); i++) {
                weights.addFloats(treeIds.getInts(i) < n ? a.getFloats(i) : 0f);
            }
            reference.addAttribute(weights);
        }
        return GBDT.toBuilder().setGraph(GBDT.getGraph().toBuilder().setNode(0, reference)).build();
    }

    @Test
    void theCommittedGbdtIsTwoHundredTreesNumberedInBoostingOrder() {
        NodeProto trees = GBDT.getGraph().getNode(0);
        assertThat(trees.getOpType()).isEqualTo("TreeEnsembleRegressor");
        List<Long> firstSeen = new ArrayList<>();
        for (long id : OnnxProtos.attribute(trees, "nodes_treeids").orElseThrow().getIntsList()) {
            if (!firstSeen.contains(id)) {
                firstSeen.add(id);
            }
        }
        // The reference below zeroes trees by id; the pruner keeps them by first appearance.
        assertThat(firstSeen).hasSize(TREES);
        for (int i = 0; i < TREES; i++) {
            assertThat(firstSeen.get(i)).isEqualTo(i);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 50, TREES})
    void keepingTheFirstTreesScoresBitForBitLikeTheModelWithLaterTreesWeighedZero(int n)
            throws Exception {
        ModelProto pruned = TreePruner.keepFirstTrees(GBDT, n);
        float[] scores =
                Fixtures.score(Fixtures.artifact("gbdt", "prune" + n, pruned), SAMPLE.rows());
        float[] reference =
                Fixtures.score(
                        Fixtures.artifact("gbdt", "zeroed" + n, laterTreesWeighedZero(n)),
                        SAMPLE.rows());
        for (int i = 0; i < scores.length; i++) {
            assertThat(Float.floatToIntBits(scores[i]))
                    .as("row %d: %s vs %s", i, scores[i], reference[i])
                    .isEqualTo(Float.floatToIntBits(reference[i]));
        }
        if (n == TREES) {
            assertThat(Fixtures.maxAbsDiff(scores, SAMPLE.expected())).isLessThan(1e-5);
        } else {
            assertThat(Fixtures.maxAbsDiff(scores, SAMPLE.expected()))
                    .as("fewer trees must change some scores")
                    .isGreaterThan(1e-3);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 50, TREES})
    void aJavaWalkOfTheTreesGivesOnnxRuntimesScoresWithinOneInAMillion(int n) throws Exception {
        float[] scores =
                Fixtures.score(
                        Fixtures.artifact("gbdt", "prune" + n, TreePruner.keepFirstTrees(GBDT, n)),
                        SAMPLE.rows());
        TreeEnsemble.Walk walk = TreePruner.ensemble(GBDT).walk();
        float[] margins = new float[walk.treeCount()];
        for (int i = 0; i < scores.length; i++) {
            walk.cumulativeMargins(SAMPLE.rows()[i], margins);
            assertThat((double) TreePruner.logistic(margins[n - 1]))
                    .as("row %d", i)
                    .isCloseTo(scores[i], within(1e-6));
        }
    }

    @Test
    void thePrunedEnsembleHoldsExactlyTheFirstTreesNodesAndTheSameBaseValue() {
        TreeEnsemble.Summary whole = TreePruner.ensemble(GBDT).summary();
        TreeEnsemble.Summary first =
                TreePruner.ensemble(TreePruner.keepFirstTrees(GBDT, 1)).summary();
        TreeEnsemble.Summary fifty =
                TreePruner.ensemble(TreePruner.keepFirstTrees(GBDT, 50)).summary();
        NodeProto original = GBDT.getGraph().getNode(0);
        long firstTreeNodes =
                OnnxProtos.attribute(original, "nodes_treeids").orElseThrow().getIntsList().stream()
                        .filter(id -> id == 0)
                        .count();
        assertThat(whole.trees()).isEqualTo(TREES);
        assertThat(first.trees()).isEqualTo(1);
        assertThat(first.nodes()).isEqualTo(firstTreeNodes);
        assertThat(fifty.trees()).isEqualTo(50);
        assertThat(fifty.nodes()).isLessThan(whole.nodes()).isGreaterThan(first.nodes());
        NodeProto pruned = TreePruner.keepFirstTrees(GBDT, 50).getGraph().getNode(0);
        assertThat(OnnxProtos.attribute(pruned, "base_values"))
                .isEqualTo(OnnxProtos.attribute(original, "base_values"));
        assertThat(OnnxProtos.attribute(pruned, "target_weights").orElseThrow().getFloatsCount())
                .isEqualTo(fifty.leaves());
    }

    @Test
    void prAucOfEveryTreeCountMatchesOnnxRuntimesScoresOfThatModel() throws Exception {
        boolean[] fraud = new boolean[SAMPLE.rows().length];
        for (int i = 0; i < fraud.length; i++) {
            fraud[i] = SAMPLE.expected()[i] >= 0.5; // the whole model's own calls: a fixture
        }
        double[] byCount = TreePruner.prAucByTreeCount(GBDT, SAMPLE.rows(), fraud);
        assertThat(byCount).hasSize(TREES);
        for (int n : new int[] {1, 10, 50}) {
            float[] scores =
                    Fixtures.score(
                            Fixtures.artifact(
                                    "gbdt", "prune" + n, TreePruner.keepFirstTrees(GBDT, n)),
                            SAMPLE.rows());
            assertThat(byCount[n - 1])
                    .as("%d trees", n)
                    .isCloseTo(Metrics.averagePrecision(scores, fraud), within(1e-9));
        }
        assertThat(byCount[TREES - 1]).isEqualTo(1.0); // the labels are its own decisions
        assertThat(byCount[0]).isLessThan(1.0);
    }

    @Test
    void refusesATreeCountOutsideTheEnsembleAndANetwork() {
        assertThatThrownBy(() -> TreePruner.keepFirstTrees(GBDT, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "number of trees to keep must be within 1..200 (the ensemble's trees), got"
                                + " 0");
        assertThatThrownBy(() -> TreePruner.keepFirstTrees(GBDT, TREES + 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got 201");
        assertThatThrownBy(() -> TreePruner.keepFirstTrees(Fixtures.model("mlp"), 10))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("prune does not apply to this model")
                .hasMessageContaining("MatMul x3")
                .hasMessageContaining("dense MatMul multiplies zeros as fast as any weight");
    }
}
