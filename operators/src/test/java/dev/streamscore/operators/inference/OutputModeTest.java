package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.batching.OutputMode;
import dev.streamscore.operators.inference.ScriptedScorer.Step;
import dev.streamscore.operators.serde.PipelineEvent;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Ordered and unordered output, with a first batch held in its model call (a scripted hang) while a
 * cache hit and a second batch complete.
 */
class OutputModeTest {

    /** Card and vector of the cache entry each test primes first. */
    private static final String HIT_CARD = "card-h";

    private static final int HIT_ROW = 99;

    @Test
    void unorderedEmitsACacheHitAtOnceAndALaterBatchThatFinishesFirst() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.SCORE, Step.HANG, Step.SCORE);
        try (var h = harness(scripted(OutputMode.UNORDERED, model), null)) {
            primeCache(h);
            h.processElement(txn(0, 4), 10); // batch A: hangs
            h.processElement(txn(1, 4), 11);
            awaitBatchAHanging(h, model);
            h.processElement(hit(), 12);
            h.processElement(txn(2, 4), 13); // batch B: scored
            h.processElement(txn(3, 4), 14);
            runMailboxUntil(h, () -> operator(h).callsAwaited() == 1);

            assertThat(ids(h)).containsExactly("prime", "hit", "t2", "t3");
            model.release();
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 6);
            assertThat(ids(h)).containsExactly("prime", "hit", "t2", "t3", "t0", "t1");
            assertThat(h.extractOutputValues().get(1).getCacheHit()).isTrue();
        }
    }

    @Test
    void orderedHoldsACacheHitAndALaterBatchBehindAnEarlierBatchStillScoring() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.SCORE, Step.HANG, Step.SCORE);
        try (var h = harness(scripted(OutputMode.ORDERED, model), null)) {
            primeCache(h);
            h.processElement(txn(0, 4), 10);
            h.processElement(txn(1, 4), 11);
            awaitBatchAHanging(h, model);
            h.processElement(hit(), 12);
            h.processElement(txn(2, 4), 13);
            h.processElement(txn(3, 4), 14);
            runMailboxUntil(h, () -> operator(h).callsAwaited() == 1);

            assertThat(ids(h)).containsExactly("prime");
            model.release();
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 6);
            assertThat(ids(h)).containsExactly("prime", "t0", "t1", "hit", "t2", "t3");
            assertThat(h.extractOutputValues().get(3).getCacheHit()).isTrue();
            // Timestamps travel with their records whatever the order.
            assertThat(h.extractOutputStreamRecords())
                    .extracting(StreamRecord::getTimestamp)
                    .containsExactly(1L, 10L, 11L, 12L, 13L, 14L);
        }
    }

    @ParameterizedTest
    @EnumSource(OutputMode.class)
    void neitherAWatermarkNorAResultOvertakesTheOther(OutputMode mode) throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.SCORE, Step.HANG, Step.SCORE);
        try (var h = harness(scripted(mode, model), null)) {
            primeCache(h);
            h.processElement(txn(0, 4), 10); // batch A: hangs
            h.processElement(txn(1, 4), 11);
            awaitBatchAHanging(h, model);
            h.processWatermark(12);
            h.processElement(hit(), 13); // done at once, but after the watermark
            h.processElement(txn(2, 4), 14); // batch B: scored, but after the watermark
            h.processElement(txn(3, 4), 15);
            runMailboxUntil(h, () -> operator(h).callsAwaited() == 1);

            assertThat(h.getOutput()).hasSize(1); // the primed score
            model.release();
            runMailboxUntil(h, () -> h.getOutput().size() == 7);

            List<Object> out = List.copyOf(h.getOutput());
            assertThat(out.get(3)).isEqualTo(new Watermark(12));
            assertThat(out.stream().map(OutputModeTest::describe).collect(Collectors.toList()))
                    .containsExactly("prime", "t0", "t1", "watermark 12", "hit", "t2", "t3");
        }
    }

    @Test
    void waitsWhileTheResultsHeldBackReachTheirBound() throws Exception {
        // Ordered, batches of 2, 1 in flight: at most 2 * 2 * (1 + 1) = 8 held transactions.
        ScriptedScorer model = new ScriptedScorer(Step.SCORE, Step.HANG);
        try (var h = harness(scripted(OutputMode.ORDERED, model, 2, 1), null)) {
            primeCache(h);
            h.processElement(txn(0, 4), 10); // batch A: hangs
            h.processElement(txn(1, 4), 11);
            for (int i = 0; i < 6; i++) {
                h.processElement(hit("hit" + i), 20 + i); // held behind A
            }
            runMailboxUntil(h, () -> model.hanging() == 1);
            assertThat(ids(h)).containsExactly("prime");

            AtomicBoolean released = new AtomicBoolean();
            Thread releaser =
                    new Thread(
                            () -> {
                                try {
                                    Thread.sleep(200);
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                                released.set(true);
                                model.release();
                            });
            releaser.start();
            h.processElement(hit("hit6"), 30); // blocks until A returns and the queue drains
            boolean returnedAfterRelease = released.get();
            releaser.join();

            assertThat(returnedAfterRelease).isTrue();
            assertThat(ids(h))
                    .containsExactly(
                            "prime", "t0", "t1", "hit0", "hit1", "hit2", "hit3", "hit4", "hit5",
                            "hit6");
        }
    }

    private static BatchingInferenceOperator scripted(OutputMode mode, ScriptedScorer model) {
        return scripted(mode, model, 2, 2);
    }

    private static BatchingInferenceOperator scripted(
            OutputMode mode, ScriptedScorer model, int batchSize, int maxInFlight) {
        InferenceSettings settings =
                settings(LINEAR_V1, batchSize)
                        .withBatching(b -> b.maxInFlight(maxInFlight))
                        .withBatching(b -> b.outputMode(mode));
        return new BatchingInferenceOperator(settings, model.factory(settings), System::nanoTime);
    }

    /**
     * Waits until batch A's call has taken the script's HANG step: with two batches in flight,
     * batch B's call would otherwise race A's to the script and could take it instead.
     */
    private static void awaitBatchAHanging(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h,
            ScriptedScorer model)
            throws Exception {
        runMailboxUntil(h, () -> model.hanging() == 1);
    }

    /** Scores the vector {@link #hit()} repeats, with a flush by max wait; emitted at once. */
    private static void primeCache(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h)
            throws Exception {
        h.processElement(txn("prime", HIT_CARD, row(HIT_ROW), 1), 1);
        h.setProcessingTime(h.getProcessingTime() + 10);
        runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
    }

    private static PipelineEvent hit() {
        return hit("hit");
    }

    private static PipelineEvent hit(String id) {
        return txn(id, HIT_CARD, row(HIT_ROW), 2);
    }

    private static List<String> ids(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        return h.extractOutputValues().stream().map(Score::getId).collect(Collectors.toList());
    }

    private static String describe(Object element) {
        return element instanceof Watermark w
                ? "watermark " + w.getTimestamp()
                : ((Score) ((StreamRecord<?>) element).getValue()).getId();
    }
}
