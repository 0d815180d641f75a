package dev.streamscore.operators.batching;

import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Meter;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * The metrics of a {@link BatchingOperator}, registered on its operator metric group. Every update
 * happens on the task thread. The names are public so that dashboards, the benchmark and the
 * manifests' checks read them from here; {@link #NAMES} lists every one, in the README's order.
 *
 * <pre>{@code
 * long hits = reporter.counter(BatchingMetrics.CACHE_HITS);
 * }</pre>
 */
public final class BatchingMetrics {

    public static final String BATCH_SIZE = "batchSize";
    public static final String QUEUE_TIME_MICROS = "queueTimeMicros";
    public static final String INFERENCE_TIME_MICROS = "inferenceTimeMicros";
    public static final String INFERENCE_TIME_PER_ROW_NANOS = "inferenceTimePerRowNanos";
    public static final String BATCHES_IN_FLIGHT = "batchesInFlight";
    public static final String MODEL_TIME_NANOS = "modelTimeNanos";

    /**
     * Gauge: 1 while the result cache looks up and writes every vector in keyed state, 0 while only
     * its sample (its hits there save less model time than they cost; see {@code ScoreCache}).
     */
    public static final String CACHE_USES_STATE = "cacheUsesState";

    /**
     * Gauge: 1 while the result cache's in-memory front serves every vector, 0 while only its
     * sample (its hits save less model time than its lookups cost: the cache stands aside).
     */
    public static final String CACHE_USES_FRONT = "cacheUsesFront";

    /** Gauge: cache hits answered from the in-memory front since the start. */
    public static final String CACHE_FRONT_HITS = "cacheFrontHits";

    public static final String CACHE_TIME_NANOS = "cacheTimeNanos";
    public static final String CACHE_HITS = "cacheHits";
    public static final String CACHE_MISSES = "cacheMisses";
    public static final String COALESCED = "coalesced";
    public static final String ROWS_SCORED = "rowsScored";
    public static final String ROWS_SCORED_PER_SECOND = "rowsScoredPerSecond";
    public static final String MODEL_CALL_FAILURES = "modelCallFailures";
    public static final String MODEL_CALL_TIMEOUTS = "modelCallTimeouts";
    public static final String RETRIES = "retries";
    public static final String BATCH_SPLITS = "batchSplits";
    public static final String ROWS_EXPLAINED = "rowsExplained";
    public static final String EXPLANATION_TIME_NANOS = "explanationTimeNanos";
    public static final String EXPLANATION_FAILURES = "explanationFailures";
    public static final String CACHE_HITS_RESCORED = "cacheHitsRescored";
    public static final String CHOSEN_BATCH_SIZE = "chosenBatchSize";
    public static final String CHOSEN_MAX_WAIT_MICROS = "chosenMaxWaitMicros";
    public static final String MODEL_VERSION = "modelVersion";
    public static final String EXECUTION_PROVIDER = "executionProvider";

    /** Every metric this class registers, in the order the README documents them. */
    public static final List<String> NAMES =
            List.of(
                    BATCH_SIZE,
                    QUEUE_TIME_MICROS,
                    INFERENCE_TIME_MICROS,
                    INFERENCE_TIME_PER_ROW_NANOS,
                    BATCHES_IN_FLIGHT,
                    MODEL_TIME_NANOS,
                    CACHE_TIME_NANOS,
                    CACHE_HITS,
                    CACHE_MISSES,
                    COALESCED,
                    ROWS_SCORED,
                    ROWS_SCORED_PER_SECOND,
                    MODEL_CALL_FAILURES,
                    MODEL_CALL_TIMEOUTS,
                    RETRIES,
                    BATCH_SPLITS,
                    ROWS_EXPLAINED,
                    EXPLANATION_TIME_NANOS,
                    EXPLANATION_FAILURES,
                    CACHE_HITS_RESCORED,
                    CHOSEN_BATCH_SIZE,
                    CHOSEN_MAX_WAIT_MICROS,
                    MODEL_VERSION,
                    EXECUTION_PROVIDER);

    /** Samples the histograms keep: enough for stable percentiles, small enough to not matter. */
    static final int HISTOGRAM_WINDOW = 1000;

    /** Rows of each batch when it closes (before any split), one sample per batch. */
    public final Histogram batchSize;

    /** Per row sent to the model: from its arrival to the start of its batch's first call. */
    public final Histogram queueTimeMicros;

    /**
     * Wall time of each model call, in microseconds; its count is the number of model calls,
     * retries, halves of split batches and calls that timed out (once they return) included.
     */
    public final Histogram inferenceTimeMicros;

    /** Wall time of each successful model call divided by its rows, in nanoseconds. */
    public final Histogram inferenceTimePerRowNanos;

