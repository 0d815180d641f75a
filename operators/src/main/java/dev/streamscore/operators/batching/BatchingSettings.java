package dev.streamscore.operators.batching;

import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.util.Preconditions;

/**
 * How a {@link BatchingOperator} batches: how large and how old a micro-batch may grow, how many
 * batches may be scored at once, how long a cached result stays valid, how a failing model call is
 * retried, in which order results leave, and whether batches adapt to a latency target. Immutable
 * and checked when built, so a bad setting fails the job at submission, not mid-stream. The
 * defaults are those of {@link BatchingOptions}.
 *
 * <pre>{@code
 * BatchingSettings settings = BatchingSettings.DEFAULTS.toBuilder()
 *         .maxBatchSize(512)
 *         .latencyTarget(Duration.ofMillis(5)) // adaptive batching
 *         .cacheTtl(Duration.ZERO)             // no result cache
 *         .build();
 * }</pre>
 *
 * @param maxBatchSize rows per model call at most; a batch that reaches it is scored at once
 * @param maxWait how long the oldest row of a partial batch may wait before the batch is scored
 * @param maxInFlight batches being scored at once per subtask; when all are busy the task waits
 * @param cacheTtl how long a key's result for one row is reused; zero disables the cache and the
 *     coalescing of equal pending rows
 * @param modelCallTimeout how long one model call may run before it counts as failed
 * @param maxRetries how often a failed call is retried, for a whole batch and for a single row,
 *     before the batch is split or the row given up
 * @param initialBackoff wait before the first retry; each further retry waits twice as long
 * @param outputMode whether results keep the input order
 * @param latencyTarget zero, or the latency (queue wait plus model call) that adaptive batching
 *     keeps batches within
 */
public record BatchingSettings(
        int maxBatchSize,
        Duration maxWait,
        int maxInFlight,
        Duration cacheTtl,
        Duration modelCallTimeout,
        int maxRetries,
        Duration initialBackoff,
        OutputMode outputMode,
        Duration latencyTarget)
        implements Serializable {

    /**
     * Upper bound on the batch size: each in-flight batch holds a direct buffer of this many rows.
     */
    public static final int MAX_BATCH_SIZE = 65_536;

    /** Upper bound on retries: each one delays a batch twice as long as the one before. */
    public static final int MAX_RETRIES = 10;

    /** The defaults of every {@link BatchingOptions} entry. */
    public static final BatchingSettings DEFAULTS = from(new Configuration());

    public BatchingSettings {
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
    }

    /** The settings {@code config} gives, each option not set there at its default. */
    public static BatchingSettings from(ReadableConfig config) {
        return new BatchingSettings(
                config.get(BatchingOptions.BATCH_SIZE),
                config.get(BatchingOptions.MAX_WAIT),
                config.get(BatchingOptions.MAX_IN_FLIGHT),
                config.get(BatchingOptions.CACHE_TTL),
                config.get(BatchingOptions.MODEL_CALL_TIMEOUT),
                config.get(BatchingOptions.MAX_RETRIES),
                config.get(BatchingOptions.RETRY_BACKOFF),
                config.get(BatchingOptions.OUTPUT_MODE),
                config.get(BatchingOptions.LATENCY_TARGET));
    }

    /** Whether results are cached at all ({@code cacheTtl} is not zero). */
    public boolean cacheEnabled() {
        return !cacheTtl.isZero();
    }

    /** Whether batch size and wait adapt to {@link #latencyTarget()} (it is not zero). */
    public boolean adaptiveBatching() {
        return !latencyTarget.isZero();
    }

    /** A builder that starts from these settings. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Changes some settings of a copy; {@link #build} checks them all. */
    public static final class Builder {
        private int maxBatchSize;
        private Duration maxWait;
        private int maxInFlight;
        private Duration cacheTtl;
        private Duration modelCallTimeout;
        private int maxRetries;
        private Duration initialBackoff;
        private OutputMode outputMode;
        private Duration latencyTarget;

        private Builder(BatchingSettings from) {
            maxBatchSize = from.maxBatchSize;
            maxWait = from.maxWait;
            maxInFlight = from.maxInFlight;
            cacheTtl = from.cacheTtl;
            modelCallTimeout = from.modelCallTimeout;
            maxRetries = from.maxRetries;
            initialBackoff = from.initialBackoff;
            outputMode = from.outputMode;
            latencyTarget = from.latencyTarget;
        }

        public Builder maxBatchSize(int value) {
            maxBatchSize = value;
            return this;
        }

        public Builder maxWait(Duration value) {
            maxWait = value;
            return this;
        }

        public Builder maxInFlight(int value) {
            maxInFlight = value;
            return this;
        }

        public Builder cacheTtl(Duration value) {
            cacheTtl = value;
            return this;
        }

        public Builder modelCallTimeout(Duration value) {
            modelCallTimeout = value;
            return this;
        }

        public Builder maxRetries(int value) {
            maxRetries = value;
            return this;
        }

        public Builder initialBackoff(Duration value) {
            initialBackoff = value;
            return this;
        }

        public Builder outputMode(OutputMode value) {
            outputMode = value;
            return this;
        }

        public Builder latencyTarget(Duration value) {
            latencyTarget = value;
            return this;
        }

        public BatchingSettings build() {
            return new BatchingSettings(
                    maxBatchSize,
                    maxWait,
                    maxInFlight,
                    cacheTtl,
                    modelCallTimeout,
                    maxRetries,
                    initialBackoff,
                    outputMode,
                    latencyTarget);
        }
    }
}
