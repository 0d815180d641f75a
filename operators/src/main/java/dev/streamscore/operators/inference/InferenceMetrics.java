package dev.streamscore.operators.inference;

import java.util.function.IntSupplier;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Meter;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * The metrics of {@link BatchingInferenceOperator}, registered on its operator metric group. Every
 * update happens on the task thread.
 */
final class InferenceMetrics {

    static final String BATCH_SIZE = "batchSize";
    static final String INFERENCE_TIME_MICROS = "inferenceTimeMicros";
    static final String BATCHES_IN_FLIGHT = "batchesInFlight";
    static final String CACHE_HITS = "cacheHits";
    static final String CACHE_MISSES = "cacheMisses";
    static final String DEAD_LETTERS = "deadLetters";
    static final String ROWS_SCORED = "rowsScored";
    static final String ROWS_SCORED_PER_SECOND = "rowsScoredPerSecond";

    /** Samples the histograms keep: enough for stable percentiles, small enough to not matter. */
    private static final int HISTOGRAM_WINDOW = 1000;

    /** Rows of each batch handed to the model, one sample per model call. */
    final Histogram batchSize;

    /** Wall time of each model call, in microseconds; its count is the number of model calls. */
    final Histogram inferenceTimeMicros;

    final Counter cacheHits;
    final Counter cacheMisses;
    final Counter deadLetters;

    /** Rows the model scored successfully (cache hits are not counted). */
    final Counter rowsScored;

    final Meter rowsScoredPerSecond;

    InferenceMetrics(MetricGroup group, IntSupplier batchesInFlight) {
        batchSize =
                group.histogram(BATCH_SIZE, new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        inferenceTimeMicros =
                group.histogram(
                        INFERENCE_TIME_MICROS,
                        new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        group.gauge(BATCHES_IN_FLIGHT, (Gauge<Integer>) batchesInFlight::getAsInt);
        cacheHits = group.counter(CACHE_HITS);
        cacheMisses = group.counter(CACHE_MISSES);
        deadLetters = group.counter(DEAD_LETTERS);
        rowsScored = group.counter(ROWS_SCORED);
        rowsScoredPerSecond = group.meter(ROWS_SCORED_PER_SECOND, new MeterView(rowsScored));
    }
}
