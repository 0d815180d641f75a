package dev.streamscore.operators.batching;

import java.time.Duration;
import org.apache.flink.util.Preconditions;

/**
 * What happens to a range of a batch whose model call failed, as Flink's {@code AsyncRetryStrategy}
 * decides for an async call: retry it after a doubling backoff, split it in halves, or give its
 * single row up.
 *
 * <p>The whole batch and single rows are retried up to {@code maxRetries} times, after {@code
 * initialBackoff}, then twice as long for each further retry. A range that still fails (or a half,
 * which is never retried) is split in halves, each scored once and split again when it fails, down
 * to single rows, which again get the retries. A row is given up only when it failed alone {@code 1
 * + maxRetries} times, so one poison row costs a batch of {@code n = 2^k} rows {@code 2 (1 +
 * maxRetries) + 2k - 1} calls and no neighbour.
 *
 * <pre>{@code
 * BisectingRetryPolicy policy = new BisectingRetryPolicy(2, Duration.ofMillis(10));
 * switch (policy.onFailure(range)) {
 *     case RETRY -> schedule(range, policy.backoffMillis(range));
 *     case SPLIT -> push(policy.halves(range));
 *     case GIVE_UP -> giveUp(range.from);
 * }
 * }</pre>
 */
final class BisectingRetryPolicy {

    /** The decision for one failed range. */
    enum Action {
        RETRY,
        SPLIT,
        GIVE_UP
    }

    private final int maxRetries;
    private final long initialBackoffMillis;

    BisectingRetryPolicy(int maxRetries, Duration initialBackoff) {
        Preconditions.checkArgument(
                maxRetries >= 0, "max retries must not be negative, found %s", maxRetries);
        this.maxRetries = maxRetries;
        this.initialBackoffMillis = initialBackoff.toMillis();
    }

    /** Counts the failure of a call on {@code range} and says what to do with it. */
    Action onFailure(RowRange range) {
        range.failures++;
        if (range.retriable && range.failures <= maxRetries) {
            return Action.RETRY;
        }
        return range.size() > 1 ? Action.SPLIT : Action.GIVE_UP;
    }

    /** How long to wait before the retry {@link #onFailure} just decided on. */
    long backoffMillis(RowRange range) {
        return initialBackoffMillis << (range.failures - 1);
    }

    /** The two halves of {@code range}, first half first; only single rows are retriable. */
    RowRange[] halves(RowRange range) {
        int middle = range.from + range.size() / 2;
        return new RowRange[] {
            new RowRange(range.from, middle, range.from + 1 == middle),
            new RowRange(middle, range.to, middle + 1 == range.to)
        };
    }
}
