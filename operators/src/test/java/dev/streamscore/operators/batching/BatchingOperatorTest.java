package dev.streamscore.operators.batching;

import static dev.streamscore.operators.batching.HarnessMailbox.runMailUntil;
import static dev.streamscore.operators.batching.HarnessMailbox.runPendingMails;
import static dev.streamscore.operators.batching.HarnessMailbox.runUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.TestScorers.SumScorer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The batching operator apart from any domain: integers in, strings out, a model in plain Java. The
 * fraud operator's harness tests ({@code dev.streamscore.operators.inference}) cover the same
 * machinery with ONNX Runtime and real fixture models.
 */
class BatchingOperatorTest {

    static final OutputTag<String> FAILED = new OutputTag<>("failed") {};

    /** Row {@code [n, 1]}, none for 0; output {@code n=score}, with a star when reused. */
    static final class Numbers implements BatchFunction<Integer, String> {
        @Override
        public float[] row(Integer n) {
            return n == 0 ? null : new float[] {n, 1};
        }

        @Override
        public String scored(Integer n, ModelDescriptor model, float score, boolean reused) {
            return n + "=" + score + (reused ? "*" : "");
        }

        @Override
        public Outcome<String> failed(
                Integer n, ModelDescriptor model, Throwable cause, boolean reused) {
            return Outcome.sideOutput(FAILED, n + ": " + cause.getMessage());
        }

        @Override
        public Outcome<String> rejected(
                Integer n, ModelDescriptor model, IllegalArgumentException cause) {
            return Outcome.sideOutput(FAILED, n + " rejected: " + cause.getMessage());
        }
    }

    private static final BatchingSettings FOUR_PER_BATCH =
            BatchingSettings.DEFAULTS.toBuilder()
                    .maxBatchSize(4)
                    .maxWait(Duration.ofMillis(10))
                    .maxInFlight(1)
                    .cacheTtl(Duration.ZERO)
                    .initialBackoff(Duration.ZERO)
                    .build();

    private final SumScorer model = new SumScorer("1", 2, 1f);

    private KeyedOneInputStreamOperatorTestHarness<Integer, Integer, String> harness(
            BatchingSettings settings, OperatorSubtaskState state) throws Exception {
        BatchingOperator<Integer, String> operator =
                new BatchingOperator<>(settings, new Numbers(), () -> model, Types.INT);
        var harness = new KeyedOneInputStreamOperatorTestHarness<>(operator, n -> n % 3, Types.INT);
        harness.setup(
                Types.STRING.createSerializer(harness.getExecutionConfig().getSerializerConfig()));
        if (state != null) {
            harness.initializeState(state);
        }
        harness.open();
        return harness;
    }

    @Test
    void scoresEveryElementWithOneModelCallPerFullBatch() throws Exception {
        try (var h = harness(FOUR_PER_BATCH, null)) {
            for (int n = 1; n <= 8; n++) {
                h.processElement(n, n);
            }
            runUntil(h, () -> h.extractOutputValues().size() == 8);

            assertThat(h.extractOutputValues())
                    .containsExactlyInAnyOrder(
                            "1=2.0", "2=3.0", "3=4.0", "4=5.0", "5=6.0", "6=7.0", "7=8.0", "8=9.0");
            assertThat(model.calls).hasValue(2);
            assertThat(h.extractOutputStreamRecords())
                    .extracting(StreamRecord::getTimestamp)
                    .containsExactlyInAnyOrder(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
        }
    }

    @Test
    void aPartialBatchIsScoredWhenItsMaxWaitHasPassed() throws Exception {
        try (var h = harness(FOUR_PER_BATCH, null)) {
            h.setProcessingTime(100);
            h.processElement(1, 1);
            runPendingMails(h);
            assertThat(h.extractOutputValues()).isEmpty();

            h.setProcessingTime(110);
            runUntil(h, () -> h.extractOutputValues().size() == 1);
            assertThat(model.calls).hasValue(1);
        }
    }

    @Test
    void answersARowItsKeyWasScoredForFromTheCacheWithoutAModelRow() throws Exception {
        BatchingSettings cached =
                FOUR_PER_BATCH.toBuilder().maxBatchSize(1).cacheTtl(Duration.ofMinutes(1)).build();
        try (var h = harness(cached, null)) {
            h.processElement(5, 1);
            runUntil(h, () -> h.extractOutputValues().size() == 1);
            h.processElement(5, 2);
            runUntil(h, () -> h.extractOutputValues().size() == 2);

            assertThat(h.extractOutputValues()).containsExactly("5=6.0", "5=6.0*");
            assertThat(model.rows).hasValue(1);
            BatchingOperator<?, ?> operator = (BatchingOperator<?, ?>) h.getOperator();
            assertThat(operator.metrics().cacheHits.getCount()).isEqualTo(1);
        }
    }

    @Test
    void aRowTheModelFailsOnAloneBecomesTheFunctionsFailureOutcomeAndItsNeighboursAreScored()
            throws Exception {
        try (var h = harness(FOUR_PER_BATCH, null)) {
            for (int n : new int[] {1, -2, 3, 4}) {
                h.processElement(n, n);
            }
            runUntil(h, () -> h.extractOutputValues().size() == 3 && failed(h).size() == 1);

            assertThat(h.extractOutputValues())
                    .containsExactlyInAnyOrder("1=2.0", "3=4.0", "4=5.0");
            assertThat(failed(h)).containsExactly("-2: negative first value in row 0");
            assertThat(h.wasFailedExternally()).isFalse();
        }
    }

    @Test
    void anElementWithoutARowFailsWithoutAModelCall() throws Exception {
        try (var h = harness(FOUR_PER_BATCH, null)) {
            h.processElement(0, 1);
            assertThat(failed(h)).containsExactly("0 rejected: expected 2 features, found none");
            assertThat(model.calls).hasValue(0);
        }
    }

    @Test
    void elementsBufferedAtACheckpointAreScoredOnceAfterARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(FOUR_PER_BATCH, null)) {
            h.processElement(1, 1);
            h.processElement(2, 2);
            snapshot = h.snapshot(1, 1);
            assertThat(h.extractOutputValues()).isEmpty();
        }
        assertThat(model.closed).isTrue();

