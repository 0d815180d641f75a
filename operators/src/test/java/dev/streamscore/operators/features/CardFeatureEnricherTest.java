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
        return harness(frontCards, CardFeatureEnricher.DEFAULT_WRITE_DELAY, backend);
    }

    static KeyedOneInputStreamOperatorTestHarness<String, SourcedTransaction, EnrichedTransaction>
            harness(int frontCards, Duration writeDelay, StateBackend backend) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new CardFeatureEnricher(
                                Duration.ofDays(30), Duration.ofHours(1), frontCards, writeDelay),
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
    @ParameterizedTest(name = "front of {0} cards, written {1} ms after a change, on {2}")
    @CsvSource({
        "0, 1000, rocksdb",
        "1, 1000, rocksdb",
        "3, 1000, rocksdb",
        "1000, 1000, rocksdb",
        "1000, 0, rocksdb",
        "1000, 1, rocksdb",
        "1000, 30000, rocksdb",
        "1000, 100000000, rocksdb",
        "1, 0, rocksdb",
        "3, 1, rocksdb",
        "3, 30000, rocksdb",
        "1000, 1000, hashmap"
    })
    void theFrontChangesNothingButTheCost(int frontCards, long writeDelayMillis, String backend)
            throws Exception {
        Random random = new Random(42 + frontCards + 31L * writeDelayMillis);
        Duration writeDelay = Duration.ofMillis(writeDelayMillis);
        Map<String, CardHistory> reference = new HashMap<>();
        Map<String, Map.Entry<Long, float[]>> firstSeen = new HashMap<>();
        List<SourcedTransaction> sent = new ArrayList<>();
        OperatorSubtaskState snapshot = null;
        int checkpoint = 0;
        long now = 0;
        for (int round = 0; round < 6; round++) {
            try (var h = harness(frontCards, writeDelay, backend(backend))) {
                if (snapshot != null) {
                    h.initializeState(snapshot);
                }
                h.open();
                boolean busy = round % 2 == 1;
                int events = busy ? 300 + random.nextInt(200) : 50 + random.nextInt(150);
                for (int i = 0; i < events; i++) {
                    // Arrival time moves on by up to 20 min (re-sends fall in and out of the
                    // dedup window) or, in busy rounds, by up to 2 s over two cards (more ids
                    // inside one window than the history's own list holds).
                    now += random.nextInt(busy ? 2_000 : 20 * 60_000);
                    h.setProcessingTime(now);
                    SourcedTransaction t;
                    if (!sent.isEmpty() && random.nextInt(5) == 0) {
                        t = sent.get(sent.size() - 1 - random.nextInt(Math.min(300, sent.size())));
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
                        t.transaction.setCardId("card-" + random.nextInt(busy ? 2 : 6));
                        sent.add(t);
                    }
                    h.processElement(t, 0);
                    float[] expected = referenceFeatures(reference, firstSeen, t, now);
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

    /**
     * What the enricher must give: the pure function on a plain history per card, and a re-send
     * recognised by an unbounded map of every id's first arrival and vector.
     */
    private static float[] referenceFeatures(
            Map<String, CardHistory> reference,
            Map<String, Map.Entry<Long, float[]>> firstSeen,
            SourcedTransaction t,
            long now) {
        CardHistory card =
                reference.computeIfAbsent(t.transaction.getCardId(), k -> new CardHistory());
        String key = t.transaction.getCardId() + "/" + t.transaction.getTransactionId();
        Map.Entry<Long, float[]> first = firstSeen.get(key);
        if (first != null && first.getKey() > now - Duration.ofHours(1).toMillis()) {
            return first.getValue();
        }
        float[] f = CardFeatures.computeAndUpdate(card, t.transaction);
        firstSeen.put(key, Map.entry(now, f));
        return f;
    }

    private static StateBackend backend(String name) {
        return name.equals("rocksdb")
                ? new EmbeddedRocksDBStateBackend()
                : new HashMapStateBackend();
    }

    @Test
    void aDedupWindowLongerThanTheHistoryTtlIsRefused() {
        assertThatThrownBy(() -> new CardFeatureEnricher(Duration.ofHours(1), Duration.ofHours(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "dedup window (PT2H) must not be longer than the card history TTL (PT1H):"
                                + " a card's remembered ids expire with its history");
    }

    @Test
    void aNegativeFrontIsRefused() {
        assertThatThrownBy(
                        () -> new CardFeatureEnricher(Duration.ofDays(1), Duration.ofHours(1), -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("card state front must be 0 (off) or more cards, got -1");
    }

    @Test
    void aNegativeWriteDelayIsRefused() {
        assertThatThrownBy(
                        () ->
                                new CardFeatureEnricher(
                                        Duration.ofDays(1),
                                        Duration.ofHours(1),
                                        10,
                                        Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "card state write delay must be zero (write at once) or positive, got"
                                + " PT-0.001S");
    }

    /**
     * What the state backend holds, against the front: a card seen for the first time in a while is
     * written at once; a card seen again within the write delay waits until that long after its
     * first unwritten change (its changes meanwhile cost no write), so a checkpoint's synchronous
     * phase has only those left to write.
     */
    @Test
    void aBusyCardIsWrittenTheWriteDelayAfterItsFirstUnwrittenChangeAnyOtherAtOnce()
            throws Exception {
        try (var h = harness(1000, Duration.ofSeconds(1), new EmbeddedRocksDBStateBackend())) {
            h.open();
            send(h, 0, "a");
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(1L, 0L, 0L);
            send(h, 300, "a"); // seen 300 ms ago: busy, waits until 1 300
            send(h, 600, "a");
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(1L, 0L, 0L);
            send(h, 900, "b");
            send(h, 1_299, "b"); // busy, waits until 2 299
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(1L, 1L, 0L);
            send(h, 1_300, "c");
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(3L, 1L, 1L);
            send(h, 5_000, "a"); // not seen for 3.7 s: at once
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(4L, 2L, 1L);
            send(h, 5_100, "c"); // seen 3.8 s ago: at once
            send(h, 5_200, "c"); // busy
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(4L, 2L, 2L);
            h.snapshot(1, 1);
            assertThat(countsInState(h, "a", "b", "c")).containsExactly(4L, 2L, 3L);
        }
    }

    @Test
    void aClockThatStepsBackMakesEveryWaitingCardDue() throws Exception {
        try (var h = harness(1000, Duration.ofSeconds(1), new EmbeddedRocksDBStateBackend())) {
            h.open();
            send(h, 5_000, "a");
            send(h, 5_100, "a"); // busy: would wait until 6 100
            assertThat(countsInState(h, "a")).containsExactly(1L);
            send(h, 1_000, "b"); // the clock stepped back 4.1 s
            assertThat(countsInState(h, "a", "b")).containsExactly(2L, 1L);
            send(h, 1_100, "a"); // seen "in the future": not busy, written at once
            assertThat(countsInState(h, "a")).containsExactly(3L);
        }
    }

    @Test
    void aZeroWriteDelayWritesEveryChangeAtOnce() throws Exception {
        try (var h = harness(1000, Duration.ZERO, new EmbeddedRocksDBStateBackend())) {
            h.open();
            for (int i = 1; i <= 5; i++) {
                send(h, i, "a");
                assertThat(countsInState(h, "a")).containsExactly((long) i);
            }
        }
    }

    private static int sent;

    private static void send(
            KeyedOneInputStreamOperatorTestHarness<String, SourcedTransaction, EnrichedTransaction>
                    h,
            long now,
            String card)
            throws Exception {
        h.setProcessingTime(now);
        SourcedTransaction t = in("w" + sent++, now / 1000, "DE");
        t.transaction.setCardId("card-" + card);
        h.processElement(t, 0);
    }

    /** Each card's transaction count as the state backend has it (0: nothing written yet). */
    private static List<Long> countsInState(
            KeyedOneInputStreamOperatorTestHarness<String, SourcedTransaction, EnrichedTransaction>
                    h,
            String... cards)
            throws Exception {
        java.lang.reflect.Field field = CardFeatureEnricher.class.getDeclaredField("history");
        field.setAccessible(true);
        @SuppressWarnings("unchecked")
        org.apache.flink.api.common.state.ValueState<CardHistory> state =
                (org.apache.flink.api.common.state.ValueState<CardHistory>)
                        field.get(h.getOperator());
        List<Long> counts = new ArrayList<>();
        for (String card : cards) {
            h.getOperator().setCurrentKey("card-" + card);
            CardHistory written = state.value();
            counts.add(written == null ? 0L : written.transactionCount);
        }
        return counts;
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
    void aResendIsRecognisedWithinTheDedupWindowOfArrivalWhateverItsEventTime() throws Exception {
        try (var h = harness()) {
            h.open();
            h.setProcessingTime(0);
            h.processElement(in("a", 0, "DE"), 0);
            h.processElement(in("b", 600, "DE"), 0); // ten hours later in event time
            h.setProcessingTime(Duration.ofMinutes(59).toMillis());
            h.processElement(in("a", 0, "DE"), 0); // arrived 59 min after the first: a re-send
            h.setProcessingTime(Duration.ofMinutes(61).toMillis());
            h.processElement(in("a", 0, "DE"), 0); // 61 min after: forgotten, counted as new
            List<EnrichedTransaction> out = h.extractOutputValues();
            assertThat(out.get(2).features).containsExactly(out.get(0).features);
            assertThat(out.get(3).features[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(2));
        }
    }

    @Test
    void aBusyCardsResendsAreRecognisedBeyondTheHistorysOwnListAcrossARestore() throws Exception {
        int n = 3 * CardHistory.MAX_SEEN;
        List<float[]> first = new ArrayList<>();
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            for (int i = 0; i < n; i++) {
                h.setProcessingTime(i * 1_000L);
                h.processElement(in("t" + i, i, "DE"), 0);
            }
            h.extractOutputValues().forEach(e -> first.add(e.features));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness()) {
            h.initializeState(snapshot);
            h.open();
            h.setProcessingTime(n * 1_000L);
            for (int i = 0; i < n; i++) {
                h.processElement(in("t" + i, i, "DE"), 0); // all re-sent, oldest first
            }
            h.processElement(in("new", n, "DE"), 0);
            List<EnrichedTransaction> out = h.extractOutputValues();
            for (int i = 0; i < n; i++) {
                assertThat(out.get(i).features).as("re-sent t%d", i).containsExactly(first.get(i));
            }
            assertThat(out.get(n).features[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(n));
            // An hour after the oldest arrived, it is forgotten: counted as new.
            h.setProcessingTime(Duration.ofHours(1).toMillis() + 500);
            h.processElement(in("t0", 0, "DE"), 0);
            assertThat(h.extractOutputValues().get(n + 1).features).isNotEqualTo(first.get(0));
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
