package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.serde.PipelineEvent;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * Adaptive batching in the operator, with a fake clock for arrivals and a model whose calls take a
 * fake service time of 100 us + 2 us per row on that clock (see {@link AdaptiveBatchSizer} for the
 * rule; the numbers below follow from it).
 */
class AdaptiveBatchingTest {

    private static final long MICROS = 1_000;

    /** 100 us + 2 us per row: S(64) = 228 us. */
    private static long serviceNanos(int rows) {
        return (100 + 2L * rows) * MICROS;
    }

    @Test
    void choosesLargerBatchesAtAHighArrivalRateThanAtALowOne() throws Exception {
        Fixture f = new Fixture(Duration.ofMillis(2));
        try (var h = f.harness()) {
            f.arrive(h, 640, 10 * MICROS); // 100 000 rows/s
            // (64 - 1) * 10 us + S(64) = 858 us <= 2 ms: the largest batch fits; wait 2 - 0.228 ms.
            assertThat(chosenBatchSize(h)).isEqualTo(64);
            assertThat(chosenWaitMicros(h)).isEqualTo(2_000 - 228);
            assertThat(operator(h).metrics().batchSize.getStatistics().getMax()).isEqualTo(64);

            f.arrive(h, 100, 1_000 * MICROS); // 1 000 rows/s
            // (2 - 1) * 1 ms + S(2) <= 2 ms, (3 - 1) * 1 ms + S(3) > 2 ms; S(2..3) is 104-106 us.
            assertThat(chosenBatchSize(h)).isEqualTo(2);
            assertThat(chosenWaitMicros(h)).isBetween(2_000L - 106, 2_000L - 104);
        }
    }

    @Test
    void waitsLessForABatchToFillWhenTheTargetIsTight() throws Exception {
        Fixture tight = new Fixture(Duration.ofNanos(300 * MICROS));
        Fixture loose = new Fixture(Duration.ofMillis(20));
        try (var t = tight.harness();
                var l = loose.harness()) {
            tight.arrive(t, 640, 10 * MICROS);
            loose.arrive(l, 640, 10 * MICROS);

            // Tight: (b - 1) * 10 us + S(b) <= 300 us. From S(64) = 228 us alone, 8 rows; once
            // batches of 8 measured S(8..15) at 116-130 us, 15 rows, waiting 300 us - S(15).
            assertThat(chosenBatchSize(t)).isEqualTo(15);
            assertThat(chosenWaitMicros(t)).isBetween(300L - 130, 300L - 116);
            // Loose: the largest batch, and the longest wait allowed (max wait, 10 ms).
            assertThat(chosenBatchSize(l)).isEqualTo(64);
            assertThat(chosenWaitMicros(l)).isEqualTo(10_000);
        }
    }

    @Test
    void withoutALatencyTargetTheGaugesShowTheStaticBatchSizeAndWait() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 64))) {
            h.processElement(txn(0, 4), 1);
            assertThat(chosenBatchSize(h)).isEqualTo(64);
            assertThat(chosenWaitMicros(h)).isEqualTo(10_000);
        }
    }

    private static int chosenBatchSize(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        return operator(h).metrics().chosenBatchSize.getValue();
    }

    private static long chosenWaitMicros(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        return operator(h).metrics().chosenMaxWaitMicros.getValue();
    }

    /** One operator with its fake clock; arrivals happen one at a time, each model call at once. */
    private static final class Fixture {
        final AtomicLong clock = new AtomicLong(1_000_000_000L);
        final ScriptedScorer model =
                new ScriptedScorer().taking(clock, AdaptiveBatchingTest::serviceNanos);
        final InferenceSettings settings;
        int next;

        Fixture(Duration target) {
            settings =
                    settings(LINEAR_V1, 64)
                            .withBatching(b -> b.cacheTtl(Duration.ZERO))
                            .withBatching(b -> b.latencyTarget(target));
        }

        KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> harness()
                throws Exception {
            var h =
                    InferenceFixtures.harness(
                            new BatchingInferenceOperator(
                                    settings, model.factory(settings), clock::get),
                            null);
            h.setProcessingTime(clock.get() / 1_000_000);
            return h;
        }

        /**
         * {@code count} rows, {@code gapNanos} apart. Processing time follows the clock (firing
         * max-wait timers); every call a batch causes completes before the next arrival, so a call
         * only ever moves the clock while no arrival reads it.
         */
        void arrive(
                KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h,
                int count,
                long gapNanos)
                throws Exception {
            long at = clock.get();
            for (int i = 0; i < count; i++) {
                at += gapNanos;
                clock.set(at);
                h.setProcessingTime(at / 1_000_000);
                settle(h);
                clock.set(at);
                h.processElement(txn(next, 1000), next);
                next++;
                settle(h);
            }
            clock.set(at);
        }

        private void settle(KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h)
                throws Exception {
            runMailboxUntil(h, () -> operator(h).callsAwaited() == 0);
        }
    }
}
