package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.FAILS_ON_NAN;
import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.expectedV1Score;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.modelCalls;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.poisoned;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.runPendingMails;
import static dev.streamscore.operators.inference.InferenceFixtures.runUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.BatchingMetrics;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.inference.ScriptedScorer.Step;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/** Retries with backoff, call timeouts, isolation of poison rows, dead letters and fallbacks. */
class InferenceFailuresTest {

    private static final int POISON = 37;

    @Test
    void retriesAFailedCallAfterAnExponentialBackoffOnProcessingTimeTimers() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.THROW, Step.THROW, Step.SCORE);
        InferenceSettings settings = settings(LINEAR_V1, 4); // 2 retries from 10 ms
        try (var h =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        null)) {
            for (int i = 0; i < 4; i++) {
                h.processElement(txn(i, 4), 100 + i);
            }
            runMailboxUntil(h, () -> modelCalls(h) == 1); // failed at time 0

            h.setProcessingTime(9);
            runPendingMails(h);
            assertThat(model.calls()).hasSize(1); // the task thread never slept: a timer waits
            h.setProcessingTime(10);
            runMailboxUntil(h, () -> modelCalls(h) == 2); // failed again at 10: next in 20 ms

            h.setProcessingTime(29);
            runPendingMails(h);
            assertThat(model.calls()).hasSize(2);
            h.setProcessingTime(30);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 4);

            List<Score> out = h.extractOutputValues();
            for (int i = 0; i < 4; i++) {
                assertThat(out.get(i).getId()).isEqualTo("t" + i);
                assertThat(out.get(i).getScore()).isCloseTo(expectedV1Score(row(i)), within(1e-6));
            }
            BatchingMetrics metrics = operator(h).metrics();
            assertThat(metrics.retries.getCount()).isEqualTo(2);
            assertThat(metrics.modelCallFailures.getCount()).isEqualTo(2);
            assertThat(metrics.batchSplits.getCount()).isZero();
            assertThat(metrics.rowsScored.getCount()).isEqualTo(4);
            assertThat(deadLetters(h)).isEmpty();
            assertThat(model.calls())
                    .extracting(ScriptedScorer.Call::rows)
                    .containsExactly(4, 4, 4);
        }
    }

    @Test
    void atEndOfInputRetriesStartWithoutWaitingForTheirBackoffTimers() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.THROW, Step.SCORE);
        InferenceSettings settings =
                settings(LINEAR_V1, 4).withBatching(b -> b.initialBackoff(Duration.ofHours(1)));
        try (var h =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        null)) {
            for (int i = 0; i < 4; i++) {
                h.processElement(txn(i, 4), 100 + i);
            }
            runMailboxUntil(h, () -> modelCalls(h) == 1); // failed: next try in an hour

            h.endInput(); // processing time never moves

            assertThat(h.extractOutputValues())
                    .extracting(Score::getId)
                    .containsExactly("t0", "t1", "t2", "t3");
            assertThat(operator(h).metrics().retries.getCount()).isEqualTo(1);
        }
    }

    @Test
    void aCheckpointTakenWhileABatchBacksOffHoldsItsTransactions() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.THROW);
        InferenceSettings settings = settings(LINEAR_V1, 4);
        OperatorSubtaskState checkpoint;
        try (var before =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        new EmbeddedRocksDBStateBackend())) {
            for (int i = 0; i < 4; i++) {
                before.processElement(txn(i, 4), 100 + i);
            }
            runMailboxUntil(before, () -> modelCalls(before) == 1); // backing off
            checkpoint = before.snapshot(1, 1);
        }

        try (var after = harness(settings, new EmbeddedRocksDBStateBackend(), checkpoint)) {
            after.endInput();

            List<Score> out = after.extractOutputValues();
            assertThat(out).extracting(Score::getId).containsExactly("t0", "t1", "t2", "t3");
            for (int i = 0; i < 4; i++) {
                assertThat(out.get(i).getScore()).isCloseTo(expectedV1Score(row(i)), within(1e-6));
            }
        }
    }

    @Test
    void aCallThatExceedsTheTimeoutFailsAndItsBufferIsNotReusedUntilItReturns() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.HANG);
        InferenceSettings settings =
                settings(LINEAR_V1, 4) // one batch in flight
                        .withBatching(b -> b.modelCallTimeout(Duration.ofMillis(100)))
                        .withBatching(b -> b.maxRetries(1));
        try (var h =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        null)) {
            for (int i = 0; i < 4; i++) {
                h.processElement(txn(i, 8), 100 + i);
            }
            runMailboxUntil(h, () -> model.hanging() == 1);
            ScriptedScorer.Call hung = model.calls().get(0);

            h.setProcessingTime(99);
            assertThat(operator(h).metrics().modelCallTimeouts.getCount()).isZero();
            h.setProcessingTime(100); // timed out: failed, retried after the 10 ms backoff
            assertThat(operator(h).metrics().modelCallTimeouts.getCount()).isEqualTo(1);
            h.setProcessingTime(110);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 4);

            // The next batch scores while the hung call still holds its buffer.
            for (int i = 4; i < 8; i++) {
                h.processElement(txn(i, 8), 100 + i);
            }
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 8);
            assertThat(model.hanging()).isEqualTo(1);
            float[] hungInputNow = new float[hung.input().length];
            hung.buffer().duplicate().position(0).get(hungInputNow);
            assertThat(hungInputNow).containsExactly(hung.input());
            assertThat(hung.input()).containsExactly(rows(0, 4));

            model.release();
            runMailboxUntil(h, () -> modelCalls(h) == 3); // its late result is dropped

            List<Score> out = h.extractOutputValues();
            assertThat(out)
                    .extracting(Score::getId)
                    .containsExactly("t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7");
            for (int i = 0; i < 8; i++) {
                assertThat(out.get(i).getScore()).isCloseTo(expectedV1Score(row(i)), within(1e-6));
            }
            BatchingMetrics metrics = operator(h).metrics();
            assertThat(metrics.modelCallFailures.getCount()).isEqualTo(1);
            assertThat(metrics.retries.getCount()).isEqualTo(1);
            assertThat(deadLetters(h)).isEmpty();
        }
    }

    @Test
    void aRowWhoseCallsKeepHangingIsGivenUpAndItsBuffersComeBackWhenTheCallsReturn()
            throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.HANG, Step.HANG);
        InferenceSettings settings =
                settings(LINEAR_V1, 1) // one batch in flight: one spare buffer for a hung call
                        .withBatching(b -> b.modelCallTimeout(Duration.ofMillis(100)))
                        .withBatching(b -> b.maxRetries(1));
        try (var h =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        null)) {
            h.processElement(txn(0, 4), 100);
            runMailboxUntil(h, () -> model.hanging() == 1);
            h.setProcessingTime(100); // times out; the retry gets the spare buffer
            h.setProcessingTime(110);
            runMailboxUntil(h, () -> model.hanging() == 2);
            h.setProcessingTime(210); // times out again: no spare left, no retry left

            assertThat(deadLetters(h)).hasSize(1);
            DeadLetter letter = deadLetters(h).peek().getValue();
            assertThat(letter.getTransactionId()).isEqualTo("t0");
            assertThat(letter.getErrorClass()).isEqualTo("java.util.concurrent.TimeoutException");
            assertThat(letter.getErrorMessage())
                    .isEqualTo("model call on 1 rows did not return within PT0.1S");
            assertThat(operator(h).metrics().modelCallTimeouts.getCount()).isEqualTo(2);

            model.release();
            runMailboxUntil(h, () -> modelCalls(h) == 2);
            h.processElement(txn(1, 4), 101); // scored in the buffer the second call gave back
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            assertThat(h.extractOutputValues().get(0).getScore())
                    .isCloseTo(expectedV1Score(row(1)), within(1e-6));
        }
    }

    /**
     * With padding to fixed sizes, a partial batch is scored in one padded call, and a split
     * batch's halves are padded without overwriting each other's rows.
     */
    @Test
    void withPaddingToFixedSizesScoresPartialBatchesAndSplitHalvesCorrectly() throws Exception {
        InferenceSettings settings =
                settings(FAILS_ON_NAN, 64)
                        .withBatching(b -> b.maxRetries(0))
                        .withOnnx(OnnxOptions.DEFAULT.withPadToSizes(8, 64));
        List<PipelineEvent> input = batchWithPoisonRow();
        try (var h = harness(settings)) {
            for (int i = 0; i < 5; i++) {
                h.processElement(txn("p" + i, "card-" + (i % 8), row(i), i), 10 + i);
            }
            h.setProcessingTime(10); // max-wait: a partial batch of 5, padded to 8
            runUntil(h, () -> h.extractOutputValues().size() == 5);
            assertThat(modelCalls(h)).isEqualTo(1);

            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), 100 + i);
            }
            runUntil(h, () -> h.extractOutputValues().size() + deadLetters(h).size() == 5 + 64);
            Map<String, Score> scores = byId(h.extractOutputValues());
            for (int i = 0; i < 64; i++) {
                if (i != POISON) {
                    assertThat(scores.get("t" + i).getScore())
                            .as("t%s", i)
                            .isCloseTo(expectedV1Score(row(i)), within(1e-6));
                }
            }
            for (int i = 0; i < 5; i++) {
                assertThat(scores.get("p" + i).getScore())
                        .isCloseTo(expectedV1Score(row(i)), within(1e-6));
            }
            assertThat(deadLetters(h)).hasSize(1);
            assertThat(deadLetters(h).peek().getValue().getTransactionId()).isEqualTo("t" + POISON);
        }
    }

    @Test
    void isolatesOnePoisonRowOfABatchOf64ByBisectionAndScoresTheOther63() throws Exception {
        InferenceSettings settings = settings(FAILS_ON_NAN, 64); // 2 retries from 10 ms
        List<PipelineEvent> input = batchWithPoisonRow();
        try (var h = harness(settings)) {
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), 100 + i);
            }
            runUntil(h, () -> h.extractOutputValues().size() + deadLetters(h).size() == 64);

            Map<String, Score> scores = byId(h.extractOutputValues());
            assertThat(scores).hasSize(63).doesNotContainKey("t" + POISON);
            for (int i = 0; i < 64; i++) {
                if (i != POISON) {
                    Score score = scores.get("t" + i);
                    assertThat(score.getScore()).isCloseTo(expectedV1Score(row(i)), within(1e-6));
                    assertThat(score.getFallback()).isFalse();
                }
            }
            StreamRecord<DeadLetter> letter = deadLetters(h).peek();
            assertThat(deadLetters(h)).hasSize(1);
            assertThat(letter.getTimestamp()).isEqualTo(100 + POISON);
            assertThat(letter.getValue().getTransactionId()).isEqualTo("t" + POISON);
            assertThat(letter.getValue().getStage()).isEqualTo(Stage.INFERENCE);
            assertThat(letter.getValue().getErrorClass()).isEqualTo("ai.onnxruntime.OrtException");
            assertThat(letter.getValue().getErrorMessage()).contains("out of data bounds");

            // The whole batch 1 + 2 retries; then per level of 64 -> 1 a clean half and a failing
            // half (6 levels, the last failing half being the row itself) and the row's 2 retries.
            BatchingMetrics metrics = operator(h).metrics();
            assertThat(modelCalls(h)).isEqualTo(3 + 2 * 6 + 2);
            assertThat(metrics.retries.getCount()).isEqualTo(4);
            assertThat(metrics.batchSplits.getCount()).isEqualTo(6);
            assertThat(metrics.modelCallFailures.getCount()).isEqualTo(3 + 5 + 3);
            assertThat(metrics.rowsScored.getCount()).isEqualTo(63);
            assertThat(operator(h).deadLetters().getCount()).isEqualTo(1);
            assertThat(h.wasFailedExternally()).isFalse();
        }
    }

    @Test
    void givesARowTheModelFailsOnTheConfiguredFallbackScoreMarkedAndNeverCached() throws Exception {
        InferenceSettings settings =
                settings(FAILS_ON_NAN, 64)
                        .withBatching(b -> b.maxRetries(0))
                        .withFallbackScore(0.9);
        List<PipelineEvent> input = batchWithPoisonRow();
        try (var h = harness(settings)) {
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), 100 + i);
            }
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 64);

            Map<String, Score> scores = byId(h.extractOutputValues());
            Score fallback = scores.get("t" + POISON);
            assertThat(fallback.getScore()).isEqualTo(0.9);
            assertThat(fallback.getDecision()).isEqualTo(Scores.DECLINE); // 0.9 >= 0.8
            assertThat(fallback.getFallback()).isTrue();
            assertThat(fallback.getCacheHit()).isFalse();
            assertThat(fallback.getModelVersion()).isEqualTo("fails-on-nan");
            assertThat(scores.values().stream().filter(Score::getFallback)).hasSize(1);
            assertThat(deadLetters(h)).isEmpty();
            assertThat(operator(h).fallbacks().getCount()).isEqualTo(1);
            assertThat(operator(h).deadLetters().getCount()).isZero();

            // Resent: the clean vector is a cache hit, the poisoned one goes to the model again.
            long calls = modelCalls(h);
            h.processElement(txn("again-0", "card-0", row(0), 2000), 300);
            h.processElement(
                    txn("again-poison", "card-" + (POISON % 8), poisoned(POISON), 2001), 301);
            h.endInput();
            scores = byId(h.extractOutputValues());
            assertThat(scores.get("again-0").getCacheHit()).isTrue();
            assertThat(scores.get("again-0").getFallback()).isFalse();
            assertThat(scores.get("again-poison").getCacheHit()).isFalse();
            assertThat(scores.get("again-poison").getFallback()).isTrue();
            assertThat(modelCalls(h)).isEqualTo(calls + 1);
        }
    }

    /** t0..t63 of 8 cards; t37's vector holds a NaN. */
    private static List<PipelineEvent> batchWithPoisonRow() {
        return IntStream.range(0, 64)
                .mapToObj(
                        i ->
                                i == POISON
                                        ? txn("t" + i, "card-" + (i % 8), poisoned(i), 1000 + i)
                                        : txn(i, 8))
                .collect(Collectors.toList());
    }

    private static float[] rows(int from, int to) {
        float[] all = new float[0];
        for (int i = from; i < to; i++) {
            float[] r = row(i);
            float[] next = Arrays.copyOf(all, all.length + r.length);
            System.arraycopy(r, 0, next, all.length, r.length);
            all = next;
        }
        return all;
    }

    private static Map<String, Score> byId(List<Score> scores) {
        return scores.stream().collect(Collectors.toMap(Score::getId, Function.identity()));
    }

    private static Queue<StreamRecord<DeadLetter>> deadLetters(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        Queue<StreamRecord<DeadLetter>> letters = h.getSideOutput(DeadLetters.TAG);
        return letters == null ? new ArrayDeque<>() : letters;
    }
}
