package dev.streamscore.operators.inference;

import dev.streamscore.operators.batching.HarnessMailbox;
import dev.streamscore.operators.serde.PipelineEvent;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;

/**
 * Named inputs of the operator tests: the fixture models under {@code
 * src/test/resources/fixture-model/} (written by its {@code make_fixture_models.py}), transactions
 * with chosen feature vectors, and harnesses set up the way every test needs them.
 */
final class InferenceFixtures {

    /** The fixture's weights and bias; a copy of those in make_fixture_models.py. */
    static final float[] WEIGHTS = {
        1.0f, -0.5f, 0.25f, 0.75f, -0.25f, 0.1f, -0.1f, 0.05f, 0.02f, 0.3f, -0.3f, -0.05f, 0.4f,
        0.2f, 0.6f, 0.15f, 0.1f, -0.2f
    };

    static final float BIAS = -0.5f;

    /** sigmoid(features . W + B): version 1, and the thresholds of both versions. */
    static final String LINEAR_V1 = "linear-v1";

    /** The same model name as v1, version 2, with negated weights. */
    static final String LINEAR_V2 = "linear-v2";

    /** v1's graph behind a Reshape to [8, 18]: ONNX Runtime fails on any batch but one of 8. */
    static final String FAILS_UNLESS_8_ROWS = "fails-unless-8-rows";

    /**
     * v1's scores, but ONNX Runtime fails the whole call when a row holds a NaN feature: a real
     * model error caused by one poison row (see {@link #poisoned}).
     */
    static final String FAILS_ON_NAN = "fails-on-nan";

    /** v1 with a descriptor whose first two feature names are swapped. */
    static final String WRONG_FEATURES = "wrong-features";

    /** The fixture models' features: the bundled card-fraud pipeline's, in order. */
    static final java.util.List<String> FEATURES =
            java.util.List.of(
                    "amount_log",
                    "card_present",
                    "channel_ecom",
                    "channel_atm",
                    "high_risk_mcc",
                    "hour_sin",
                    "hour_cos",
                    "txn_count_1h",
                    "txn_count_24h",
                    "amount_sum_1h_log",
                    "amount_sum_24h_log",
                    "secs_since_prev_log",
                    "country_changed",
                    "foreign",
                    "amount_to_avg_log",
                    "small_ecom_count_1h",
                    "distinct_countries_24h",
                    "history_count_log");

    static final int FEATURE_COUNT = FEATURES.size();

    static final double REVIEW = 0.5;
    static final double DECLINE = 0.8;

    static final String TOPIC = "transactions";
    static final Instant EVENT_TIME = Instant.parse("2026-11-20T10:15:30Z");

    private InferenceFixtures() {}

