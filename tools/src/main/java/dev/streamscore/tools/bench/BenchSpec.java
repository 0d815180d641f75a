package dev.streamscore.tools.bench;

import dev.streamscore.jobs.FeatureStage;
import dev.streamscore.jobs.ScoringStage;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.tools.bench.handwritten.HandwrittenFeatures;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * One configuration {@code streamscore bench} runs end to end: which scoring stage, which model,
 * which delivery guarantee and which knobs.
 *
 * @param configuration {@code ceiling}, {@code per-record-map}, {@code per-record-async}, {@code
 *     streamscore}, {@code streamscore+cache}, {@code streamscore+challenger} (the other bundled
 *     model scoring in shadow), {@code streamscore-static} (no control topic), {@code
 *     streamscore-noreasons} (no reason codes on flagged scores) or {@code streamscore-handwritten}
 *     (the card features hand-written in Java instead of the pipeline file)
 * @param cache whether the score cache is on (only {@code streamscore+cache} turns it on)
 * @param duplicateRate share of transactions the workload re-sends (0 but for the cache workload)
 */
record BenchSpec(
        String configuration,
        String model,
        DeliveryGuarantee delivery,
        int batchSize,
        Duration maxWait,
        int inFlight,
        int parallelism,
        int intraOpThreads,
        boolean cache,
        double duplicateRate) {

    static final String CEILING = "ceiling";
    static final String PER_RECORD_MAP = "per-record-map";
    static final String PER_RECORD_ASYNC = "per-record-async";
    static final String STREAMSCORE = "streamscore";
    static final String STREAMSCORE_CACHE = "streamscore+cache";
    static final String STREAMSCORE_CHALLENGER = "streamscore+challenger";

    /** streamscore without a control topic: models fixed, the operator chained to enrichment. */
    static final String STREAMSCORE_STATIC = "streamscore-static";

    /** streamscore without reason codes: what they cost, in the same run. */
    static final String STREAMSCORE_NO_REASONS = "streamscore-noreasons";

    /**
     * streamscore with the card features hand-written in Java that the card-fraud pipeline file
     * replaced: what the file costs, in the same run.
     */
    static final String STREAMSCORE_HANDWRITTEN = "streamscore-handwritten";

    BenchSpec {
        switch (configuration) {
            case CEILING,
                    PER_RECORD_MAP,
                    PER_RECORD_ASYNC,
                    STREAMSCORE,
                    STREAMSCORE_CACHE,
                    STREAMSCORE_CHALLENGER,
                    STREAMSCORE_STATIC,
                    STREAMSCORE_NO_REASONS,
                    STREAMSCORE_HANDWRITTEN -> {}
            default ->
                    throw new IllegalArgumentException(
                            "unknown configuration '"
                                    + configuration
                                    + "': expected ceiling, per-record-map, per-record-async,"
                                    + " streamscore, streamscore+cache, streamscore+challenger,"
                                    + " streamscore-static, streamscore-noreasons or"
                                    + " streamscore-handwritten");
        }
    }

    /**
     * A {@code --models} entry as a model location: a bundled id ({@code gbdt}, {@code mlp}, {@code
     * deep}) or, when it holds a {@code /} or {@code :}, a location as {@code --model} takes it (a
     * compressed model's folder, say).
     */
    static String modelLocation(String model) {
        return model.contains("/") || model.contains(":") ? model : ModelArtifact.BUNDLED + model;
    }

    /** The challenger of {@code streamscore+challenger}: the other bundled model. */
    static String challengerOf(String model) {
        return model.equals("gbdt") ? "mlp" : "gbdt";
    }

    String deliveryName() {
        return delivery.toString();
    }

    /** The knobs, in the order the report shows them. */
    Map<String, String> parameters() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("batch-size", usesBatching() ? Integer.toString(batchSize) : "1");
        p.put("max-wait-ms", usesBatching() ? Long.toString(maxWait.toMillis()) : "-");
        p.put("in-flight", Integer.toString(inFlight));
        p.put("parallelism", Integer.toString(parallelism));
        p.put("intra-op-threads", Integer.toString(intraOpThreads));
        p.put("cache", cache ? "on" : "off");
        p.put("duplicate-rate", Double.toString(duplicateRate));
        return p;
    }

    boolean usesBatching() {
        return configuration.startsWith(STREAMSCORE);
    }

    String label() {
        return configuration + " " + model + " " + deliveryName();
    }

    /** The label with every knob, for sweep settings that share a configuration and model. */
    String sweepLabel() {
        return label()
                + (usesBatching() ? " b" + batchSize + " w" + maxWait.toMillis() + "ms" : "")
                + " f"
                + inFlight
                + " p"
                + parallelism
                + " t"
                + intraOpThreads
                + (cache ? " cache" : "")
                + (duplicateRate > 0 ? " resend" + duplicateRate : "");
    }

    /** The pipeline file's features, or the hand-written ones they replaced. */
    FeatureStage featureStage() {
        return configuration.equals(STREAMSCORE_HANDWRITTEN)
                ? HandwrittenFeatures.STAGE
                : FeatureStage.PIPELINE;
    }

    ScoringStage scoringStage() {
        return switch (configuration) {
            case CEILING -> Baselines.ceiling();
            case PER_RECORD_MAP -> Baselines.perRecordMap();
            case PER_RECORD_ASYNC -> Baselines.perRecordAsync();
            default -> ScoringStage.BATCHED_ONNX;
        };
    }

    /**
     * The job's options for one run on {@code bootstrap}, its topics and ids named by {@code run};
     * {@code checkpointInterval} null keeps the job's default.
     */
    Configuration jobOptions(String bootstrap, String run, Duration checkpointInterval) {
        Configuration o = new Configuration();
        o.set(ScoringOptions.BOOTSTRAP_SERVERS, bootstrap);
        o.set(ScoringOptions.INPUT_TOPIC, run + "-transactions");
        o.set(ScoringOptions.SCORES_TOPIC, run + "-scores");
        o.set(ScoringOptions.DEAD_LETTER_TOPIC, run + "-dead-letters");
        o.set(ScoringOptions.CONTROL_TOPIC, run + "-control");
        o.set(ScoringOptions.MODEL_STATUS_TOPIC, run + "-model-status");
        o.set(ScoringOptions.CHALLENGER_SCORES_TOPIC, run + "-challenger-scores");
        o.set(ScoringOptions.GROUP_ID, run);
        o.set(ScoringOptions.TRANSACTIONAL_ID_PREFIX, run);
        // A failing run fails the measurement instead of restarting inside it.
        o.set(ScoringOptions.MAX_FAILURES, 0);
        o.set(InferenceOptions.MODEL, modelLocation(model));
        if (configuration.equals(STREAMSCORE_STATIC)) {
            o.set(ScoringOptions.CONTROL_TOPIC, "");
        }
        if (configuration.equals(STREAMSCORE_NO_REASONS)) {
            o.set(InferenceOptions.REASONS, 0);
        }
        if (configuration.equals(STREAMSCORE_CHALLENGER)) {
            o.set(ScoringOptions.CHALLENGER_MODEL, modelLocation(challengerOf(model)));
        }
        o.set(BatchingOptions.BATCH_SIZE, batchSize);
        o.set(BatchingOptions.MAX_WAIT, maxWait);
        o.set(BatchingOptions.MAX_IN_FLIGHT, inFlight);
        o.set(InferenceOptions.INTRA_OP_THREADS, intraOpThreads);
        o.set(ScoringOptions.PARALLELISM, parallelism);
        o.set(
                BatchingOptions.CACHE_TTL,
                cache ? BatchingOptions.CACHE_TTL.defaultValue() : Duration.ZERO);
        o.set(ScoringOptions.DELIVERY, delivery);
        if (checkpointInterval != null) {
            o.set(ScoringOptions.CHECKPOINT_INTERVAL, checkpointInterval);
        }
        return o;
    }
}
