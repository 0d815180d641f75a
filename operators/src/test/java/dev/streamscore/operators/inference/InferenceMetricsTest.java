package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.batching.BatchingMetrics;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class InferenceMetricsTest {

    @Test
    void reportsTheQueueTimeOfEveryRowTheCallTimePerRowAndTheModelAndProviderInUse()
            throws Exception {
        AtomicLong clock = new AtomicLong(1_000_000_000L);
        ScriptedScorer model = new ScriptedScorer().taking(clock, rows -> 40_000L * rows);
        try (var h =
                harness(
                        new BatchingInferenceOperator(
                                settings(LINEAR_V1, 4),
                                model.factory(settings(LINEAR_V1, 4)),
                                clock::get),
                        null)) {
            for (int i = 0; i < 4; i++) { // 100 us apart; the 4th closes the batch
                h.processElement(txn(i, 4), i);
                clock.addAndGet(i < 3 ? 100_000 : 0);
            }
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 4);

            BatchingMetrics metrics = operator(h).metrics();
            assertThat(metrics.queueTimeMicros.getStatistics().getValues())
                    .containsExactlyInAnyOrder(300, 200, 100, 0);
            assertThat(metrics.inferenceTimeMicros.getStatistics().getValues())
                    .containsExactly(160);
            assertThat(metrics.inferenceTimePerRowNanos.getStatistics().getValues())
                    .containsExactly(40_000);
            assertThat(metrics.modelVersion.getValue()).isEqualTo("fixture-linear:1");
            assertThat(metrics.executionProvider.getValue()).isEqualTo("cpu");
        }
    }
}
