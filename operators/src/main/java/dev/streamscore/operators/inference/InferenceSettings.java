package dev.streamscore.operators.inference;

import dev.streamscore.models.OnnxOptions;
import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.util.Preconditions;

/**
 * How {@link BatchingInferenceOperator} scores: which model, how large and how old a micro-batch
 * may grow, how many batches may be scored at once, how long a cached score stays valid, how a
 * failing model call is retried, in which order results leave, and whether batches adapt to a
 * latency target. Immutable and checked when built, so a bad setting fails the job at submission,
 * not mid-stream.
 *
 * <pre>{@code
 * InferenceSettings settings = InferenceSettings.defaults("bundled:gbdt")
 *         .withMaxBatchSize(512)
 *         .withLatencyTarget(Duration.ofMillis(5)) // adaptive batching
 *         .withFallbackScore(0.6)                  // instead of dead letters
 *         .withCacheTtl(Duration.ZERO);            // no result cache
 * }</pre>
 *
 * @param modelLocation {@code bundled:<id>} or a folder with {@code descriptor.json} and the model
 *     (see {@link dev.streamscore.models.ModelArtifact})
 * @param onnx how the ONNX Runtime session is created
 * @param maxBatchSize rows per model call at most; a batch that reaches it is scored at once
 * @param maxWait how long the oldest row of a partial batch may wait before the batch is scored
 * @param maxInFlight batches being scored at once per subtask; when all are busy the task waits
 * @param cacheTtl how long a card's score for one feature vector is reused; zero disables the cache
 *     and the coalescing of equal pending requests
 * @param modelCallTimeout how long one model call may run before it counts as failed
 * @param maxRetries how often a failed call is retried, for a whole batch and for a single row,
 *     before the batch is split or the row given up
 * @param initialBackoff wait before the first retry; each further retry waits twice as long
 * @param outputMode whether results keep the input order
 * @param latencyTarget zero, or the latency (queue wait plus model call) that adaptive batching
 *     keeps batches within
 * @param fallbackScore {@code null} (rows the model cannot score go to dead letters), or the score
 *     they get instead, marked {@code fallback}
 */
