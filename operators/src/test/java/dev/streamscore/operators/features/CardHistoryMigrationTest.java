package dev.streamscore.operators.features;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.serde.SourcedTransaction;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OperatorSnapshotUtil;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A savepoint written before {@link CardHistorySerializer}, when Flink's POJO serializer wrote the
 * card history and a separate map state held the re-send check, restores into today's enricher on
 * either state backend: every card goes on exactly as if the job had never stopped.
 *
 * <p>{@code src/test/resources/features/card-history-pojo-savepoint} was written by commit 6f98ea5
 * (the last with the POJO format) from {@link #before()}, in a canonical savepoint of RocksDB,
 * with:
 *
 * <pre>{@code
 * var h =
 * new KeyedOneInputStreamOperatorTestHarness<>(
 * new KeyedProcessOperator<>(
 * new CardFeatureEnricher(Duration.ofDays(30), Duration.ofHours(1))),
 * (SourcedTransaction t) -> t.transaction.getCardId(),
 * Types.STRING);
 * h.setStateBackend(new EmbeddedRocksDBStateBackend());
 * h.open();
 * for (SourcedTransaction t : before()) {
 * h.processElement(t, 0);
 * }
 * OperatorSubtaskState s =
 * h.snapshotWithLocalState(
 * 1, 1, SavepointType.savepoint(SavepointFormatType.CANONICAL))
 * .getJobManagerOwnedState();
 * OperatorSnapshotUtil.writeStateHandle(s, path);
 * }</pre>
 *
 * <p>What does not carry over: the old re-send check's map. A re-send, after the upgrade, of a
 * transaction scored before it counts as a new transaction (the map's entries expire with its one
 * hour window; the savepoint's copy of them is never read again).
 */
class CardHistoryMigrationTest {

    private static final String SAVEPOINT = "features/card-history-pojo-savepoint";

    /** What the savepoint holds: 40 transactions of three cards over 11 hours. */
    static List<SourcedTransaction> before() {
        Instant t0 = Instant.parse("2026-11-02T12:00:00Z");
        List<SourcedTransaction> out = new ArrayList<>();
        String[] countries = {"DE", "DE", "FR", "DE", "NL"};
        Channel[] channels = {Channel.POS, Channel.ECOM, Channel.ATM};
        for (int i = 0; i < 40; i++) {
            String card = "card-" + (i % 3);
            Transaction t =
                    Transaction.newBuilder()
                            .setTransactionId("t" + i)
                            .setCardId(card)
                            .setMerchantId("m-" + (i % 4))
                            .setMerchantCategory(i % 7 == 0 ? "5967" : "5411")
                            .setAmountMinor(i % 5 == 1 ? 199 : 1_000 + 137L * i)
                            .setCurrency("EUR")
                            .setCountry(countries[i % countries.length])
                            .setChannel(channels[i % channels.length])
                            .setCardPresent(channels[i % channels.length] != Channel.ECOM)
                            .setEventTime(t0.plus(Duration.ofMinutes(17L * i)))
                            .build();
            out.add(new SourcedTransaction(t, "transactions", 0, i));
        }
        return out;
    }

    /** One more transaction per card, 20 minutes after the last of {@link #before()}. */
    static List<SourcedTransaction> after() {
        Instant last = before().get(before().size() - 1).transaction.getEventTime();
        List<SourcedTransaction> out = new ArrayList<>();
        for (int c = 0; c < 3; c++) {
            Transaction t =
                    Transaction.newBuilder()
                            .setTransactionId("after-" + c)
                            .setCardId("card-" + c)
                            .setMerchantId("m-9")
                            .setMerchantCategory("5411")
                            .setAmountMinor(4_200 + c)
                            .setCurrency("EUR")
                            .setCountry(c == 1 ? "FR" : "DE")
                            .setChannel(Channel.ECOM)
                            .setCardPresent(false)
                            .setEventTime(last.plus(Duration.ofMinutes(20 + c)))
                            .build();
            out.add(new SourcedTransaction(t, "transactions", 0, 100 + c));
        }
        return out;
    }

    static Stream<StateBackend> backends() {
        return Stream.of(new EmbeddedRocksDBStateBackend(), new HashMapStateBackend());
    }

    private static KeyedOneInputStreamOperatorTestHarness<
                    String, SourcedTransaction, EnrichedTransaction>
            harness(StateBackend backend) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new CardFeatureEnricher(Duration.ofDays(30), Duration.ofHours(1)),
                        (SourcedTransaction t) -> t.transaction.getCardId(),
                        Types.STRING);
        h.setStateBackend(backend);
        return h;
    }

    @ParameterizedTest
    @MethodSource("backends")
    void aSavepointOfThePojoFormatRestoresAndEveryCardGoesOn(StateBackend backend)
            throws Exception {
        List<float[]> expected = new ArrayList<>();
        try (var h = harness(backend)) {
            h.open();
            for (SourcedTransaction t : before()) {
                h.processElement(t, 0);
            }
            int skip = h.extractOutputValues().size();
            for (SourcedTransaction t : after()) {
                h.processElement(t, 0);
            }
            h.extractOutputValues().stream().skip(skip).forEach(e -> expected.add(e.features));
        }

        OperatorSubtaskState legacy =
                OperatorSnapshotUtil.readStateHandle(
                        CardHistoryMigrationTest.class
                                .getClassLoader()
                                .getResource(SAVEPOINT)
                                .getPath());
        OperatorSubtaskState migrated;
        try (var h = harness(backend)) {
            h.initializeState(legacy);
            h.open();
            for (SourcedTransaction t : after()) {
                h.processElement(t, 0);
            }
            List<EnrichedTransaction> out = h.extractOutputValues();
            assertThat(out).hasSize(expected.size());
            for (int i = 0; i < out.size(); i++) {
                assertThat(out.get(i).features).containsExactly(expected.get(i));
            }
            // Before the second transaction a card had, its history said it was new.
            assertThat(out.get(0).features[CardFeaturesTest.index("history_count_log")])
                    .isEqualTo((float) Math.log1p(14));
            migrated = h.snapshot(2, 2);
        }

        // What the migrated job writes restores again, in the new format.
        try (var h = harness(backend)) {
            h.initializeState(migrated);
            h.open();
            h.processElement(after().get(0), 0); // a re-send after the restore
            assertThat(h.extractOutputValues().get(0).features).containsExactly(expected.get(0));
        }
    }
}
