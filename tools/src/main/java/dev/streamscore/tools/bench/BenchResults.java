package dev.streamscore.tools.bench;

import java.util.List;
import java.util.Map;

/**
 * What {@code streamscore bench} measured, in the form its table, CSV and HTML report read: one
 * {@link Setting} per configuration measured, each with the results of every measured round.
 */
public final class BenchResults {

    private BenchResults() {}

    /**
     * The machine and software a run measured, printed on every table and figure.
     *
     * @param cores available processors
     * @param jvm Java vendor and version
     * @param versions library name to version (Flink, Kafka, ONNX Runtime, ...)
     * @param command the command line that produced the results
     * @param date ISO date of the run
     */
    public record Environment(
            int cores, String jvm, Map<String, String> versions, String command, String date) {}

    /**
     * One configuration measured end to end.
     *
     * @param label unique, human-readable name, e.g. {@code "streamscore gbdt at-least-once"}
     * @param configuration one of {@code ceiling}, {@code per-record-map}, {@code
     *     per-record-async}, {@code streamscore}, {@code streamscore+cache}
     * @param model {@code gbdt} or {@code mlp}
     * @param delivery {@code at-least-once} or {@code exactly-once}
     * @param parameters the knobs of this setting, in display order: {@code batch-size}, {@code
     *     max-wait-ms}, {@code in-flight}, {@code parallelism}, {@code intra-op-threads}, {@code
     *     cache} (on/off), {@code duplicate-rate}; a sweep varies them
     * @param maxThroughput sustained maximum events/s, one per measured round
     * @param latency end-to-end latency at fractions of the maximum, one list entry per round
     * @param stages per-stage cost of the maximum-throughput rounds (median over rounds); null when
     *     not measured
     */
    public record Setting(
            String label,
            String configuration,
            String model,
            String delivery,
            Map<String, String> parameters,
            List<Double> maxThroughput,
            List<LoadPoint> latency,
            Stages stages) {}

    /**
     * End-to-end latency (send time as scheduled by a constant-rate producer → score read by a
     * consumer) in one round at one offered load.
     *
     * @param loadPercent offered load as a percentage of the setting's median maximum throughput
     * @param offeredRate events/s the producer was scheduled to send
     * @param achievedRate events/s scored during the measured window
     * @param p50Ms median latency, milliseconds
     * @param p99Ms 99th percentile, milliseconds
     * @param p999Ms 99.9th percentile, milliseconds
     * @param maxMs largest latency, milliseconds
     * @param round the measured round, from 1
     */
    public record LoadPoint(
            int loadPercent,
            double offeredRate,
            double achievedRate,
            double p50Ms,
            double p99Ms,
            double p999Ms,
            double maxMs,
            int round) {}

    /**
     * Where the time of one event goes, from the operators' metrics during maximum-throughput
     * rounds. CPU stages are task-thread microseconds per event; {@code queueWaitMs} and {@code
     * inferenceCallMs} are latencies (mean per event, per model call).
     *
     * @param decodeMicros Avro decode + validation per event (task thread)
     * @param enrichMicros card feature state read/update per event (task thread)
     * @param cacheMicros score-cache lookup and update per event (task thread; 0 without cache)
     * @param inferenceMicros model call wall time per event scored by the model (inference threads)
     * @param sinkMicros Avro encode of the score per event (task thread; the Kafka producer's own
     *     I/O thread not included)
     * @param queueWaitMs mean time an event waits in a batch before its model call
     * @param inferenceCallMs mean wall time of one model call
     * @param meanBatchSize mean rows per model call
     * @param cacheHitRate share of events answered by the cache
     * @param explainMicros inference-thread CPU time spent on reason codes, per event
     * @param explainedShare share of events whose reasons were computed (the flagged ones)
     */
    public record Stages(
            double decodeMicros,
            double enrichMicros,
            double cacheMicros,
            double inferenceMicros,
            double sinkMicros,
            double queueWaitMs,
            double inferenceCallMs,
            double meanBatchSize,
            double cacheHitRate,
            double explainMicros,
            double explainedShare) {}

    /**
     * The model's own ceiling, measured in-process by JMH (no Flink, no Kafka).
     *
     * @param model {@code gbdt} or {@code mlp}
     * @param batchSize rows per call
     * @param threads concurrent callers (one per inference subtask)
     * @param rowsPerSecond median rows/s over all callers
     * @param errorRowsPerSecond JMH's 99.9% confidence half-interval
     */
    public record ModelCeiling(
            String model,
            int batchSize,
            int threads,
            double rowsPerSecond,
            double errorRowsPerSecond) {}
}
