package dev.streamscore.operators.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/** The cache's two tiers and its decision about the state tier, on RocksDB. */
class ScoreCacheTest {

    private static final Duration TTL = Duration.ofMinutes(10);

    /** A keyed operator that only holds a cache, for the test to drive. */
    static final class Holder extends AbstractStreamOperator<Void>
            implements OneInputStreamOperator<String, Void> {
        final int front;
        final double modelNanosPerRow;
        final AtomicLong clock = new AtomicLong();
        transient ScoreCache cache;
        transient MapState<Long, CachedScore> state;

        Holder(int front, double modelNanosPerRow) {
            this.front = front;
            this.modelNanosPerRow = modelNanosPerRow;
        }

        @Override
        public void open() throws Exception {
            super.open();
            cache =
                    ScoreCache.create(
                            getKeyedStateStore(), TTL, front, clock::get, () -> modelNanosPerRow);
            state = getKeyedStateStore().getMapState(ScoreCache.descriptor(TTL));
        }

        @Override
        public void processElement(StreamRecord<String> element) {}
    }

    private static KeyedOneInputStreamOperatorTestHarness<String, String, Void> harness(
            Holder holder) throws Exception {
        var h = new KeyedOneInputStreamOperatorTestHarness<>(holder, k -> k, Types.STRING);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        h.open();
        return h;
    }

    private static float[] row(int i) {
        return new float[] {i, i * 0.5f, -i};
    }

    /** A hash with the top four bits set: never in the state tier's sample. */
    private static long unsampled(int i) {
        return 0xF000_0000_0000_0000L | i;
    }

    /** A hash with the top four bits clear: always in the sample. */
    private static long sampled(int i) {
        return i;
    }

    @Test
    void theFrontAnswersWithoutTheStateAndForgetsAfterTheTtl() throws Exception {
        Holder holder = new Holder(10, Double.POSITIVE_INFINITY);
        try (var h = harness(holder)) {
            holder.setCurrentKey("card-a");
            holder.cache.put("card-a", unsampled(1), row(1), "m:1", 0.25f);
            holder.state.remove(unsampled(1)); // only the front has it now
            assertThat(holder.cache.lookup("card-a", unsampled(1), row(1), "m:1").score)
                    .isEqualTo(0.25f);
            assertThat(holder.cache.frontHits()).isEqualTo(1);
            // Another card, another model, another vector under the same hash: misses.
            holder.setCurrentKey("card-b");
            assertThat(holder.cache.lookup("card-b", unsampled(1), row(1), "m:1")).isNull();
            holder.setCurrentKey("card-a");
            assertThat(holder.cache.lookup("card-a", unsampled(1), row(1), "m:2")).isNull();
            assertThat(holder.cache.lookup("card-a", unsampled(1), row(2), "m:1")).isNull();
            holder.clock.set(TTL.toMillis());
            assertThat(holder.cache.lookup("card-a", unsampled(1), row(1), "m:1")).isNull();
        }
    }

    @Test
    void theStateAnswersWhatTheFrontNoLongerHolds() throws Exception {
        Holder holder = new Holder(2, Double.POSITIVE_INFINITY);
        try (var h = harness(holder)) {
            holder.setCurrentKey("card-a");
            for (int i = 0; i < 5; i++) {
                holder.cache.put("card-a", unsampled(i), row(i), "m:1", i / 10f);
            }
            assertThat(holder.cache.lookup("card-a", unsampled(0), row(0), "m:1").score)
                    .isEqualTo(0f);
            assertThat(holder.cache.stateHits()).isEqualTo(1);
            assertThat(holder.cache.frontHits()).isZero();
        }
    }

    @Test
    void aCheapModelTurnsTheStateTierOffAndItsSampleKeepsMeasuring() throws Exception {
        // 1 ns per row: no state hit rate could pay for a RocksDB read and write.
        Holder holder = new Holder(0, 1);
        try (var h = harness(holder)) {
            holder.setCurrentKey("card-a");
            assertThat(holder.cache.usesState()).isTrue();
            for (int i = 0; i <= ScoreCache.DECIDE_EVERY; i++) {
                holder.cache.put("card-a", sampled(i), row(i), "m:1", 0.5f);
                assertThat(holder.cache.lookup("card-a", sampled(i), row(i), "m:1")).isNotNull();
            }
            assertThat(holder.cache.usesState()).isFalse();
            // Off: an unsampled vector is neither written nor looked up; a sampled one is both.
            holder.cache.put("card-a", unsampled(7), row(7), "m:1", 0.5f);
            assertThat(holder.state.contains(unsampled(7))).isFalse();
            holder.cache.put("card-a", sampled(9999), row(9999), "m:1", 0.5f);
            assertThat(holder.state.contains(sampled(9999))).isTrue();
        }
    }

    @Test
    void anExpensiveModelWithStateHitsKeepsTheStateTier() throws Exception {
        Holder holder = new Holder(0, 1e9);
        try (var h = harness(holder)) {
            holder.setCurrentKey("card-a");
            for (int i = 0; i < 2 * ScoreCache.DECIDE_EVERY; i++) {
                holder.cache.put("card-a", sampled(i), row(i), "m:1", 0.5f);
                holder.cache.lookup("card-a", sampled(i), row(i), "m:1");
            }
            assertThat(holder.cache.usesState()).isTrue();
        }
    }

    @Test
    void aFrontThatSavesMoreThanItCostsStaysAndOneThatDoesNotStandsAside() throws Exception {
        Holder expensive = new Holder(100, 1e9);
        try (var h = harness(expensive)) {
            expensive.setCurrentKey("card-a");
            for (int i = 0; i <= 2 * ScoreCache.DECIDE_EVERY; i++) {
                expensive.cache.put("card-a", sampled(i), row(i), "m:1", 0.5f);
                expensive.cache.lookup("card-a", sampled(i), row(i), "m:1");
            }
            assertThat(expensive.cache.usesFront()).isTrue();
            // Everything the front was asked it answered: the state saw no sample, and goes.
            assertThat(expensive.cache.usesState()).isFalse();
        }
        Holder cheap = new Holder(100, 1e-3);
        try (var h = harness(cheap)) {
            cheap.setCurrentKey("card-a");
            for (int i = 0; i <= 2 * ScoreCache.DECIDE_EVERY; i++) {
                cheap.cache.put("card-a", sampled(i), row(i), "m:1", 0.5f);
                cheap.cache.lookup("card-a", sampled(i), row(i), "m:1");
            }
            assertThat(cheap.cache.usesFront()).isFalse();
            assertThat(cheap.cache.usesState()).isFalse();
            // Standing aside: an unsampled vector goes through neither tier.
            cheap.cache.put("card-a", unsampled(3), row(3), "m:1", 0.5f);
            assertThat(cheap.cache.lookup("card-a", unsampled(3), row(3), "m:1")).isNull();
        }
    }

    @Test
    void noStateHitsTurnTheStateTierOffWhateverTheModelCosts() throws Exception {
        Holder holder = new Holder(0, 1e9);
        try (var h = harness(holder)) {
            holder.setCurrentKey("card-a");
            for (int i = 0; i <= ScoreCache.DECIDE_EVERY; i++) {
                assertThat(holder.cache.lookup("card-a", sampled(i), row(i), "m:1")).isNull();
            }
            assertThat(holder.cache.usesState()).isFalse();
        }
    }
}
