package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.batching.TestScorers.SumScorer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.runtime.tasks.TestProcessingTimeService;
import org.junit.jupiter.api.Test;

class BatchAssemblerTest {

    private final TestProcessingTimeService timers = new TestProcessingTimeService();
    private final SumScorer model = new SumScorer("1", 1, 1f);
    private final ModelHolder models = new ModelHolder(model);
    private final List<Batch> deadlines = new ArrayList<>();

    private BatchAssembler assembler(BatchingSettings settings) {
        return new BatchAssembler(settings, models, timers, deadlines::add);
    }

    private static BatchingSettings settings(int maxBatchSize, long maxWaitMillis) {
        return BatchingSettings.DEFAULTS.toBuilder()
                .maxBatchSize(maxBatchSize)
                .maxWait(Duration.ofMillis(maxWaitMillis))
                .build();
    }

    private static PendingRow row(long arrivalNanos) {
        return new PendingRow(null, "k", new float[] {1f}, 0, arrivalNanos);
    }

    @Test
    void aBatchClosesWhenItHoldsMaxBatchSizeRowsAndTheNextRowOpensAnother() throws Exception {
        BatchAssembler assembler = assembler(settings(3, 10));
        assertThat(assembler.add(row(0))).isFalse();
        assertThat(assembler.add(row(1))).isFalse();
        assertThat(assembler.add(row(2))).isTrue();

        Batch full = assembler.take();
        assertThat(full.size).isEqualTo(3);
        assertThat(full.scorer).isSameAs(model);
        assertThat(assembler.take()).as("nothing open after a take").isNull();

        assembler.add(row(3));
        Batch next = assembler.take();
        assertThat(next.id).isEqualTo(full.id + 1);
        assertThat(next.size).isEqualTo(1);
    }

    @Test
    void aPartialBatchReportsItsDeadlineWhenItsOldestRowWaitedMaxWait() throws Exception {
        BatchAssembler assembler = assembler(settings(8, 10));
        timers.setCurrentTime(100);
        assembler.add(row(0));
        timers.setCurrentTime(105);
        assembler.add(row(1));

        timers.setCurrentTime(109);
        assertThat(deadlines).isEmpty();
        timers.setCurrentTime(110);
        assertThat(deadlines).hasSize(1);
        assertThat(deadlines.get(0).size).isEqualTo(2);
    }

    @Test
    void aTakenBatchCancelsItsDeadline() throws Exception {
        BatchAssembler assembler = assembler(settings(8, 10));
        assembler.add(row(0));
        assembler.take();
        timers.setCurrentTime(1_000);
        assertThat(deadlines).isEmpty();
        assertThat(timers.getNumActiveTimers()).isZero();
    }

    @Test
    void batchesOfOneRowNeedNoTimer() {
        BatchAssembler assembler = assembler(settings(1, 10));
        assertThat(assembler.add(row(0))).isTrue();
        assertThat(timers.getNumActiveTimers()).isZero();
    }

    @Test
    void aBatchHoldsTheModelItOpenedWith() throws Exception {
        BatchAssembler assembler = assembler(settings(8, 10));
        assembler.add(row(0));
        SumScorer v2 = new SumScorer("2", 1, 2f);
        models.replace(v2);

        assertThat(assembler.openModel()).isSameAs(model);
        Batch batch = assembler.take();
        assertThat(batch.scorer).isSameAs(model);
        models.release(batch.scorer);
        assertThat(model.closed).isTrue();
    }

    @Test
    void withALatencyTargetTheSizerChoosesTheNextBatchFromMeasuredCallsAndArrivals() {
        BatchingSettings adaptive =
                settings(64, 10).toBuilder().latencyTarget(Duration.ofMillis(1)).build();
        BatchAssembler assembler = assembler(adaptive);
        assertThat(assembler.chosenBatchSize()).isEqualTo(64); // nothing measured yet
        long us = 1_000;
        for (int i = 0; i < 20; i++) { // rows 100 us apart
            assembler.add(row(i * 100 * us));
        }
        assembler.take();
        assembler.onCall(8, 200 * us); // ~200 us per call

        assembler.add(row(2_000 * us));

        // (b - 1) * 100 us + 200 us <= 1 ms: b = 9; it may wait 1 ms - 200 us.
        assertThat(assembler.chosenBatchSize()).isEqualTo(9);
        assertThat(assembler.chosenWaitNanos()).isEqualTo(800 * us);
    }
}
