package dev.streamscore.operators.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.ModelQuality;
import dev.streamscore.schemas.ModelRole;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/** Quality per model version over its most recent labelled scores, written every interval. */
class ModelQualityFunctionTest {

    private static final int WINDOW = 100;

    static KeyedOneInputStreamOperatorTestHarness<String, LabelledScore, ModelQuality> harness(
            OperatorSubtaskState state) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(
                                new ModelQualityFunction(WINDOW, Duration.ofSeconds(1))),
                        LabelledScore::qualityKey,
                        Types.STRING);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        h.setup();
        if (state != null) {
            h.initializeState(state);
        }
        h.open();
        return h;
    }

    static LabelledScore labelled(ModelRole role, String version, double score, boolean fraud) {
        LabelledScore s =
                new LabelledScore(
                        new ScoreForLabel(
                                "t",
                                role,
                                "fraud-gbdt",
                                version,
                                score,
                                score >= 0.8
                                        ? Decision.DECLINE
                                        : score >= 0.4 ? Decision.REVIEW : Decision.APPROVE),
                        fraud);
        return s;
    }

    @Test
    void eachIntervalWritesTheStatisticsOfTheMostRecentWindowPerModelVersion() throws Exception {
        SplittableRandom random = new SplittableRandom(4);
        List<LabelledScore> champion = new ArrayList<>();
        try (var h = harness(null)) {
            h.setProcessingTime(0);
            for (int i = 0; i < 250; i++) {
                boolean fraud = random.nextInt(8) == 0;
                LabelledScore s =
                        labelled(
                                ModelRole.CHAMPION,
                                "2",
                                random.nextDouble() * (fraud ? 1 : 0.7),
                                fraud);
                champion.add(s);
                h.processElement(s, i);
                if (i % 5 == 0) {
                    h.processElement(labelled(ModelRole.CHALLENGER, "3", 0.9, true), i);
                }
            }
            assertThat(h.extractOutputValues()).isEmpty();
            h.setProcessingTime(1000);
            List<ModelQuality> out = h.extractOutputValues();
            assertThat(out).hasSize(2);
            ModelQuality c =
                    out.stream().filter(q -> q.getRole() == ModelRole.CHAMPION).findFirst().get();
            long[] last = new long[WINDOW];
            for (int i = 0; i < WINDOW; i++) {
                LabelledScore s = champion.get(250 - WINDOW + i);
                last[i] = QualityStats.pack(s.score, s.decision, s.fraud);
            }
            QualityStats expected = QualityStats.of(last, WINDOW);
            assertThat(c.getModelName()).isEqualTo("fraud-gbdt");
            assertThat(c.getModelVersion()).isEqualTo("2");
            assertThat(c.getLabelled()).isEqualTo(WINDOW);
            assertThat(c.getLabelledTotal()).isEqualTo(250);
            assertThat(c.getWindow()).isEqualTo(WINDOW);
            assertThat(c.getFrauds()).isEqualTo(expected.positives());
            assertThat(c.getFlagged()).isEqualTo(expected.flagged());
            assertThat(c.getPrecisionAtReview()).isEqualTo(expected.precisionAtReview());
            assertThat(c.getRecallAtReview()).isEqualTo(expected.recallAtReview());
            assertThat(c.getPrecisionAtDecline()).isEqualTo(expected.precisionAtDecline());
            assertThat(c.getRecallAtDecline()).isEqualTo(expected.recallAtDecline());
            assertThat(c.getPrAuc()).isEqualTo(expected.prAuc());
            assertThat(c.getAt().toEpochMilli()).isEqualTo(1000);

            ModelQuality d =
                    out.stream().filter(q -> q.getRole() == ModelRole.CHALLENGER).findFirst().get();
            assertThat(d.getModelVersion()).isEqualTo("3");
            assertThat(d.getLabelled()).isEqualTo(50);
            assertThat(d.getRecallAtDecline()).isEqualTo(1.0);
            assertThat(d.getPrecisionAtReview()).isEqualTo(1.0);

            // Nothing new, nothing written; a new label starts the next interval.
            h.setProcessingTime(5000);
            assertThat(h.extractOutputValues()).hasSize(2);
            h.processElement(labelled(ModelRole.CHAMPION, "2", 0.9, true), 0);
            h.setProcessingTime(6000);
            assertThat(h.extractOutputValues()).hasSize(3);
            assertThat(h.extractOutputValues().get(2).getLabelledTotal()).isEqualTo(251);
        }
    }

    @Test
    void theWindowAndTheTimerSurviveARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(null)) {
            h.setProcessingTime(0);
            for (int i = 0; i < 30; i++) {
                h.processElement(labelled(ModelRole.CHAMPION, "2", i / 30.0, i % 3 == 0), i);
            }
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(snapshot)) {
            h.setProcessingTime(1000);
            assertThat(h.extractOutputValues()).hasSize(1);
            assertThat(h.extractOutputValues().get(0).getLabelled()).isEqualTo(30);
            assertThat(h.extractOutputValues().get(0).getFrauds()).isEqualTo(10);
        }
    }
}
