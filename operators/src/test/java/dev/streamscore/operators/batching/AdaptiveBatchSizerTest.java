package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The adaptive batching rule, with explicit arrival times and service times (microseconds). */
class AdaptiveBatchSizerTest {

    private static final long US = 1_000;

    @Test
    void usesTheStaticSizeAndWaitUntilItHasMeasuredACall() {
        AdaptiveBatchSizer sizer = sizer(2_000);
        arrivals(sizer, 10, 10);

        sizer.choose();

        assertThat(sizer.batchSize()).isEqualTo(64);
        assertThat(sizer.waitNanos()).isEqualTo(10_000 * US);
    }

    @Test
    void picksTheLargestBatchWhoseFillTimePlusServiceTimeMeetsTheTarget() {
        AdaptiveBatchSizer fast = sizer(2_000);
        fast.onCall(64, 228 * US);
        arrivals(fast, 10, 100);
        fast.choose();
        // 63 * 10 + 228 = 858 <= 2000: the largest batch; wait 2000 - 228.
        assertThat(fast.batchSize()).isEqualTo(64);
        assertThat(fast.waitNanos()).isEqualTo((2_000 - 228) * US);

        AdaptiveBatchSizer slow = sizer(2_000);
        slow.onCall(64, 228 * US);
        arrivals(slow, 1_000, 100);
        slow.choose();
        // 1 * 1000 + 228 <= 2000 < 2 * 1000 + 228.
        assertThat(slow.batchSize()).isEqualTo(2);
        assertThat(slow.waitNanos()).isEqualTo((2_000 - 228) * US);
    }

    @Test
    void aTighterTargetGivesASmallerBatchAndAShorterWait() {
        AdaptiveBatchSizer tight = sizer(300);
        tight.onCall(64, 228 * US);
        arrivals(tight, 10, 100);
        tight.choose();
        // 7 * 10 + 228 = 298 <= 300 < 8 * 10 + 228.
        assertThat(tight.batchSize()).isEqualTo(8);
        assertThat(tight.waitNanos()).isEqualTo((300 - 228) * US);

        AdaptiveBatchSizer loose = sizer(20_000);
        loose.onCall(64, 228 * US);
        arrivals(loose, 10, 100);
        loose.choose();
        assertThat(loose.batchSize()).isEqualTo(64);
        assertThat(loose.waitNanos()).isEqualTo(10_000 * US); // capped at max wait
    }

    @Test
    void scoresRowByRowWithoutWaitingWhenEvenOneRowMissesTheTarget() {
        AdaptiveBatchSizer sizer = sizer(100);
        sizer.onCall(1, 150 * US);
        arrivals(sizer, 10, 100);
        sizer.choose();

        assertThat(sizer.batchSize()).isEqualTo(1);
        assertThat(sizer.waitNanos()).isZero();
    }

    @Test
    void estimatesAnUnmeasuredSizeFromALargerOneAsIsAndFromASmallerOneScaledUp() {
        AdaptiveBatchSizer sizer = sizer(2_000);
        sizer.onCall(8, 120 * US); // bucket 8..15

        assertThat(sizer.expectedServiceNanos(8)).isEqualTo(120 * US);
        assertThat(sizer.expectedServiceNanos(15)).isEqualTo(120 * US);
        assertThat(sizer.expectedServiceNanos(2)).isEqualTo(120 * US); // larger bucket, as is
        assertThat(sizer.expectedServiceNanos(64)).isEqualTo(8 * 120 * US); // 8x the rows

        sizer.onCall(8, 220 * US); // weighted: 0.2 * 220 + 0.8 * 120
        assertThat(sizer.expectedServiceNanos(8)).isCloseTo(140.0 * US, offset(1e-6));
    }

    @Test
    void followsAChangeOfArrivalRateAndIgnoresALongIdlePauseBeyondTheTargetOrMaxWait() {
        AdaptiveBatchSizer sizer = sizer(2_000);
        long now = arrivals(sizer, 1_000, 50);
        assertThat(sizer.meanGapNanos()).isCloseTo(1_000.0 * US, offset(1e-6));

        sizer.onArrival(now + 3_600_000_000_000L); // an hour later: counts as max(2 ms, 10 ms)
        assertThat(sizer.meanGapNanos())
                .isCloseTo(0.1 * 10_000 * US + 0.9 * 1_000 * US, offset(1e-6));
    }

    /** Target in us, batches up to 64 rows, 10 ms max wait. */
    private static AdaptiveBatchSizer sizer(long targetMicros) {
        return new AdaptiveBatchSizer(
                Duration.ofNanos(targetMicros * US), 64, Duration.ofMillis(10));
    }

    /** {@code count} arrivals {@code gapMicros} apart; returns the time of the last one. */
    private static long arrivals(AdaptiveBatchSizer sizer, long gapMicros, int count) {
        long at = 0;
        for (int i = 0; i < count; i++) {
            at += gapMicros * US;
            sizer.onArrival(at);
        }
        return at;
    }
}