    /** Wall time of all model calls together, in nanoseconds (for cost per event). */
    public final Counter modelTimeNanos;

    /** Task-thread time of score cache lookups and updates, in nanoseconds. */
    public final Counter cacheTimeNanos;

    /** Lookups answered by the score cache. */
    public final Counter cacheHits;

    /** Lookups the score cache could not answer, coalesced ones included. */
    public final Counter cacheMisses;

    /**
     * Cache misses attached to an equal row already buffered or being scored: no row of their own.
     */
    public final Counter coalesced;

    /** Rows the model scored successfully (cache hits and coalesced elements not counted). */
    public final Counter rowsScored;

    public final Meter rowsScoredPerSecond;

    /** Model calls that threw or timed out. */
    public final Counter modelCallFailures;

    /** Model calls that did not return within the model call timeout. */
    public final Counter modelCallTimeouts;

    /** Model calls repeated after a failure (not counting the halves of split batches). */
    public final Counter retries;

    /** Batches (or halves) split in two to isolate the rows the model fails on. */
    public final Counter batchSplits;

    /** Rows whose contributions (reasons) were computed after their model call. */
    public final Counter rowsExplained;

    /**
     * CPU time the inference threads spent computing contributions, in nanoseconds (the wall clock
     * where the JVM cannot measure a thread's CPU time).
     */
    public final Counter explanationTimeNanos;

    /** Rows whose explanation failed: their scores went out without reasons. */
    public final Counter explanationFailures;

    /**
     * Cache hits whose score needs reasons, which the cache does not keep: scored again instead.
     */
    public final Counter cacheHitsRescored;

    /** Rows at which the current batch closes: {@code maxBatchSize}, or the adaptive choice. */
    public final Gauge<Integer> chosenBatchSize;

    /** How long the current batch may wait: {@code maxWait}, or the adaptive choice. */
    public final Gauge<Long> chosenMaxWaitMicros;

    /** {@code name:version} of the model new batches are scored with. */
    public final Gauge<String> modelVersion;

    /** The execution provider that model runs on, such as {@code cpu}. */
    public final Gauge<String> executionProvider;

    public BatchingMetrics(
            MetricGroup group,
            IntSupplier batchesInFlight,
            IntSupplier chosenBatchSize,
            LongSupplier chosenMaxWaitMicros,
            Supplier<String> modelVersion,
            Supplier<String> executionProvider) {
        batchSize = histogram(group, BATCH_SIZE);
        queueTimeMicros = histogram(group, QUEUE_TIME_MICROS);
        inferenceTimeMicros = histogram(group, INFERENCE_TIME_MICROS);
        inferenceTimePerRowNanos = histogram(group, INFERENCE_TIME_PER_ROW_NANOS);
        group.gauge(BATCHES_IN_FLIGHT, (Gauge<Integer>) batchesInFlight::getAsInt);
        modelTimeNanos = group.counter(MODEL_TIME_NANOS);
        cacheTimeNanos = group.counter(CACHE_TIME_NANOS);
        cacheHits = group.counter(CACHE_HITS);
        cacheMisses = group.counter(CACHE_MISSES);
        coalesced = group.counter(COALESCED);
        rowsScored = group.counter(ROWS_SCORED);
        rowsScoredPerSecond = group.meter(ROWS_SCORED_PER_SECOND, new MeterView(rowsScored));
        modelCallFailures = group.counter(MODEL_CALL_FAILURES);
        modelCallTimeouts = group.counter(MODEL_CALL_TIMEOUTS);
        retries = group.counter(RETRIES);
        batchSplits = group.counter(BATCH_SPLITS);
        rowsExplained = group.counter(ROWS_EXPLAINED);
        explanationTimeNanos = group.counter(EXPLANATION_TIME_NANOS);
        explanationFailures = group.counter(EXPLANATION_FAILURES);
        cacheHitsRescored = group.counter(CACHE_HITS_RESCORED);
        this.chosenBatchSize =
                group.gauge(CHOSEN_BATCH_SIZE, (Gauge<Integer>) chosenBatchSize::getAsInt);
        this.chosenMaxWaitMicros =
                group.gauge(CHOSEN_MAX_WAIT_MICROS, (Gauge<Long>) chosenMaxWaitMicros::getAsLong);
        this.modelVersion = group.gauge(MODEL_VERSION, (Gauge<String>) modelVersion::get);
        this.executionProvider =
                group.gauge(EXECUTION_PROVIDER, (Gauge<String>) executionProvider::get);
    }

    private static Histogram histogram(MetricGroup group, String name) {
        return group.histogram(name, new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
    }
}
