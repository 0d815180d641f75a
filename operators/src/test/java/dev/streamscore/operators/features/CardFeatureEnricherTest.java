package dev.streamscore.operators.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.operators.serde.SourcedTransaction;
import dev.streamscore.schemas.Channel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CardFeatureEnricherTest {

    private static KeyedOneInputStreamOperatorTestHarness<
                    String, SourcedTransaction, EnrichedTransaction>
            harness() throws Exception {
        return harness(CardFeatureEnricher.DEFAULT_FRONT_CARDS, new EmbeddedRocksDBStateBackend());
    }

    static KeyedOneInputStreamOperatorTestHarness<String, SourcedTransaction, EnrichedTransaction>
            harness(int frontCards, StateBackend backend) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new CardFeatureEnricher(
                                Duration.ofDays(30), Duration.ofHours(1), frontCards),
                        (SourcedTransaction t) -> t.transaction.getCardId(),
                        Types.STRING);
        h.setStateBackend(backend);
        return h;
    }

    /**
     * The front in memory, its evictions and its flushes before the barrier, against the pure
     * function on plain histories: random traffic of a few cards with re-sends, snapshots and
     * restores at random points, and the same features as if nothing had ever been in memory.
     */
    @ParameterizedTest(name = "front of {0} cards on {1}")
    @CsvSource({"0, rocksdb", "1, rocksdb", "3, rocksdb", "1000, rocksdb", "1000, hashmap"})
    void theFrontChangesNothingButTheCost(int frontCards, String backend) throws Exception {
        Random random = new Random(42 + frontCards);
        Map<String, CardHistory> reference = new HashMap<>();
        List<SourcedTransaction> sent = new ArrayList<>();
        OperatorSubtaskState snapshot = null;
        int checkpoint = 0;
        for (int round = 0; round < 6; round++) {
            try (var h = harness(frontCards, backend(backend))) {
                if (snapshot != null) {
                    h.initializeState(snapshot);
                }
                h.open();
                int events = 50 + random.nextInt(150);
                for (int i = 0; i < events; i++) {
                    SourcedTransaction t;
                    if (!sent.isEmpty() && random.nextInt(5) == 0) {
                        t = sent.get(sent.size() - 1 - random.nextInt(Math.min(8, sent.size())));
                    } else {
                        t =
                                new SourcedTransaction(
                                        CardFeaturesTest.txn(
                                                "t" + sent.size(),
                                                CardFeaturesTest.T0.plus(
                                                        Duration.ofSeconds(
                                                                37L * sent.size()
                                                                        + random.nextInt(60))),
                                                100 + random.nextInt(9_000),
                                                random.nextBoolean() ? "DE" : "FR",
                                                Channel.values()[random.nextInt(3)]),
                                        "transactions",
                                        0,
                                        sent.size());
                        t.transaction.setCardId("card-" + random.nextInt(6));
                        sent.add(t);
                    }
                    h.processElement(t, 0);
                    float[] expected = referenceFeatures(reference, t);
                    List<EnrichedTransaction> out = h.extractOutputValues();
                    assertThat(out.get(out.size() - 1).features)
                            .as("transaction %d of round %d", i, round)
                            .containsExactly(expected);
                }
                checkpoint++;
                snapshot = h.snapshot(checkpoint, checkpoint);
            }
        }
    }

    /** What the enricher must give: the pure function on a plain history per card. */
    private static float[] referenceFeatures(
            Map<String, CardHistory> reference, SourcedTransaction t) {
        CardHistory card =
                reference.computeIfAbsent(t.transaction.getCardId(), k -> new CardHistory());
        float[] seen = card.featuresOf(t.transaction.getTransactionId());
        if (seen != null) {
            return seen;
        }
        float[] f = CardFeatures.computeAndUpdate(card, t.transaction);
        card.remember(
                t.transaction.getTransactionId(),
                t.transaction.getEventTime().toEpochMilli(),
                f,
                Duration.ofHours(1).toMillis());
        return f;
    }

    private static StateBackend backend(String name) {
        return name.equals("rocksdb")
                ? new EmbeddedRocksDBStateBackend()
                : new HashMapStateBackend();
    }

    @Test
    void aNegativeFrontIsRefused() {
        assertThatThrownBy(
                        () -> new CardFeatureEnricher(Duration.ofDays(1), Duration.ofHours(1), -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("card state front must be 0 (off) or more cards, got -1");
    }

    private static SourcedTransaction in(String id, long minutes, String country) {
        return new SourcedTransaction(
                CardFeaturesTest.txn(
                        id,
                        CardFeaturesTest.T0.plus(Duration.ofMinutes(minutes)),
                        2_500,
                        country,
                        Channel.POS),
                "transactions",
                0,
                minutes);
    }

    @Test
    void historySurvivesSnapshotAndRestoreOnRocksDb() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            h.processElement(in("a", 0, "DE"), 0);
            h.processElement(in("b", 10, "DE"), 0);
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness()) {
            h.initializeState(snapshot);
            h.open();
            h.processElement(in("c", 20, "FR"), 0);
            List<EnrichedTransaction> out = h.extractOutputValues();
            assertThat(out).hasSize(1);
            float[] f = out.get(0).features;
            assertThat(f[CardFeaturesTest.index("txn_count_1h")]).isEqualTo(2f);
            assertThat(f[CardFeaturesTest.index("foreign")]).isEqualTo(1f);
            assertThat(f[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(2));
            assertThat(out.get(0).sourceOffset).isEqualTo(20);
        }
    }

    @Test
    void aResentTransactionGetsItsFirstVectorAndIsNotCountedTwice() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(in("a", 0, "DE"), 0);
            h.processElement(in("b", 5, "DE"), 0);
            h.processElement(in("a", 0, "DE"), 0); // re-sent by an at-least-once producer
            h.processElement(in("c", 10, "DE"), 0);
            List<EnrichedTransaction> out = h.extractOutputValues();
            assertThat(out).hasSize(4);
            assertThat(out.get(2).features).containsExactly(out.get(0).features);
            // c sees a and b once each: the re-send changed nothing.
            assertThat(out.get(3).features[CardFeaturesTest.index("txn_count_1h")]).isEqualTo(2f);
            assertThat(out.get(3).features[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(2));
        }
    }

    @Test
    void aResendOlderThanTheDedupWindowBeforeTheCardsNewestCountsAsNew() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(in("a", 0, "DE"), 0);
            h.processElement(in("b", 59, "DE"), 0);
            h.processElement(in("a", 0, "DE"), 0); // within 1 h of the newest (b): a re-send
            h.processElement(in("c", 61, "DE"), 0);
            h.processElement(in("a", 0, "DE"), 0); // 61 min before the newest: forgotten
            List<EnrichedTransaction> out = h.extractOutputValues();
            assertThat(out.get(2).features).containsExactly(out.get(0).features);
            assertThat(out.get(4).features[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(3));
        }
    }

    @Test
    void aZeroDedupWindowCountsEveryResend() throws Exception {
        try (var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new CardFeatureEnricher(Duration.ofDays(30), Duration.ZERO),
                        (SourcedTransaction t) -> t.transaction.getCardId(),
                        Types.STRING)) {
            h.setStateBackend(new EmbeddedRocksDBStateBackend());
            h.open();
            h.processElement(in("a", 0, "DE"), 0);
            h.processElement(in("a", 0, "DE"), 0);
            List<EnrichedTransaction> out = h.extractOutputValues();
            assertThat(out.get(1).features[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(1));
        }
    }

    @Test
    void enrichesWithTheSameVectorAsThePureFunction() throws Exception {
        CardHistory reference = new CardHistory();
        try (var h = harness()) {
            h.open();
            for (int i = 0; i < 5; i++) {
                SourcedTransaction t = in("t" + i, i * 7L, i == 3 ? "NL" : "DE");
                h.processElement(t, 0);
                float[] expected = CardFeatures.computeAndUpdate(reference, t.transaction);
                assertThat(h.extractOutputValues().get(i).features).containsExactly(expected);
            }
        }
    }
}
