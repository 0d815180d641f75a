package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.WEIGHTS;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.location;
import static dev.streamscore.operators.inference.InferenceFixtures.modelCalls;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.runUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.scoringLogit;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.explain.Explainer;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;
import dev.streamscore.models.onnx.TreeShap;
import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.operators.batching.OnnxBatchScorer;
import dev.streamscore.operators.inference.Score.Reason;
import dev.streamscore.operators.serde.PipelineEvent;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reason codes on flagged scores: occlusion checked against a linear model's exact answer, TreeSHAP
 * on the bundled GBDT, and what the cache, the option and a failing explainer do to them.
 */
class ReasonCodesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A baseline with no two features alike, so that no two contributions tie. */
    private static float baseline(int feature) {
        return 0.137f * feature - 0.61f;
    }

    /** The linear fixture, with a baseline row in its descriptor: explained by occlusion. */
    private static String linearWithBaseline(Path dir) throws Exception {
        Path source = Path.of(location(LINEAR_V1));
        Files.copy(source.resolve("model.onnx"), dir.resolve("model.onnx"));
        ObjectNode descriptor =
                (ObjectNode) JSON.readTree(source.resolve("descriptor.json").toFile());
        ArrayNode values = descriptor.putArray("baseline");
        for (int f = 0; f < 18; f++) {
            values.add((double) baseline(f));
        }
        JSON.writeValue(dir.resolve("descriptor.json").toFile(), descriptor);
        return dir.toString();
    }

    private static List<PipelineEvent> mixed() {
        List<PipelineEvent> input = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            input.add(txn(i, 7));
        }
        input.add(txn("decline", "card-x", scoringLogit(3), 100));
        input.add(txn("approve", "card-y", scoringLogit(-3), 101));
        return input;
    }

    private static List<Score> score(InferenceSettings settings, List<PipelineEvent> in)
            throws Exception {
        try (var h = harness(settings)) {
            for (int i = 0; i < in.size(); i++) {
                h.processElement(in.get(i), i);
            }
            runUntil(h, () -> h.extractOutputValues().size() == in.size());
            return h.extractOutputValues();
        }
    }

    @Test
    void occlusionOfALinearModelGivesEachFeaturesWeightTimesItsDistanceFromTheBaseline(
            @TempDir Path dir) throws Exception {
        InferenceSettings settings =
                InferenceSettings.defaults(linearWithBaseline(dir))
                        .withBatching(settings(LINEAR_V1, 8).batching());
        List<PipelineEvent> input = mixed();
        List<Score> out = score(settings, input);
        int flagged = 0;
        for (int i = 0; i < input.size(); i++) {
            Score score = out.get(i);
            float[] x = input.get(i).features;
            double[] exact = new double[18];
            for (int f = 0; f < 18; f++) {
                // log-odds of sigmoid(w.x + b) minus those with x_f at the baseline
                exact[f] = (double) WEIGHTS[f] * (x[f] - baseline(f));
            }
            if (score.getDecision() == Scores.APPROVE) {
                assertThat(score.getReasons()).as("%s", score.getId()).isEmpty();
                continue;
            }
            flagged++;
            assertReasonsAreTheTopPositive(score, x, exact, 1e-3);
        }
        assertThat(flagged).isGreaterThanOrEqualTo(5);
        assertThat(out.get(input.size() - 2).getReasons()).isNotEmpty(); // the decline
    }

    @Test
    void theGbdtsReasonsAreItsLargestTreeShapValues() throws Exception {
        List<String> lines =
                Files.readAllLines(
                        Path.of("..", "models", "artifacts", "gbdt", "parity-sample.csv"));
        List<PipelineEvent> input = new ArrayList<>();
        for (int r = 1; r < lines.size(); r++) {
            String[] cells = lines.get(r).split(",");
            float[] row = new float[18];
            for (int f = 0; f < 18; f++) {
                row[f] = Float.parseFloat(cells[f]);
            }
            input.add(txn("p" + r, "card-" + r, row, r));
        }
        ModelArtifact gbdt = ModelArtifact.load("bundled:gbdt");
        TreeShap shap =
                TreeShap.of(
                        TreeEnsemble.of(
                                        OnnxProtos.parse(gbdt.onnxBytes(), "gbdt")
                                                .getGraph()
                                                .getNode(0))
                                .walk());
        InferenceSettings settings =
                InferenceSettings.defaults("bundled:gbdt")
                        .withBatching(settings(LINEAR_V1, 64).batching());
        List<Score> out;
        long explained;
        try (var h = harness(settings)) {
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), i);
            }
            runUntil(h, () -> h.extractOutputValues().size() == input.size());
            out = h.extractOutputValues();
            explained = operator(h).metrics().rowsExplained.getCount();
        }
        int flagged = 0;
        double[] phi = new double[18];
        for (int i = 0; i < input.size(); i++) {
            Score score = out.get(i);
            if (score.getDecision() == Scores.APPROVE) {
                assertThat(score.getReasons()).isEmpty();
                continue;
            }
            flagged++;
            shap.explain(input.get(i).features, phi);
            assertReasonsAreTheTopPositive(score, input.get(i).features, phi, 1e-5);
            assertThat(score.getReasons()).isNotEmpty();
        }
        assertThat(flagged).isGreaterThanOrEqualTo(40); // the parity sample's frauds
        assertThat(explained).isEqualTo(flagged);
    }

    @Test
    void aFlaggedCachedScoreIsScoredAgainForItsReasonsAndAnApprovedOneIsNot(@TempDir Path dir)
            throws Exception {
        InferenceSettings settings =
                InferenceSettings.defaults(linearWithBaseline(dir))
                        .withBatching(settings(LINEAR_V1, 1).batching());
        try (var h = harness(settings)) {
            h.processElement(txn("decline-1", "card-a", scoringLogit(3), 1), 1);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            h.processElement(txn("decline-2", "card-a", scoringLogit(3), 2), 2);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 2);
            h.processElement(txn("approve-1", "card-a", scoringLogit(-3), 3), 3);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 3);
            h.processElement(txn("approve-2", "card-a", scoringLogit(-3), 4), 4);
            assertThat(h.extractOutputValues()).hasSize(4);

            List<Score> out = h.extractOutputValues();
            assertThat(out.get(1).getCacheHit()).isFalse();
            assertThat(out.get(1).getReasons()).isEqualTo(out.get(0).getReasons()).isNotEmpty();
            assertThat(out.get(3).getCacheHit()).isTrue();
            assertThat(out.get(3).getReasons()).isEmpty();
            assertThat(operator(h).metrics().cacheHitsRescored.getCount()).isEqualTo(1);
            assertThat(operator(h).metrics().cacheHits.getCount()).isEqualTo(1);
            assertThat(modelCalls(h)).isEqualTo(3);
        }
    }

    @Test
    void zeroReasonsTurnsThemOff(@TempDir Path dir) throws Exception {
        InferenceSettings settings =
                InferenceSettings.defaults(linearWithBaseline(dir))
                        .withBatching(settings(LINEAR_V1, 8).batching())
                        .withReasons(0);
        List<Score> out = score(settings, mixed());
        assertThat(out).anyMatch(s -> s.getDecision() != Scores.APPROVE);
        assertThat(out).allMatch(s -> s.getReasons().isEmpty());
    }

    @Test
    void oneReasonGivesTheLargest(@TempDir Path dir) throws Exception {
        InferenceSettings settings =
                InferenceSettings.defaults(linearWithBaseline(dir))
                        .withBatching(settings(LINEAR_V1, 8).batching())
                        .withReasons(1);
        List<Score> out = score(settings, mixed());
        assertThat(out).anyMatch(s -> s.getReasons().size() == 1);
        assertThat(out).allMatch(s -> s.getReasons().size() <= 1);
    }

    @Test
    void aModelWithoutAnExplanationScoresAsBeforeWithoutReasons() throws Exception {
        List<Score> out = score(settings(LINEAR_V1, 8), mixed());
        assertThat(out).anyMatch(s -> s.getDecision() != Scores.APPROVE);
        assertThat(out).allMatch(s -> s.getReasons().isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"exception", "error"})
    void aFailingExplanationLeavesTheScoresWithoutReasonsAndIsCounted(
            String failure, @TempDir Path dir) throws Exception {
        String location = linearWithBaseline(dir);
        InferenceSettings settings =
                InferenceSettings.defaults(location)
                        .withBatching(settings(LINEAR_V1, 8).batching());
        boolean error = failure.equals("error");
        BatchScorer.Factory failing =
                () ->
                        new FailingExplanations(
                                OnnxBatchScorer.open(location, settings.onnx()), error);
        List<PipelineEvent> input = mixed();
        List<Score> expected = score(settings.withReasons(0), input);
        try (var h = harness(BatchingInferenceOperator.withScorers(settings, failing), null)) {
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), i);
            }
            runUntil(h, () -> h.extractOutputValues().size() == input.size());
            List<Score> out = h.extractOutputValues();
            long flagged = out.stream().filter(s -> s.getDecision() != Scores.APPROVE).count();
            assertThat(flagged).isPositive();
            for (int i = 0; i < input.size(); i++) {
                assertThat(out.get(i).getScore()).isEqualTo(expected.get(i).getScore());
                assertThat(out.get(i).getReasons()).isEmpty();
            }
            assertThat(operator(h).metrics().explanationFailures.getCount()).isEqualTo(flagged);
            assertThat(operator(h).metrics().rowsExplained.getCount()).isZero();
        }
    }

    /**
     * Reasons: positive, largest first, each the feature's value and contribution, at most three,
     * and no feature left out whose contribution beats the smallest one given.
     */
    private static void assertReasonsAreTheTopPositive(
            Score score, float[] x, double[] exact, double tolerance) {
        List<String> names = InferenceFixtures.FEATURES;
        List<Reason> reasons = score.getReasons();
        String id = score.getId();
        assertThat(reasons).as(id).hasSizeLessThanOrEqualTo(3);
        long positive = java.util.Arrays.stream(exact).filter(c -> c > tolerance).count();
        assertThat(reasons.size()).as(id).isGreaterThanOrEqualTo((int) Math.min(3, positive));
        double previous = Double.POSITIVE_INFINITY;
        List<String> given = new ArrayList<>();
        for (Reason reason : reasons) {
            int f = names.indexOf(reason.getFeature());
            assertThat(f).as(id).isNotNegative();
            given.add(reason.getFeature());
            assertThat(reason.getValue()).as(id).isEqualTo((double) x[f]);
            assertThat(reason.getContribution()).as(id).isPositive();
            assertThat(reason.getContribution()).as(id).isCloseTo(exact[f], within(tolerance));
            assertThat(reason.getContribution()).as(id).isLessThanOrEqualTo(previous);
            previous = reason.getContribution();
        }
        if (reasons.size() == 3) {
            for (int f = 0; f < 18; f++) {
                if (!given.contains(names.get(f))) {
                    assertThat(exact[f])
                            .as(id + " " + names.get(f))
                            .isLessThan(previous + tolerance);
                }
            }
        }
    }

    @Test
    void anExplanationThatOutlastsTheCallTimeoutGetsOneMoreBeforeTheCallTimesOut(@TempDir Path dir)
            throws Exception {
        String location = linearWithBaseline(dir);
        InferenceSettings settings =
                InferenceSettings.defaults(location)
                        .withBatching(
                                settings(LINEAR_V1, 4).batching().toBuilder()
                                        .modelCallTimeout(java.time.Duration.ofMillis(100))
                                        .build());
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        SlowExplanations.ENTERED = entered;
        SlowExplanations.RELEASE = release;
        BatchScorer.Factory slow =
                () -> new SlowExplanations(OnnxBatchScorer.open(location, settings.onnx()));
        List<PipelineEvent> input =
                List.of(
                        txn("decline-1", "card-a", scoringLogit(3), 1),
                        txn("decline-2", "card-b", scoringLogit(2), 2),
                        txn("approve-1", "card-c", scoringLogit(-2), 3),
                        txn("approve-2", "card-d", scoringLogit(-3), 4));
        try (var h = harness(BatchingInferenceOperator.withScorers(settings, slow), null)) {
            h.setProcessingTime(0);
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), i);
            }
            assertThat(entered.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            h.setProcessingTime(100); // the call's timeout: the model has answered, so more time
            assertThat(operator(h).metrics().modelCallTimeouts.getCount()).isZero();
            release.countDown();
            runMailboxUntil(h, () -> h.extractOutputValues().size() == input.size());
            assertThat(h.extractOutputValues().get(0).getReasons()).isNotEmpty();
            assertThat(h.extractOutputValues().get(1).getReasons()).isNotEmpty();
            h.setProcessingTime(250); // past the extension: nothing left to time out
            assertThat(operator(h).metrics().modelCallTimeouts.getCount()).isZero();
            assertThat(operator(h).metrics().rowsExplained.getCount()).isEqualTo(2);
            assertThat(modelCalls(h)).isEqualTo(1);
        }
    }

    /** Occlusion that waits to be released before it explains: a slow explanation. */
    private static final class SlowExplanations extends ForwardingScorer {
        static volatile java.util.concurrent.CountDownLatch ENTERED;
        static volatile java.util.concurrent.CountDownLatch RELEASE;

        SlowExplanations(BatchScorer model) {
            super(model);
        }

        @Override
        public Explainer explainer() {
            Explainer real = model.explainer();
            return new Explainer() {
                @Override
                public String method() {
                    return real.method();
                }

                @Override
                public void explain(
                        FloatBuffer rows, int[] which, int count, float[] scores, float[][] out)
                        throws Exception {
                    ENTERED.countDown();
                    RELEASE.await();
                    real.explain(rows, which, count, scores, out);
                }
            };
        }
    }

    /** A model whose scores are fine and whose explanations always fail. */
    private static final class FailingExplanations extends ForwardingScorer {
        private final boolean error;

        FailingExplanations(BatchScorer model, boolean error) {
            super(model);
            this.error = error;
        }

        @Override
        public Explainer explainer() {
            return new Explainer() {
                @Override
                public String method() {
                    return "broken";
                }

                @Override
                public void explain(
                        FloatBuffer rows, int[] which, int count, float[] scores, float[][] out) {
                    if (error) {
                        throw new StackOverflowError("explanation failed on purpose");
                    }
                    throw new IllegalStateException("explanation failed on purpose");
                }
            };
        }
    }
}
