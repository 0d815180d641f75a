package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayDeque;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BisectingRetryPolicyTest {

    @Test
    void retriesTheWholeBatchWithDoublingBackoffThenSplitsIt() {
        BisectingRetryPolicy policy = new BisectingRetryPolicy(2, Duration.ofMillis(10));
        RowRange whole = RowRange.whole(8);

        assertThat(policy.onFailure(whole)).isEqualTo(BisectingRetryPolicy.Action.RETRY);
        assertThat(policy.backoffMillis(whole)).isEqualTo(10);
        assertThat(policy.onFailure(whole)).isEqualTo(BisectingRetryPolicy.Action.RETRY);
        assertThat(policy.backoffMillis(whole)).isEqualTo(20);
        assertThat(policy.onFailure(whole)).isEqualTo(BisectingRetryPolicy.Action.SPLIT);
    }

    @Test
    void halvesAreSplitAtOnceAndOnlySingleRowsAreRetried() {
        BisectingRetryPolicy policy = new BisectingRetryPolicy(2, Duration.ofMillis(10));
        RowRange[] halves = policy.halves(RowRange.whole(5));
        assertThat(halves[0].toString()).isEqualTo("[0, 2)");
        assertThat(halves[1].toString()).isEqualTo("[2, 5)");
        assertThat(policy.onFailure(halves[0])).isEqualTo(BisectingRetryPolicy.Action.SPLIT);

        RowRange[] rows = policy.halves(halves[0]);
        assertThat(rows[0].retriable).isTrue();
        assertThat(policy.onFailure(rows[0])).isEqualTo(BisectingRetryPolicy.Action.RETRY);
        assertThat(policy.onFailure(rows[0])).isEqualTo(BisectingRetryPolicy.Action.RETRY);
        assertThat(policy.onFailure(rows[0])).isEqualTo(BisectingRetryPolicy.Action.GIVE_UP);
    }

    @Test
    void withoutRetriesASingleRowIsGivenUpAtItsFirstFailure() {
        BisectingRetryPolicy policy = new BisectingRetryPolicy(0, Duration.ZERO);
        assertThat(policy.onFailure(RowRange.whole(1)))
                .isEqualTo(BisectingRetryPolicy.Action.GIVE_UP);
    }

    /**
     * Drives the policy as the operator does, against a model that fails every call holding the
     * poison row: one poison row in {@code n = 2^k} rows costs {@code 2 (1 + r) + 2k - 1} calls and
     * gives up exactly that row (a batch of one row is that row: {@code 1 + r} calls).
     */
    @ParameterizedTest
    @CsvSource({"64, 2, 17", "64, 0, 13", "8, 2, 11", "2, 1, 5", "1, 2, 3"})
    void onePoisonRowCostsTheDocumentedCallsAndNoNeighbour(int n, int retries, int calls) {
        BisectingRetryPolicy policy = new BisectingRetryPolicy(retries, Duration.ofMillis(1));
        int poison = n / 3;
        ArrayDeque<RowRange> work = new ArrayDeque<>();
        work.push(RowRange.whole(n));
        int made = 0;
        int scored = 0;
        int givenUp = -1;
        while (!work.isEmpty()) {
            RowRange range = work.pop();
            made++;
            if (poison < range.from || poison >= range.to) {
                scored += range.size();
                continue;
            }
            switch (policy.onFailure(range)) {
                case RETRY -> work.push(range);
                case SPLIT -> {
                    RowRange[] halves = policy.halves(range);
                    work.push(halves[1]);
                    work.push(halves[0]);
                }
                case GIVE_UP -> givenUp = range.from;
            }
        }
        assertThat(made).isEqualTo(calls);
        assertThat(givenUp).isEqualTo(poison);
        assertThat(scored).isEqualTo(n - 1);
    }
}