public record InferenceSettings(
        String modelLocation,
        OnnxOptions onnx,
        int maxBatchSize,
        Duration maxWait,
        int maxInFlight,
        Duration cacheTtl,
        Duration modelCallTimeout,
        int maxRetries,
        Duration initialBackoff,
        OutputMode outputMode,
        Duration latencyTarget,
        Double fallbackScore)
        implements Serializable {

    /** Rows per model call: large enough to amortise the ~10 us per-call cost of ONNX Runtime. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 256;

    /** Latency a partial batch adds at most when traffic is low. */
    public static final Duration DEFAULT_MAX_WAIT = Duration.ofMillis(10);

    /** One batch scoring while the next one fills. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 2;

    /** How long a cached score is reused. */
    public static final Duration DEFAULT_CACHE_TTL = Duration.ofMinutes(10);

    /** A batch of 256 takes well under 1 ms; 5 s means the call is stuck, not slow. */
    public static final Duration DEFAULT_MODEL_CALL_TIMEOUT = Duration.ofSeconds(5);

    /** Two retries ride out a transient failure without delaying a batch by more than 30 ms. */
    public static final int DEFAULT_MAX_RETRIES = 2;

    /** The first retry waits 10 ms, the second 20 ms. */
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(10);

    /**
     * Unordered: each score is independent of the others and identified by its transaction id, so a
     * cache hit (microseconds) need not wait behind a batch being scored or retried; watermarks
     * still hold (see {@link OutputMode}).
     */
    public static final OutputMode DEFAULT_OUTPUT_MODE = OutputMode.UNORDERED;

    /** Adaptive batching is off: batches close at {@code maxBatchSize} or {@code maxWait}. */
    public static final Duration DEFAULT_LATENCY_TARGET = Duration.ZERO;

    /**
     * Upper bound on the batch size: each in-flight batch holds a direct buffer of this many rows.
     */
    public static final int MAX_BATCH_SIZE = 65_536;

    /** Upper bound on retries: each one delays a batch twice as long as the one before. */
    public static final int MAX_RETRIES = 10;

    public InferenceSettings {
        Preconditions.checkArgument(
                modelLocation != null && !modelLocation.isBlank(),
                "model location must be 'bundled:<id>' or a folder, found %s",
                modelLocation == null ? "none" : "'" + modelLocation + "'");
        Preconditions.checkArgument(onnx != null, "ONNX options must be set, found none");
        Preconditions.checkArgument(
                maxBatchSize >= 1 && maxBatchSize <= MAX_BATCH_SIZE,
                "max batch size must be between 1 and %s rows, found %s",
                MAX_BATCH_SIZE,
                maxBatchSize);
        Preconditions.checkArgument(
                maxWait != null && maxWait.toMillis() >= 1,
                "max wait must be at least 1 ms (processing-time timers have millisecond"
                        + " resolution), found %s",
                maxWait);
        Preconditions.checkArgument(
                maxInFlight >= 1,
                "max in-flight batches must be at least 1, found %s",
                maxInFlight);
        Preconditions.checkArgument(
                cacheTtl != null
                        && !cacheTtl.isNegative()
                        && (cacheTtl.isZero() || cacheTtl.toMillis() >= 1),
                "cache TTL must be zero (cache disabled) or at least 1 ms, found %s",
                cacheTtl);
        Preconditions.checkArgument(
                modelCallTimeout != null && modelCallTimeout.toMillis() >= 1,
                "model call timeout must be at least 1 ms, found %s",
                modelCallTimeout);
        Preconditions.checkArgument(
                maxRetries >= 0 && maxRetries <= MAX_RETRIES,
                "max retries must be between 0 and %s, found %s",
                MAX_RETRIES,
                maxRetries);
        Preconditions.checkArgument(
                initialBackoff != null
                        && !initialBackoff.isNegative()
                        && (initialBackoff.isZero() || initialBackoff.toMillis() >= 1),
                "initial backoff must be zero or at least 1 ms (processing-time timers have"
                        + " millisecond resolution), found %s",
                initialBackoff);
        Preconditions.checkArgument(outputMode != null, "output mode must be set, found none");
        Preconditions.checkArgument(
                latencyTarget != null && !latencyTarget.isNegative(),
                "latency target must be zero (adaptive batching off) or positive, found %s",
                latencyTarget);
        Preconditions.checkArgument(
                fallbackScore == null || (fallbackScore >= 0 && fallbackScore <= 1),
                "fallback score must be a probability between 0 and 1, or none, found %s",
                fallbackScore);
    }

    /**
     * Settings with the given batching and cache, and the defaults for failures ({@link
     * #DEFAULT_MODEL_CALL_TIMEOUT}, {@link #DEFAULT_MAX_RETRIES}, {@link #DEFAULT_INITIAL_BACKOFF},
     * no fallback score), output ({@link #DEFAULT_OUTPUT_MODE}) and no adaptive batching.
     */
    public InferenceSettings(
            String modelLocation,
            OnnxOptions onnx,
            int maxBatchSize,
            Duration maxWait,
            int maxInFlight,
            Duration cacheTtl) {
        this(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                DEFAULT_MODEL_CALL_TIMEOUT,
                DEFAULT_MAX_RETRIES,
                DEFAULT_INITIAL_BACKOFF,
                DEFAULT_OUTPUT_MODE,
                DEFAULT_LATENCY_TARGET,
                null);
    }

    /**
     * Settings with the defaults: batches of 256, 10 ms max wait, 2 batches in flight, a 10 minute
     * cache, {@link OnnxOptions#DEFAULT}, 5 s call timeout, 2 retries from 10 ms, unordered output,
     * no adaptive batching, no fallback score.
     */
    public static InferenceSettings defaults(String modelLocation) {
        return new InferenceSettings(
                modelLocation,
                OnnxOptions.DEFAULT,
                DEFAULT_MAX_BATCH_SIZE,
                DEFAULT_MAX_WAIT,
                DEFAULT_MAX_IN_FLIGHT,
                DEFAULT_CACHE_TTL);
    }

    /** Whether scores are cached at all ({@code cacheTtl} is not zero). */
    public boolean cacheEnabled() {
        return !cacheTtl.isZero();
    }

    /** Whether batch size and wait adapt to {@link #latencyTarget()} (it is not zero). */
    public boolean adaptiveBatching() {
        return !latencyTarget.isZero();
    }

    public InferenceSettings withOnnx(OnnxOptions onnx) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withMaxBatchSize(int maxBatchSize) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withMaxWait(Duration maxWait) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withMaxInFlight(int maxInFlight) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withCacheTtl(Duration cacheTtl) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withModelCallTimeout(Duration modelCallTimeout) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withMaxRetries(int maxRetries) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withInitialBackoff(Duration initialBackoff) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withOutputMode(OutputMode outputMode) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    public InferenceSettings withLatencyTarget(Duration latencyTarget) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }

    /** {@code null} removes the fallback: rows the model cannot score go to dead letters. */
    public InferenceSettings withFallbackScore(Double fallbackScore) {
        return new InferenceSettings(
                modelLocation,
                onnx,
                maxBatchSize,
                maxWait,
                maxInFlight,
                cacheTtl,
                modelCallTimeout,
                maxRetries,
                initialBackoff,
                outputMode,
                latencyTarget,
                fallbackScore);
    }
}