    /** The folder of a fixture model, as a model location. */
    static String location(String fixture) {
        URL url = InferenceFixtures.class.getResource("/fixture-model/" + fixture);
        if (url == null) {
            throw new IllegalStateException(
                    "expected test resource /fixture-model/" + fixture + ", found none");
        }
        try {
            return Path.of(url.toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Settings for tests: small batches, a 10 ms wait, one batch in flight, a 1 s cache. */
    static InferenceSettings settings(String fixture, int maxBatchSize) {
        return InferenceSettings.defaults(location(fixture))
                .withBatching(
                        b ->
                                b.maxBatchSize(maxBatchSize)
                                        .maxWait(Duration.ofMillis(10))
                                        .maxInFlight(1)
                                        .cacheTtl(Duration.ofSeconds(1)));
    }

    /** The score v1 gives {@code features}, computed without ONNX Runtime. */
    static double expectedV1Score(float[] features) {
        double z = BIAS;
        for (int i = 0; i < features.length; i++) {
            z += (double) WEIGHTS[i] * features[i];
        }
        return 1 / (1 + Math.exp(-z));
    }

    /** A vector whose v1 score is sigmoid(z): only {@code amount_log} is set. */
    static float[] scoringLogit(double z) {
        float[] features = new float[InferenceFixtures.FEATURE_COUNT];
        features[0] = (float) (z - BIAS);
        return features;
    }

    /** A distinct, non-trivial feature vector for each {@code i}. */
    static float[] row(int i) {
        float[] features = new float[InferenceFixtures.FEATURE_COUNT];
        for (int c = 0; c < features.length; c++) {
            features[c] = ((i * 7 + c * 3) % 11 - 5) / 4f;
        }
        return features;
    }

    /**
     * {@link #row}{@code (i)} with a NaN feature: {@link #FAILS_ON_NAN} fails on any call with it.
     */
    static float[] poisoned(int i) {
        float[] features = row(i);
        features[5] = Float.NaN;
        return features;
    }

    static PipelineEvent txn(String id, String card, float[] features, long offset) {
        PipelineEvent event =
                new PipelineEvent(
                        card,
                        id,
                        EVENT_TIME.plusSeconds(offset).toEpochMilli(),
                        new byte[0],
                        ("raw " + id).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        TOPIC,
                        3,
                        offset);
        event.features = features;
        return event;
    }

    /** Transaction {@code t<i>} of card {@code card-<i % cards>} with features {@link #row}. */
    static PipelineEvent txn(int i, int cards) {
        return txn("t" + i, "card-" + (i % cards), row(i), 1000 + i);
    }

    /**
     * A harness keyed by card id like the job, with generic types (Kryo) disabled, opened (and
     * restored from {@code state} when not null), on {@code backend} when not null.
     */
    static KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness(
            InferenceSettings settings, StateBackend backend, OperatorSubtaskState state)
            throws Exception {
        return harness(settings, backend, state, 1, 1, 0, false);
    }

    /** As above, as subtask {@code subtask} of {@code parallelism}, maybe with object reuse. */
    static KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness(
            InferenceSettings settings,
            StateBackend backend,
            OperatorSubtaskState state,
            int maxParallelism,
            int parallelism,
            int subtask,
            boolean objectReuse)
            throws Exception {
        return harness(
                new BatchingInferenceOperator(settings).withFeatures(FEATURES),
                backend,
                state,
                maxParallelism,
                parallelism,
                subtask,
                objectReuse);
    }

    /** A harness around {@code operator} (built with a test seam), on {@code backend} if set. */
    static KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness(
            BatchingInferenceOperator operator, StateBackend backend) throws Exception {
        return harness(operator, backend, null, 1, 1, 0, false);
    }

    private static KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness(
            BatchingInferenceOperator operator,
            StateBackend backend,
            OperatorSubtaskState state,
            int maxParallelism,
            int parallelism,
            int subtask,
            boolean objectReuse)
            throws Exception {
        KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        operator, e -> e.key, Types.STRING, maxParallelism, parallelism, subtask);
        try {
            harness.getExecutionConfig()
                    .configure(
                            Configuration.fromMap(Map.of("pipeline.generic-types", "false")),
                            InferenceFixtures.class.getClassLoader());
            if (objectReuse) {
                harness.getExecutionConfig().enableObjectReuse();
            }
            if (backend != null) {
                harness.setStateBackend(backend);
            }
            harness.setup(
                    TypeInformation.of(Score.class)
                            .createSerializer(harness.getExecutionConfig().getSerializerConfig()));
            if (state != null) {
                harness.initializeState(state);
            }
            harness.open();
            return harness;
        } catch (Exception | Error e) {
            harness.close();
            throw e;
        }
    }

    static KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness(
            InferenceSettings settings) throws Exception {
        return harness(settings, null, null);
    }

    static BatchingInferenceOperator operator(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        return (BatchingInferenceOperator) h.getOperator();
    }

    /** Model calls the operator has completed (one inference-time sample per call). */
    static long modelCalls(KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        return operator(h).metrics().inferenceTimeMicros.getCount();
    }

    /** Runs the mailbox until {@code done} holds (see {@link HarnessMailbox#runMailUntil}). */
    static void runMailboxUntil(
            KeyedOneInputStreamOperatorTestHarness<?, ?, ?> harness, BooleanSupplier done)
            throws Exception {
        HarnessMailbox.runMailUntil(harness, done);
    }

    /** Runs the mailbox and moves time on when idle (see {@link HarnessMailbox#runUntil}). */
    static void runUntil(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness,
            BooleanSupplier done)
            throws Exception {
        HarnessMailbox.runUntil(harness, done);
    }

    /** Runs the mails that are in the mailbox now, without waiting for more. */
    static void runPendingMails(KeyedOneInputStreamOperatorTestHarness<?, ?, ?> harness)
            throws Exception {
        HarnessMailbox.runPendingMails(harness);
    }
}