        model.closed = false;
        try (var h = harness(FOUR_PER_BATCH, snapshot)) {
            h.processElement(3, 3);
            h.processElement(4, 4); // with the two restored: a full batch
            runUntil(h, () -> h.extractOutputValues().size() == 4);
            assertThat(h.extractOutputValues())
                    .containsExactlyInAnyOrder("1=2.0", "2=3.0", "3=4.0", "4=5.0");
            assertThat(h.extractOutputStreamRecords())
                    .extracting(StreamRecord::getTimestamp)
                    .containsExactlyInAnyOrder(1L, 2L, 3L, 4L);
        }
    }

    @Test
    void aReplacedModelScoresTheBatchesOpenedAfterItAndTheOldOneClosesAfterItsLast()
            throws Exception {
        SumScorer doubling = new SumScorer("2", 2, 2f);
        try (var h = harness(FOUR_PER_BATCH, null)) {
            BatchingOperator<?, ?> operator = (BatchingOperator<?, ?>) h.getOperator();
            h.processElement(1, 1);
            h.processElement(2, 2); // an open batch of v1

            operator.replaceModel(doubling);
            h.processElement(3, 3); // closes v1's batch, opens one of v2
            h.processElement(4, 4);
            h.endInput();

            assertThat(h.extractOutputValues())
                    .containsExactlyInAnyOrder("1=2.0", "2=3.0", "3=8.0", "4=10.0");
            assertThat(model.closed).as("v1, once its last batch was done").isTrue();
            assertThat(doubling.closed).isFalse();
            assertThat(operator.metrics().modelVersion.getValue()).isEqualTo("sum:2");
        }
        assertThat(doubling.closed).isTrue();
    }

    @Test
    void aReplacedModelStaysOpenWhileACallThatTimedOutStillRunsOnIt() throws Exception {
        BatchingSettings oneRowFiveMs =
                FOUR_PER_BATCH.toBuilder()
                        .maxBatchSize(1)
                        .modelCallTimeout(Duration.ofMillis(5))
                        .maxRetries(1)
                        .build();
        model.firstCallGate = new CountDownLatch(1);
        SumScorer next = new SumScorer("2", 2, 2f);
        try (var h = harness(oneRowFiveMs, null)) {
            BatchingOperator<?, ?> operator = (BatchingOperator<?, ?>) h.getOperator();
            h.processElement(1, 1); // its call hangs
            // Only once it hangs may its timeout fire: were the retry to reach the model first,
            // the retry would be the call that hangs (the gate holds the model's first call).
            assertThat(model.firstCallWaiting.await(30, java.util.concurrent.TimeUnit.SECONDS))
                    .as("the first call reached the model")
                    .isTrue();
            while (operator.metrics().modelCallTimeouts.getCount() == 0) {
                h.setProcessingTime(h.getProcessingTime() + 1);
            }
            runUntil(h, () -> h.extractOutputValues().size() == 1); // scored by the retry

            operator.replaceModel(next);
            assertThat(model.closed).as("the timed-out call still runs on it").isFalse();

            model.firstCallGate.countDown();
            runMailUntil(h, () -> model.closed);
            assertThat(h.extractOutputValues()).containsExactly("1=2.0");
        }
    }

    @Test
    void aModelThatTakesOtherRowsIsRefusedAndTheCurrentOneStays() throws Exception {
        SumScorer wider = new SumScorer("2", 3, 1f);
        try (var h = harness(FOUR_PER_BATCH, null)) {
            BatchingOperator<?, ?> operator = (BatchingOperator<?, ?>) h.getOperator();
            assertThatThrownBy(() -> operator.replaceModel(wider))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(
                            "model sum:2 takes 3 features, expected 2 like the model it replaces");
            h.processElement(1, 1);
            h.endInput();
            assertThat(h.extractOutputValues()).containsExactly("1=2.0");
            assertThat(operator.models().current()).isSameAs(model);
        }
        assertThat(wider.closed).as("a refused model is still the caller's").isFalse();
    }

    @Test
    @Timeout(60) // without the fix the next batch waits forever for the lost buffer
    void anErrorPreparingACallOutsideTheModelIsRetriedAndLosesNeitherTheBatchNorItsBuffer()
            throws Exception {
        // Batch {1, -2, 3, 4} fails, is split, and its halves' buffers fail to allocate twice.
        model.smallBufferRows = 4;
        model.smallBufferErrors.set(2);
        try (var h = harness(FOUR_PER_BATCH, null)) {
            for (int n : new int[] {1, -2, 3, 4}) {
                h.processElement(n, n);
            }
            runUntil(h, () -> h.extractOutputValues().size() == 3 && failed(h).size() == 1);
            assertThat(model.smallBufferErrors.get()).as("both errors were thrown").isNegative();
            assertThat(failed(h)).containsExactly("-2: negative first value in row 0");
            BatchingOperator<?, ?> operator = (BatchingOperator<?, ?>) h.getOperator();
            assertThat(operator.metrics().modelCallTimeouts.getCount())
                    .as("the errors came back as failures, not left for the call timeout")
                    .isZero();

            // With maxInFlight 1, a buffer lost to the errors would leave the next batch waiting.
            for (int n = 5; n <= 8; n++) {
                h.processElement(n, n);
            }
            runUntil(h, () -> h.extractOutputValues().size() == 7);
            assertThat(h.extractOutputValues())
                    .containsExactlyInAnyOrder(
                            "1=2.0", "3=4.0", "4=5.0", "5=6.0", "6=7.0", "7=8.0", "8=9.0");
            assertThat(h.wasFailedExternally()).isFalse();
        }
    }

    @Test
    void endOfInputFailsRatherThanHangWhenAModelCallNeverReturns() throws Exception {
        BatchingSettings oneRow =
                FOUR_PER_BATCH.toBuilder()
                        .maxBatchSize(1)
                        .modelCallTimeout(Duration.ofMillis(50))
                        .build();
        model.firstCallGate = new CountDownLatch(1);
        try (var h = harness(oneRow, null)) {
            h.processElement(1, 1); // its call hangs; no processing time passes to time it out
            assertThat(model.firstCallWaiting.await(30, java.util.concurrent.TimeUnit.SECONDS))
                    .isTrue();
            assertThatThrownBy(h::endInput)
                    .isInstanceOf(java.util.concurrent.TimeoutException.class)
                    .hasMessageStartingWith(
                            "1 elements are still waiting for model calls that have not returned"
                                    + " for PT0.1S while the task finishes");
            model.firstCallGate.countDown(); // the harness's own finish can now complete
        }
    }

    @Test
    void endOfInputEmitsEverythingAcceptedBeforeItReturns() throws Exception {
        try (var h = harness(FOUR_PER_BATCH, null)) {
            h.processElement(1, 1);
            h.processElement(2, 2);
            h.endInput();
            assertThat(h.extractOutputValues()).containsExactlyInAnyOrder("1=2.0", "2=3.0");
        }
    }

    private static List<String> failed(KeyedOneInputStreamOperatorTestHarness<?, ?, ?> h) {
        List<String> values = new ArrayList<>();
        var records = h.getSideOutput(FAILED);
        if (records != null) {
            records.forEach(r -> values.add(r.getValue()));
        }
        return values;
    }
}
