package dev.streamscore.operators.features;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.serde.SourcedTransaction;
import dev.streamscore.schemas.Channel;
import java.time.Duration;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

class CardFeatureEnricherTest {

    private static KeyedOneInputStreamOperatorTestHarness<
                    String, SourcedTransaction, EnrichedTransaction>
            harness() throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(
                                new CardFeatureEnricher(Duration.ofDays(30), Duration.ofHours(1))),
                        t -> t.transaction.getCardId(),
                        Types.STRING);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
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
    void aResendAfterTheDedupWindowCountsAsNew() throws Exception {
        try (var h = harness()) {
            h.open();
            h.setStateTtlProcessingTime(0);
            h.processElement(in("a", 0, "DE"), 0);
            h.setStateTtlProcessingTime(Duration.ofHours(1).toMillis());
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
