package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.expectedV1Score;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.modelCalls;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.streamscore.operators.batching.BatchingMetrics;
import dev.streamscore.operators.inference.ScriptedScorer.Step;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.junit.jupiter.api.Test;

/**
 * Transactions whose row is already buffered or being scored attach to it: one row, many scores.
 */
class CoalescingTest {

    @Test
    void aRepeatedVectorOfTheSameCardAttachesToTheBufferedOrInFlightRow() throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.HANG);
        InferenceSettings settings = settings(LINEAR_V1, 4);
        try (var h =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        null)) {
            h.processElement(txn("a1", "card-a", row(1), 1), 10);
            h.processElement(txn("a1-buffered", "card-a", row(1), 2), 11); // attaches: buffered
            h.processElement(txn("b1", "card-b", row(1), 3), 12); // another card: its own row
            h.processElement(txn("a2", "card-a", row(2), 4), 13); // another vector: its own row
            h.processElement(txn("a3", "card-a", row(3), 5), 14); // 4 rows: the batch is scored
            runMailboxUntil(h, () -> model.hanging() == 1);
            h.processElement(txn("a1-in-flight", "card-a", row(1), 6), 15); // attaches: in flight

            model.release();
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 6);

            Map<String, Score> out = byId(h.extractOutputValues());
            double a1 = expectedV1Score(row(1));
            assertThat(out.get("a1").getScore()).isCloseTo(a1, within(1e-6));
            assertThat(out.get("a1").getCacheHit()).isFalse();
            for (String id : List.of("a1-buffered", "a1-in-flight")) {
                assertThat(out.get(id).getScore()).isEqualTo(out.get("a1").getScore());
                assertThat(out.get(id).getCacheHit()).as(id).isTrue();
            }
            assertThat(out.get("b1").getCacheHit()).isFalse();
            assertThat(out.get("a2").getCacheHit()).isFalse();
            assertThat(model.calls()).extracting(ScriptedScorer.Call::rows).containsExactly(4);
            BatchingMetrics metrics = operator(h).metrics();
            assertThat(metrics.coalesced.getCount()).isEqualTo(2);
            assertThat(metrics.cacheMisses.getCount()).isEqualTo(6);
            assertThat(metrics.cacheHits.getCount()).isZero();
            assertThat(metrics.rowsScored.getCount()).isEqualTo(4);
        }
    }

    @Test
    void everyAttachedTransactionIsInTheCheckpointAndScoredExactlyOnceAfterRestore()
            throws Exception {
        ScriptedScorer model = new ScriptedScorer(Step.HANG);
        InferenceSettings settings = settings(LINEAR_V1, 4); // one batch in flight
        OperatorSubtaskState checkpoint;
        try (var before =
                harness(
                        new BatchingInferenceOperator(
                                settings, model.factory(settings), System::nanoTime),
                        new EmbeddedRocksDBStateBackend())) {
            before.processElement(txn("a0", "card-a", row(1), 1), 10);
            before.processElement(txn("b0", "card-b", row(2), 2), 11);
            before.processElement(txn("a1", "card-a", row(1), 3), 12); // attached, buffered
            before.processElement(txn("c0", "card-c", row(3), 4), 13);
            before.processElement(txn("d0", "card-d", row(4), 5), 14); // batch of 4 rows: hangs
            runMailboxUntil(before, () -> model.hanging() == 1);
            before.processElement(txn("a2", "card-a", row(1), 6), 15); // attached, in flight
            before.processElement(txn("e0", "card-e", row(5), 7), 16); // a new open batch
            before.processElement(txn("e1", "card-e", row(5), 8), 17); // attached, buffered
            assertThat(operator(before).metrics().coalesced.getCount()).isEqualTo(3);

            checkpoint = before.snapshot(1, 1);
            assertThat(before.extractOutputValues()).isEmpty();
            model.release(); // what 'before' emits after the checkpoint is lost with it
        }

        try (var after = harness(settings, new EmbeddedRocksDBStateBackend(), checkpoint)) {
            after.endInput();

            List<Score> out = after.extractOutputValues();
            assertThat(out)
                    .extracting(Score::getId)
                    .containsExactlyInAnyOrder("a0", "b0", "a1", "c0", "d0", "a2", "e0", "e1");
            Map<String, Score> byId = byId(out);
            Map<String, Integer> rowOf = Map.of("a", 1, "b", 2, "c", 3, "d", 4, "e", 5);
            for (Score score : out) {
                String id = score.getId();
                assertThat(score.getScore())
                        .as(id)
                        .isCloseTo(
                                expectedV1Score(row(rowOf.get(id.substring(0, 1)))), within(1e-6));
                assertThat(score.getCacheHit()).as(id).isEqualTo(!id.endsWith("0"));
            }
            assertThat(byId.get("a2").getScore()).isEqualTo(byId.get("a0").getScore());
            // Five distinct rows: a batch of 4 and a batch of 1.
            assertThat(modelCalls(after)).isEqualTo(2);
            assertThat(operator(after).metrics().rowsScored.getCount()).isEqualTo(5);
            assertThat(operator(after).metrics().coalesced.getCount()).isEqualTo(3);
        }
    }

    @Test
    void aDisabledCacheDisablesCoalescingToo() throws Exception {
        try (var h =
                harness(
                        settings(LINEAR_V1, 4)
                                .withBatching(b -> b.cacheTtl(java.time.Duration.ZERO)))) {
            h.processElement(txn("a1", "card-a", row(1), 1), 10);
            h.processElement(txn("a1-again", "card-a", row(1), 2), 11);
            h.endInput();

            assertThat(h.extractOutputValues())
                    .extracting(Score::getCacheHit)
                    .containsExactly(false, false);
            assertThat(operator(h).metrics().rowsScored.getCount()).isEqualTo(2);
            assertThat(operator(h).metrics().coalesced.getCount()).isZero();
        }
    }

    private static Map<String, Score> byId(List<Score> scores) {
        return scores.stream().collect(Collectors.toMap(Score::getId, Function.identity()));
    }
}
