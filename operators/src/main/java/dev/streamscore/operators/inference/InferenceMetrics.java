package dev.streamscore.operators.inference;

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
 * The metrics of {@link BatchingInferenceOperator}, registered on its operator metric group. Every
 * update happens on the task thread. {@link #NAMES} lists every metric name, for documentation.
 */
final class InferenceMetrics {

    static final String BATCH_SIZE = "batchSize";
    static final String QUEUE_TIME_MICROS = "queueTimeMicros";
    static final String INFERENCE_TIME_MICROS = "inferenceTimeMicros";
    static final String INFERENCE_TIME_PER_ROW_NANOS = "inferenceTimePerRowNanos";
    static final String BATCHES_IN_FLIGHT = "batchesInFlight";
    static final String MODEL_TIME_NANOS = "modelTimeNanos";
    static final String CACHE_TIME_NANOS = "cacheTimeNanos";
    static final String CACHE_HITS = "cacheHits";
    static final String CACHE_MISSES = "cacheMisses";
    static final String COALESCED = "coalesced";
    static final String ROWS_SCORED = "rowsScored";
    static final String ROWS_SCORED_PER_SECOND = "rowsScoredPerSecond";
    static final String MODEL_CALL_FAILURES = "modelCallFailures";
    static final String MODEL_CALL_TIMEOUTS = "modelCallTimeouts";
    static final String RETRIES = "retries";
    static final String BATCH_SPLITS = "batchSplits";
    static final String DEAD_LETTERS = "deadLetters";
    static final String FALLBACKS = "fallbacks";
    static final String CHOSEN_BATCH_SIZE = "chosenBatchSize";
    static final String CHOSEN_MAX_WAIT_MICROS = "chosenMaxWaitMicros";
    static final String MODEL_VERSION = "modelVersion";
    static final String EXECUTION_PROVIDER = "executionProvider";

    /** Every metric this class registers, in the order the README documents them. */
    static final List<String> NAMES =
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
                    DEAD_LETTERS,
                    FALLBACKS,
                    CHOSEN_BATCH_SIZE,
                    CHOSEN_MAX_WAIT_MICROS,
                    MODEL_VERSION,
                    EXECUTION_PROVIDER);

    /** Samples the histograms keep: enough for stable percentiles, small enough to not matter. */
    private static final int HISTOGRAM_WINDOW = 1000;

    /** Rows of each batch when it closes (before any split), one sample per batch. */
    final Histogram batchSize;

    /** Per row sent to the model: from its arrival to the start of its batch's first call. */
    final Histogram queueTimeMicros;

    /**
     * Wall time of each model call, in microseconds; its count is the number of model calls,
     * retries, halves of split batches and calls that timed out (once they return) included.
     */
    final Histogram inferenceTimeMicros;

    /** Wall time of each successful model call divided by its rows, in nanoseconds. */
    final Histogram inferenceTimePerRowNanos;

    /** Wall time of all model calls together, in nanoseconds (for cost per event). */
    final Counter modelTimeNanos;

    /** Task-thread time of score cache lookups and updates, in nanoseconds. */
    final Counter cacheTimeNanos;

    /** Lookups answered by the score cache. */
    final Counter cacheHits;

    /** Lookups the score cache could not answer, coalesced ones included. */
    final Counter cacheMisses;

    /**
     * Cache misses attached to an equal row already buffered or being scored: no row of their own.
     */
    final Counter coalesced;

    /** Rows the model scored successfully (cache hits and coalesced transactions not counted). */
    final Counter rowsScored;

    final Meter rowsScoredPerSecond;

    /** Model calls that threw or timed out. */
    final Counter modelCallFailures;

    /** Model calls that did not return within the model call timeout. */
    final Counter modelCallTimeouts;

    /** Model calls repeated after a failure (not counting the halves of split batches). */
    final Counter retries;

    /** Batches (or halves) split in two to isolate the rows the model fails on. */
    final Counter batchSplits;

    /** Transactions sent to the dead-letter output with stage INFERENCE. */
    final Counter deadLetters;

    /** Transactions given the configured fallback score because the model failed on them. */
    final Counter fallbacks;

    /** Rows at which the current batch closes: {@code maxBatchSize}, or the adaptive choice. */
    final Gauge<Integer> chosenBatchSize;

    /** How long the current batch may wait: {@code maxWait}, or the adaptive choice. */
    final Gauge<Long> chosenMaxWaitMicros;

    /** {@code name:version} of the model new batches are scored with. */
    final Gauge<String> modelVersion;

    /** The execution provider that model runs on, such as {@code cpu}. */
    final Gauge<String> executionProvider;

    InferenceMetrics(
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
        deadLetters = group.counter(DEAD_LETTERS);
        fallbacks = group.counter(FALLBACKS);
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
