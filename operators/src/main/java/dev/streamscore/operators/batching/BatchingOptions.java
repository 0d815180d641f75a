package dev.streamscore.operators.batching;

import java.time.Duration;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * The options of a {@link BatchingOperator}, each with its default and a one-line description: the
 * one place these defaults are written. {@link BatchingSettings#from} reads them; the job offers
 * each as a flag and a YAML key of the same name, and the README's configuration table is checked
 * against them.
 */
public final class BatchingOptions {

    private BatchingOptions() {}

    /** Rows per model call: large enough to amortise the ~10 us per-call cost of ONNX Runtime. */
    public static final ConfigOption<Integer> BATCH_SIZE =
            ConfigOptions.key("batch-size")
                    .intType()
                    .defaultValue(256)
                    .withDescription("Largest micro-batch scored with one ONNX Runtime call.");

    /** Latency a partial batch adds at most when traffic is low. */
    public static final ConfigOption<Duration> MAX_WAIT =
            ConfigOptions.key("max-wait")
                    .durationType()
                    .defaultValue(Duration.ofMillis(10))
                    .withDescription(
                            "Longest time the oldest event of a batch waits before the batch is"
                                    + " scored.");

    /** One batch scoring while the next one fills. */
    public static final ConfigOption<Integer> MAX_IN_FLIGHT =
            ConfigOptions.key("max-in-flight")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Batches being scored at once per subtask; beyond this the operator"
                                    + " back-pressures.");

    /**
     * Unordered: each result is independent of the others, so a cache hit (microseconds) need not
     * wait behind a batch being scored or retried; watermarks still hold (see {@link OutputMode}).
     */
    public static final ConfigOption<OutputMode> OUTPUT_MODE =
            ConfigOptions.key("output-mode")
                    .enumType(OutputMode.class)
                    .defaultValue(OutputMode.UNORDERED)
                    .withDescription(
                            "unordered: each score as soon as it is known; ordered: scores in input"
                                + " order (a cache hit waits behind earlier events). Watermarks are"
                                + " respected in both.");

    /** Adaptive batching is off: batches close at {@code batch-size} or {@code max-wait}. */
    public static final ConfigOption<Duration> LATENCY_TARGET =
            ConfigOptions.key("latency-target")
                    .durationType()
                    .defaultValue(Duration.ZERO)
                    .withDescription(
                            "Adaptive batching: choose batch size and wait (within batch-size and"
                                + " max-wait) to keep queue wait plus model time under this; 0 ="
                                + " off.");

    /** A batch of 256 takes well under 1 ms; 5 s means the call is stuck, not slow. */
    public static final ConfigOption<Duration> MODEL_CALL_TIMEOUT =
            ConfigOptions.key("model-call-timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(5))
                    .withDescription(
                            "A model call that takes longer counts as failed and is retried.");

    /** Two retries ride out a transient failure without delaying a batch by more than 30 ms. */
    public static final ConfigOption<Integer> MAX_RETRIES =
            ConfigOptions.key("max-retries")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Retries of a failed batch, with doubling backoff; a batch that still"
                                    + " fails is split in halves to isolate the bad rows.");

    /** The first retry waits 10 ms, the second 20 ms. */
    public static final ConfigOption<Duration> RETRY_BACKOFF =
            ConfigOptions.key("retry-backoff")
                    .durationType()
                    .defaultValue(Duration.ofMillis(10))
                    .withDescription("Wait before the first retry; doubles for each further one.");

    /** How long a cached score is reused. */
    public static final ConfigOption<Duration> CACHE_TTL =
            ConfigOptions.key("cache-ttl")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "How long a score stays in the result cache; 0 disables the cache.");

    /** Every option above, in the order the README's table lists them. */
    public static List<ConfigOption<?>> all() {
        return List.of(
                BATCH_SIZE,
                MAX_WAIT,
                MAX_IN_FLIGHT,
                OUTPUT_MODE,
                LATENCY_TARGET,
                MODEL_CALL_TIMEOUT,
                MAX_RETRIES,
                RETRY_BACKOFF,
                CACHE_TTL);
    }
}
