package dev.streamscore.testkit.cardfraud;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CardFeaturesTest {

    static final Instant T0 = Instant.parse("2026-11-02T12:00:00Z");

    static Transaction txn(
            String id, Instant at, long amountMinor, String country, Channel channel) {
        return Transaction.newBuilder()
                .setTransactionId(id)
                .setCardId("card-1")
                .setMerchantId("m-1")
                .setMerchantCategory("5411")
                .setAmountMinor(amountMinor)
                .setCurrency("EUR")
                .setCountry(country)
                .setChannel(channel)
                .setCardPresent(channel != Channel.ECOM)
                .setEventTime(at)
                .build();
    }

    static int index(String name) {
        return CardFeatures.NAMES.indexOf(name);
    }

    @Test
    void aFirstTransactionHasNoHistory() {
        float[] f =
                CardFeatures.computeAndUpdate(
                        new CardHistory(), txn("a", T0, 10_000, "DE", Channel.POS));
        assertThat(f).hasSize(CardFeatures.COUNT);
        assertThat(f[index("amount_log")]).isEqualTo((float) Math.log1p(100.0));
        assertThat(f[index("txn_count_1h")]).isZero();
        assertThat(f[index("txn_count_24h")]).isZero();
        assertThat(f[index("secs_since_prev_log")]).isEqualTo(CardFeatures.NO_PREVIOUS_SECS_LOG);
        assertThat(f[index("country_changed")]).isZero();
        assertThat(f[index("foreign")]).isZero();
        assertThat(f[index("history_count_log")]).isZero();
        assertThat(f[index("hour_cos")]).isCloseTo(-1f, org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void windowsCountOnlyEarlierTransactionsWithinOneAndTwentyFourHours() {
        CardHistory h = new CardHistory();
        CardFeatures.computeAndUpdate(
                h, txn("a", T0.minus(Duration.ofHours(30)), 1_000, "DE", Channel.POS));
        CardFeatures.computeAndUpdate(
                h, txn("b", T0.minus(Duration.ofHours(5)), 2_000, "DE", Channel.POS));
        CardFeatures.computeAndUpdate(
                h, txn("c", T0.minus(Duration.ofMinutes(30)), 300, "DE", Channel.ECOM));
        float[] f = CardFeatures.computeAndUpdate(h, txn("d", T0, 5_000, "FR", Channel.ECOM));

        assertThat(f[index("txn_count_1h")]).isEqualTo(1f);
        assertThat(f[index("txn_count_24h")]).isEqualTo(2f);
        assertThat(f[index("amount_sum_1h_log")]).isEqualTo((float) Math.log1p(3.0));
        assertThat(f[index("amount_sum_24h_log")]).isEqualTo((float) Math.log1p(23.0));
        assertThat(f[index("small_ecom_count_1h")]).isEqualTo(1f);
        assertThat(f[index("secs_since_prev_log")]).isEqualTo((float) Math.log1p(1800));
        assertThat(f[index("country_changed")]).isEqualTo(1f);
        assertThat(f[index("foreign")]).isEqualTo(1f);
        assertThat(f[index("distinct_countries_24h")]).isEqualTo(1f);
        assertThat(f[index("history_count_log")]).isEqualTo((float) Math.log1p(3));
        double mean = (1_000 + 2_000 + 300) / 3.0;
        assertThat(f[index("amount_to_avg_log")])
                .isEqualTo((float) Math.log((5_000 + 100.0) / (mean + 100.0)));
        // The 30 h old transaction has left the state's window.
        assertThat(h.recentSize).isEqualTo(3);
    }

    @Test
    void aLateTransactionWithNothingRememberedBeforeItHasNoPrevious() {
        CardHistory h = new CardHistory();
        CardFeatures.computeAndUpdate(h, txn("newest", T0, 1_000, "DE", Channel.POS));
        float[] f =
                CardFeatures.computeAndUpdate(
                        h, txn("late", T0.minusSeconds(60), 1_000, "FR", Channel.POS));
        assertThat(f[index("txn_count_1h")]).isZero();
        assertThat(f[index("secs_since_prev_log")]).isEqualTo(CardFeatures.NO_PREVIOUS_SECS_LOG);
        assertThat(f[index("country_changed")]).isZero();
        assertThat(f[index("history_count_log")]).isEqualTo((float) Math.log1p(1));
    }

    @Test
    void aLateTransactionIsScoredAsOfItsOwnTimeAndNeverBecomesThePrevious() {
        CardHistory h = new CardHistory();
        CardFeatures.computeAndUpdate(h, txn("a", T0.minusSeconds(600), 1_000, "DE", Channel.POS));
        CardFeatures.computeAndUpdate(h, txn("b", T0, 1_000, "FR", Channel.POS));

        float[] late =
                CardFeatures.computeAndUpdate(
                        h, txn("late", T0.minusSeconds(300), 1_000, "NL", Channel.POS));
        // Its previous is "a", 300 s before it, in DE; "b" (after it) is not counted.
        assertThat(late[index("secs_since_prev_log")]).isEqualTo((float) Math.log1p(300));
        assertThat(late[index("country_changed")]).isEqualTo(1f);
        assertThat(late[index("txn_count_1h")]).isEqualTo(1f);

        float[] next =
                CardFeatures.computeAndUpdate(
                        h, txn("c", T0.plusSeconds(60), 1_000, "FR", Channel.POS));
        // The card's previous is still "b" (FR, 60 s before), but the late one is in its windows.
        assertThat(next[index("secs_since_prev_log")]).isEqualTo((float) Math.log1p(60));
        assertThat(next[index("country_changed")]).isZero();
        assertThat(next[index("txn_count_1h")]).isEqualTo(3f);
        assertThat(next[index("distinct_countries_24h")]).isEqualTo(3f);
        assertThat(h.recentTimes)
                .startsWith(
                        T0.minusSeconds(600).toEpochMilli(),
                        T0.minusSeconds(300).toEpochMilli(),
                        T0.toEpochMilli(),
                        T0.plusSeconds(60).toEpochMilli());
    }

    @Test
    void aTransactionOlderThanTheNewestsWindowCountsOnlyInTheTotals() {
        CardHistory h = new CardHistory();
        CardFeatures.computeAndUpdate(h, txn("newest", T0, 1_000, "DE", Channel.POS));
        CardFeatures.computeAndUpdate(
                h, txn("ancient", T0.minus(Duration.ofDays(3)), 1_000, "DE", Channel.POS));
        assertThat(h.recentSize).isEqualTo(1);
        assertThat(h.transactionCount).isEqualTo(2);
        assertThat(h.previousEventTime).isEqualTo(T0.toEpochMilli());
    }

    @Test
    void keepsAtMostMaxRecentTransactions() {
        CardHistory h = new CardHistory();
        for (int i = 0; i < CardHistory.MAX_RECENT + 50; i++) {
            CardFeatures.computeAndUpdate(
                    h, txn("t" + i, T0.plusSeconds(i), 100, "DE", Channel.ECOM));
        }
        assertThat(h.recentSize).isEqualTo(CardHistory.MAX_RECENT);
        assertThat(h.recentTimes[0]).isEqualTo(T0.plusSeconds(50).toEpochMilli());
        assertThat(h.transactionCount).isEqualTo(CardHistory.MAX_RECENT + 50);
    }

    @Test
    void sameHistoryAndTransactionGiveTheSameVector() {
        CardHistory a = new CardHistory();
        CardHistory b = new CardHistory();
        for (int i = 0; i < 5; i++) {
            Transaction t =
                    txn(
                            "t" + i,
                            T0.plusSeconds(600L * i),
                            1_000 + i,
                            i % 2 == 0 ? "DE" : "NL",
                            Channel.POS);
            assertThat(CardFeatures.computeAndUpdate(a, t))
                    .containsExactly(CardFeatures.computeAndUpdate(b, t));
        }
    }
}
