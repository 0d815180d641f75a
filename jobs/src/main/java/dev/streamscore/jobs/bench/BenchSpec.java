package dev.streamscore.jobs.bench;

import dev.streamscore.jobs.ScoringStage;
import dev.streamscore.jobs.config.ScoringOptions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One configuration {@code streamscore bench} runs end to end: which scoring stage, which model,
 * which delivery guarantee and which knobs.
 *
 * @param configuration {@code ceiling}, {@code per-record-map}, {@code per-record-async}, {@code
 *     streamscore} or {@code streamscore+cache}
 * @param cache whether the score cache is on (only {@code streamscore+cache} turns it on)
 * @param duplicateRate share of transactions the workload re-sends (0 but for the cache workload)
 */
record BenchSpec(
        String configuration,
        String model,
        ScoringOptions.DeliveryGuarantee delivery,
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

    BenchSpec {
        switch (configuration) {
            case CEILING, PER_RECORD_MAP, PER_RECORD_ASYNC, STREAMSCORE, STREAMSCORE_CACHE -> {}
            default ->
                    throw new IllegalArgumentException(
                            "unknown configuration '"
                                    + configuration
                                    + "': expected ceiling, per-record-map, per-record-async,"
                                    + " streamscore or streamscore+cache");
        }
    }

    String deliveryName() {
        return delivery == ScoringOptions.DeliveryGuarantee.EXACTLY_ONCE
                ? "exactly-once"
                : "at-least-once";
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

    ScoringStage scoringStage() {
        return switch (configuration) {
            case CEILING -> Baselines.ceiling();
            case PER_RECORD_MAP -> Baselines.perRecordMap();
            case PER_RECORD_ASYNC -> Baselines.perRecordAsync();
            default -> ScoringStage.BATCHED_ONNX;
        };
    }

    /**
     * The job's options for one run on {@code bootstrap}, its topics and ids named by {@code run}.
     */
    Map<String, String> jobOptions(String bootstrap, String run, Duration checkpointInterval) {
        Map<String, String> o = new LinkedHashMap<>();
        o.put(ScoringOptions.BOOTSTRAP_SERVERS.key(), bootstrap);
        o.put(ScoringOptions.TRANSACTIONS_TOPIC.key(), run + "-transactions");
        o.put(ScoringOptions.SCORES_TOPIC.key(), run + "-scores");
        o.put(ScoringOptions.DEAD_LETTER_TOPIC.key(), run + "-dead-letters");
        o.put(ScoringOptions.GROUP_ID.key(), run);
        o.put(ScoringOptions.TRANSACTIONAL_ID_PREFIX.key(), run);
        o.put(ScoringOptions.MODEL.key(), "bundled:" + model);
        o.put(ScoringOptions.BATCH_SIZE.key(), Integer.toString(batchSize));
        o.put(ScoringOptions.MAX_WAIT.key(), maxWait.toMillis() + " ms");
        o.put(ScoringOptions.MAX_IN_FLIGHT.key(), Integer.toString(inFlight));
        o.put(ScoringOptions.INTRA_OP_THREADS.key(), Integer.toString(intraOpThreads));
        o.put(ScoringOptions.PARALLELISM.key(), Integer.toString(parallelism));
        o.put(ScoringOptions.CACHE_TTL.key(), cache ? "10 min" : "0 ms");
        o.put(ScoringOptions.DELIVERY.key(), delivery.toString());
        if (checkpointInterval != null) {
            o.put(ScoringOptions.CHECKPOINT_INTERVAL.key(), checkpointInterval.toMillis() + " ms");
        }
        return o;
    }
}
