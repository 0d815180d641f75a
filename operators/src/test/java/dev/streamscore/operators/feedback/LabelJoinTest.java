package dev.streamscore.operators.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.LabelSource;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.ModelRole;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * The join of scores and later labels, on RocksDB: each labelled score once, whatever the order.
 */
class LabelJoinTest {

    private static final Duration HORIZON = Duration.ofDays(90);

    static KeyedTwoInputStreamOperatorTestHarness<String, ScoreForLabel, FraudLabel, LabelledScore>
            harness(OperatorSubtaskState state) throws Exception {
        var h =
                new KeyedTwoInputStreamOperatorTestHarness<>(
                        new KeyedCoProcessOperator<>(new LabelJoin(HORIZON)),
                        (ScoreForLabel s) -> s.transactionId,
                        FraudLabel::getTransactionId,
                        Types.STRING);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        h.setup();
        if (state != null) {
            h.initializeState(state);
        }
        h.open();
        return h;
    }

    static ScoreForLabel score(String id, ModelRole role, double score) {
        return new ScoreForLabel(
                id,
                role,
                role == ModelRole.CHAMPION ? "fraud-gbdt" : "fraud-mlp",
                "2.0.0",
                score,
                score >= 0.5 ? Decision.DECLINE : Decision.APPROVE);
    }

    static FraudLabel label(String id, LabelValue value) {
        return FraudLabel.newBuilder()
                .setTransactionId(id)
                .setLabel(value)
                .setSource(LabelSource.CHARGEBACK)
                .setLabelledAt(Instant.parse("2026-12-01T00:00:00Z"))
                .build();
    }

    @Test
    void aScoreThenItsLabelAndALabelThenItsScoreEachGiveOneLabelledScore() throws Exception {
        try (var h = harness(null)) {
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0);
            assertThat(h.extractOutputValues()).isEmpty();
            h.processElement2(label("a", LabelValue.FRAUD), 0);
            h.processElement2(label("b", LabelValue.GENUINE), 0);
            h.processElement1(score("b", ModelRole.CHAMPION, 0.1), 0);
            List<LabelledScore> out = h.extractOutputValues();
            assertThat(out).hasSize(2);
            assertThat(out.get(0).fraud).isTrue();
            assertThat(out.get(0).score).isEqualTo(0.9);
            assertThat(out.get(0).decision).isEqualTo(Decision.DECLINE);
            assertThat(out.get(0).qualityKey()).isEqualTo("CHAMPION|fraud-gbdt|2.0.0");
            assertThat(out.get(1).fraud).isFalse();
            assertThat(out.get(1).score).isEqualTo(0.1);
        }
    }

    @Test
    void theChampionsAndTheChallengersScoresAreEachLabelledOnceWhicheverComesFirst()
            throws Exception {
        try (var h = harness(null)) {
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0);
            h.processElement2(label("a", LabelValue.FRAUD), 0);
            h.processElement1(score("a", ModelRole.CHALLENGER, 0.7), 0);
            h.processElement1(score("b", ModelRole.CHALLENGER, 0.2), 0);
            h.processElement1(score("b", ModelRole.CHAMPION, 0.3), 0);
            h.processElement2(label("b", LabelValue.GENUINE), 0);
            List<LabelledScore> out = h.extractOutputValues();
            assertThat(out)
                    .extracting(LabelledScore::qualityKey)
                    .containsExactly(
                            "CHAMPION|fraud-gbdt|2.0.0",
                            "CHALLENGER|fraud-mlp|2.0.0",
                            "CHAMPION|fraud-gbdt|2.0.0",
                            "CHALLENGER|fraud-mlp|2.0.0");
            assertThat(out).extracting(s -> s.fraud).containsExactly(true, true, false, false);
        }
    }

    @Test
    void aRepeatedLabelOrScoreIsNeverCountedTwice() throws Exception {
        try (var h = harness(null)) {
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0);
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0); // a replay: replaces
            h.processElement2(label("a", LabelValue.FRAUD), 0);
            h.processElement2(label("a", LabelValue.GENUINE), 0); // a second verdict: ignored
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0); // a replay after: ignored
            assertThat(h.extractOutputValues()).hasSize(1);
            assertThat(h.extractOutputValues().get(0).fraud).isTrue();
        }
    }

    @Test
    void whatWaitsSurvivesARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(null)) {
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0);
            h.processElement2(label("b", LabelValue.GENUINE), 0);
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(snapshot)) {
            h.processElement2(label("a", LabelValue.FRAUD), 0);
            h.processElement1(score("b", ModelRole.CHAMPION, 0.1), 0);
            assertThat(h.extractOutputValues())
                    .extracting(s -> s.fraud)
                    .containsExactly(true, false);
        }
    }

    @Test
    void aScoreWhoseLabelComesAfterTheHorizonIsForgotten() throws Exception {
        try (var h = harness(null)) {
            h.setStateTtlProcessingTime(0);
            h.processElement1(score("a", ModelRole.CHAMPION, 0.9), 0);
            h.processElement1(score("b", ModelRole.CHAMPION, 0.9), 0);
            h.setStateTtlProcessingTime(HORIZON.toMillis() - 1);
            h.processElement2(label("b", LabelValue.FRAUD), 0); // just in time
            h.setStateTtlProcessingTime(HORIZON.toMillis() + 1);
            h.processElement2(label("a", LabelValue.FRAUD), 0); // too late
            assertThat(h.extractOutputValues()).hasSize(1);
        }
    }

    /**
     * What one transaction waiting for its label costs in a full RocksDB snapshot: printed for the
     * README, and held under a bound that only a change of the state's format would cross.
     */
    @Test
    void aPendingTransactionCostsLessThan120BytesOfState() throws Exception {
        int n = 20_000;
        long empty;
        long full;
        try (var h = harness(null)) {
            empty = h.snapshot(1, 1).getStateSize();
        }
        try (var h = harness(null)) {
            java.util.SplittableRandom random = new java.util.SplittableRandom(1);
            for (int i = 0; i < n; i++) {
                // Random UUIDs: ids as long as producers are likely to use, and incompressible.
                String id = new java.util.UUID(random.nextLong(), random.nextLong()).toString();
                h.processElement1(score(id, ModelRole.CHAMPION, i / (double) n), 0);
            }
            full = h.snapshot(1, 1).getStateSize();
        }
        double perTransaction = (full - empty) / (double) n;
        System.out.printf(
                "label join state: %.1f bytes per pending transaction (%d in %d bytes)%n",
                perTransaction, n, full - empty);
        assertThat(perTransaction).isLessThan(120);
    }
}
