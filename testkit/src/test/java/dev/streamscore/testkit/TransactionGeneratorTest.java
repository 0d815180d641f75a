package dev.streamscore.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.generator.Difficulty;
import dev.streamscore.testkit.generator.FraudPattern;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TransactionGeneratorTest {

    private static List<GeneratedTransaction> take(TransactionGenerator.Settings settings, int n) {
        TransactionGenerator g = new TransactionGenerator(settings);
        List<GeneratedTransaction> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(g.next());
        }
        return out;
    }

    @Test
    void theSameSeedGivesTheSameTransactions() {
        var settings = TransactionGenerator.Settings.defaults(3).withDuplicateRate(0.01);
        assertThat(take(settings, 5_000)).isEqualTo(take(settings, 5_000));
        assertThat(take(TransactionGenerator.Settings.defaults(4), 100))
                .isNotEqualTo(take(TransactionGenerator.Settings.defaults(3), 100));
    }

    @Test
    void everyTransactionIsValidAndInEventTimeOrder() {
        long previous = Long.MIN_VALUE;
        for (GeneratedTransaction g : take(TransactionGenerator.Settings.defaults(5), 20_000)) {
            assertThat(problemWith(g.transaction())).isNull();
            long t = g.transaction().getEventTime().toEpochMilli();
            if (!g.duplicate()) {
                assertThat(t).isGreaterThanOrEqualTo(previous);
                previous = t;
            }
        }
    }

    @Test
    void fraudHoldsItsRateAndUsesEveryPattern() {
        var all = take(TransactionGenerator.Settings.defaults(6).withFraudRate(0.01), 100_000);
        Map<FraudPattern, Integer> counts = new EnumMap<>(FraudPattern.class);
        all.forEach(g -> counts.merge(g.pattern(), 1, Integer::sum));
        int fraud = all.size() - counts.get(FraudPattern.NONE);
        assertThat(fraud / (double) all.size()).isBetween(0.009, 0.011);
        assertThat(counts)
                .containsKeys(
                        FraudPattern.CARD_TESTING,
                        FraudPattern.ACCOUNT_TAKEOVER,
                        FraudPattern.MERCHANT_COMPROMISE);
    }

    @Test
    void easyLabelsAreTheTruth() {
        for (GeneratedTransaction g : take(TransactionGenerator.Settings.defaults(8), 50_000)) {
            assertThat(g.labelledFraud()).isEqualTo(g.pattern().isFraud());
        }
    }

    @Test
    void realisticLabelsAreAsNoisyAsDocumented() {
        var settings =
                TransactionGenerator.Settings.defaults(9)
                        .withFraudRate(0.01)
                        .withDifficulty(Difficulty.REALISTIC);
        List<GeneratedTransaction> all = take(settings, 300_000);
        assertThat(take(settings, 2_000)).isEqualTo(all.subList(0, 2_000));
        int fraud = 0, unreported = 0, genuine = 0, disputed = 0;
        for (GeneratedTransaction g : all) {
            assertThat(problemWith(g.transaction())).isNull();
            if (g.pattern().isFraud()) {
                fraud++;
                unreported += g.labelledFraud() ? 0 : 1;
            } else {
                genuine++;
                disputed += g.labelledFraud() ? 1 : 0;
            }
        }
        // About 3 000 frauds: 8% unreported is 240 +- 15; 0.04% of 297 000 disputes is 119 +- 11.
        assertThat(unreported / (double) fraud).isBetween(0.065, 0.095);
        assertThat(disputed / (double) genuine).isBetween(0.0003, 0.0005);
    }

    @Test
    void realisticFraudLooksMoreLikeTheCardsOwnSpending() {
        int count1h = CardFeatures.NAMES.indexOf("txn_count_1h");
        int foreign = CardFeatures.NAMES.indexOf("foreign");
        double[] easy = fraudMeans(Difficulty.EASY, count1h, foreign);
        double[] realistic = fraudMeans(Difficulty.REALISTIC, count1h, foreign);
        // Slow card testing and quiet takeovers are spread over hours, at home.
        assertThat(realistic[0]).isLessThan(easy[0] * 0.9);
        assertThat(realistic[1]).isLessThan(easy[1] * 0.9);
    }

    private static double[] fraudMeans(Difficulty difficulty, int... columns) {
        var settings =
                TransactionGenerator.Settings.defaults(10)
                        .withFraudRate(0.02)
                        .withDifficulty(difficulty);
        TransactionGenerator g = new TransactionGenerator(settings);
        FeatureRows rows = new FeatureRows();
        double[] sums = new double[columns.length];
        int n = 0;
        for (int i = 0; i < 100_000; i++) {
            GeneratedTransaction t = g.next();
            float[] f = rows.next(t.transaction());
            if (t.pattern().isFraud()) {
                n++;
                for (int c = 0; c < columns.length; c++) {
                    sums[c] += f[columns[c]];
                }
            }
        }
        for (int c = 0; c < columns.length; c++) {
            sums[c] /= n;
        }
        return sums;
    }

    @Test
    void duplicatesRepeatAnEarlierTransactionExactly() {
        var all = take(TransactionGenerator.Settings.defaults(8).withDuplicateRate(0.05), 20_000);
        Set<Object> seen = new HashSet<>();
        int duplicates = 0;
        for (GeneratedTransaction g : all) {
            if (g.duplicate()) {
                duplicates++;
                assertThat(seen).contains(g.transaction());
            } else {
                assertThat(seen.add(g.transaction())).isTrue();
            }
        }
        assertThat(duplicates / (double) all.size()).isBetween(0.04, 0.06);
    }

    @Test
    void rejectsSettingsOutOfRange() {
        assertThatThrownBy(() -> TransactionGenerator.Settings.defaults(1).withFraudRate(0.7))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("fraud rate must be in [0, 0.5], got 0.7");
    }

    private static final dev.streamscore.schemas.serde.SingleObjectCodec<
                    dev.streamscore.schemas.Transaction>
            CODEC =
                    dev.streamscore.schemas.serde.SingleObjectCodec.of(
                            dev.streamscore.schemas.Transaction.class);

    private static dev.streamscore.pipeline.Pipeline.Compiled cardFraud;
    private static dev.streamscore.pipeline.events.AvroEvents events;

    /**
     * What the bundled card-fraud pipeline's checks say of {@code txn} (null: it passes them), and
     * whether its id, card and time are what the job accepts.
     */
    private static String problemWith(dev.streamscore.schemas.Transaction txn) {
        try {
            if (cardFraud == null) {
                var p =
                        dev.streamscore.pipeline.Pipeline.of(
                                dev.streamscore.pipeline.PipelineDefinition.read(
                                        dev.streamscore.pipeline.PipelineDefinition.DEFAULT));
                cardFraud = p.newEngine(1);
                events = new dev.streamscore.pipeline.events.AvroEvents(p.inputSchema());
            }
            cardFraud.fields().load(events.decodeMessage(CODEC.encode(txn)), cardFraud.vars());
            cardFraud.engine().check();
        } catch (Exception e) {
            return e.getMessage();
        }
        long t = txn.getEventTime().toEpochMilli();
        if (t < dev.streamscore.operators.serde.EventDecoder.EARLIEST.toEpochMilli()
                || t > System.currentTimeMillis()) {
            return "event_time " + txn.getEventTime();
        }
        if (txn.getTransactionId().isBlank() || txn.getCardId().isBlank()) {
            return "an empty id or card";
        }
        return null;
    }
}
