package dev.streamscore.operators.inference;

import dev.streamscore.models.OnnxOptions;
import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.util.Preconditions;

/**
 * How {@link BatchingInferenceOperator} scores: which model, how large and how old a micro-batch
 * may grow, how many batches may be scored at once, and how long a cached score stays valid.
 * Immutable and checked when built, so a bad setting fails the job at submission, not mid-stream.
 *
 * <pre>{@code
 * InferenceSettings settings = InferenceSettings.defaults("bundled:gbdt")
 *         .withMaxBatchSize(512)
 *         .withCacheTtl(Duration.ZERO); // no result cache
 * }</pre>
 *
 * @param modelLocation {@code bundled:<id>} or a folder with {@code descriptor.json} and the model
 *     (see {@link dev.streamscore.models.ModelArtifact})
 * @param onnx how the ONNX Runtime session is created
 * @param maxBatchSize rows per model call at most; a batch that reaches it is scored at once
 * @param maxWait how long the oldest row of a partial batch may wait before the batch is scored
 * @param maxInFlight batches being scored at once per subtask; when all are busy the task waits
 * @param cacheTtl how long a card's score for one feature vector is reused; zero disables the cache
 */
public record InferenceSettings(
        String modelLocation,
        OnnxOptions onnx,
        int maxBatchSize,
        Duration maxWait,
        int maxInFlight,
        Duration cacheTtl)
        implements Serializable {

    /** Rows per model call: large enough to amortise the ~10 us per-call cost of ONNX Runtime. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 256;

    /** Latency a partial batch adds at most when traffic is low. */
    public static final Duration DEFAULT_MAX_WAIT = Duration.ofMillis(10);

    /** One batch scoring while the next one fills. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 2;

    /** How long a cached score is reused. */
    public static final Duration DEFAULT_CACHE_TTL = Duration.ofMinutes(10);

    /**
     * Upper bound on the batch size: each in-flight batch holds a direct buffer of this many rows.
     */
    public static final int MAX_BATCH_SIZE = 65_536;

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
    }

    /**
     * Settings with the defaults: batches of 256, 10 ms max wait, 2 batches in flight, a 10 minute
     * cache, and {@link OnnxOptions#DEFAULT}.
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

    public InferenceSettings withOnnx(OnnxOptions onnx) {
        return new InferenceSettings(
                modelLocation, onnx, maxBatchSize, maxWait, maxInFlight, cacheTtl);
    }

    public InferenceSettings withMaxBatchSize(int maxBatchSize) {
        return new InferenceSettings(
                modelLocation, onnx, maxBatchSize, maxWait, maxInFlight, cacheTtl);
    }

    public InferenceSettings withMaxWait(Duration maxWait) {
        return new InferenceSettings(
                modelLocation, onnx, maxBatchSize, maxWait, maxInFlight, cacheTtl);
    }

    public InferenceSettings withMaxInFlight(int maxInFlight) {
        return new InferenceSettings(
                modelLocation, onnx, maxBatchSize, maxWait, maxInFlight, cacheTtl);
    }

    public InferenceSettings withCacheTtl(Duration cacheTtl) {
        return new InferenceSettings(
                modelLocation, onnx, maxBatchSize, maxWait, maxInFlight, cacheTtl);
    }
}
