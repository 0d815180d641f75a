package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.DECLINE;
import static dev.streamscore.operators.inference.InferenceFixtures.EVENT_TIME;
import static dev.streamscore.operators.inference.InferenceFixtures.FAILS_UNLESS_8_ROWS;
import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V2;
import static dev.streamscore.operators.inference.InferenceFixtures.REVIEW;
import static dev.streamscore.operators.inference.InferenceFixtures.TOPIC;
import static dev.streamscore.operators.inference.InferenceFixtures.WRONG_FEATURES;
import static dev.streamscore.operators.inference.InferenceFixtures.expectedV1Score;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.location;
import static dev.streamscore.operators.inference.InferenceFixtures.modelCalls;
import static dev.streamscore.operators.inference.InferenceFixtures.operator;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.runMailboxUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.runPendingMails;
import static dev.streamscore.operators.inference.InferenceFixtures.scoringLogit;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.OutputMode;
import dev.streamscore.operators.cache.CachedScore;
import dev.streamscore.operators.cache.ScoreCache;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.runtime.PojoSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroSerializer;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatchingInferenceOperatorTest {

    /** The cache identity of {@link InferenceFixtures#LINEAR_V1}: name:version@SHA-256 prefix. */
    private static final String V1_ID = "fixture-linear:1@61be2eee1566e935";

    // ---- batching -------------------------------------------------------------------------

    @Test
    void scoresAFullBatchWithOneModelCall() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4))) {
            for (int i = 0; i < 4; i++) {
                h.processElement(txn(i, 4), 100 + i);
            }
            // Closed by size: processing time never moved, so no max-wait timer fired.
            assertThat(operator(h).metrics().batchSize.getCount()).isEqualTo(1);

            runMailboxUntil(h, () -> h.extractOutputValues().size() == 4);

            assertThat(modelCalls(h)).isEqualTo(1);
            assertThat(operator(h).metrics().batchSize.getStatistics().getMax()).isEqualTo(4);
            assertThat(ids(h.extractOutputValues())).containsExactly("t0", "t1", "t2", "t3");
        }
    }

    @Test
    void flushesAPartialBatchWhenMaxWaitElapsesAndNotBefore() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4))) {
            h.setProcessingTime(1_000);
            for (int i = 0; i < 3; i++) {
                h.processElement(txn(i, 4), 100 + i);
            }

            h.setProcessingTime(1_009); // 1 ms short of the 10 ms max wait
            runPendingMails(h);
            assertThat(operator(h).metrics().batchSize.getCount()).isZero();
            assertThat(h.extractOutputValues()).isEmpty();

            h.setProcessingTime(1_010);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 3);

            assertThat(modelCalls(h)).isEqualTo(1);
            assertThat(operator(h).metrics().batchSize.getStatistics().getMax()).isEqualTo(3);
            assertThat(ids(h.extractOutputValues())).containsExactly("t0", "t1", "t2");
        }
    }

    @Test
    void endInputScoresThePartialBatchAndWaitsUntilEverythingIsEmitted() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4))) {
            for (int i = 0; i < 7; i++) {
                h.processElement(txn(i, 4), 100 + i);
            }

            h.endInput(); // the test runs no mails itself: endInput must wait for them

            assertThat(ids(h.extractOutputValues()))
                    .containsExactly("t0", "t1", "t2", "t3", "t4", "t5", "t6");
            assertThat(modelCalls(h)).isEqualTo(2);
        }
    }

    @Test
    void closingABatchWaitsForAFreeSlotWhenMaxInFlightBatchesAreScoring() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 2))) { // max in flight: 1
            h.processElement(txn(0, 4), 100);
            h.processElement(txn(1, 4), 101); // batch 1 goes to the inference thread
            h.processElement(txn(2, 4), 102);
            assertThat(h.extractOutputValues()).isEmpty();

            // Closing batch 2 finds no free slot: it must run the mailbox until batch 1 is done.
            h.processElement(txn(3, 4), 103);

            assertThat(ids(h.extractOutputValues())).containsExactly("t0", "t1");
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 4);
            assertThat(ids(h.extractOutputValues())).containsExactly("t0", "t1", "t2", "t3");
        }
    }

    @Test
    void scoresConcurrentBatchesEachFromItsOwnRowsAndInOrderedModeEmitsThemInInputOrder()
            throws Exception {
        int n = 400;
        try (var h =
                harness(
                        settings(LINEAR_V1, 4)
                                .withBatching(b -> b.maxInFlight(3))
                                .withBatching(b -> b.outputMode(OutputMode.ORDERED)))) {
            for (int i = 0; i < n; i++) {
                h.processElement(txn(i, 50), i);
            }
            h.endInput();

            List<Score> out = h.extractOutputValues();
            assertThat(ids(out))
                    .containsExactlyElementsOf(
                            IntStream.range(0, n)
                                    .mapToObj(i -> "t" + i)
                                    .collect(Collectors.toList()));
            for (int i = 0; i < n; i++) {
                assertThat(out.get(i).getScore())
                        .as("score of t%s", i)
                        .isCloseTo(expectedV1Score(row(i)), within(1e-6));
            }
            assertThat(modelCalls(h)).isEqualTo(n / 4);
        }
    }

    @Test
    void keepsItsOwnCopyOfEachTransactionWhenObjectReuseIsOn() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4), null, null, 1, 1, 0, true)) {
            PipelineEvent reused = txn(0, 4);
            h.processElement(reused, 100);
            // An upstream operator with object reuse may refill the same objects in place.
            reused.id = "t1";
            reused.key = "card-1";
            System.arraycopy(row(1), 0, reused.features, 0, reused.features.length);
            h.processElement(reused, 101);
            h.endInput();

            List<Score> out = h.extractOutputValues();
            assertThat(ids(out)).containsExactly("t0", "t1");
            assertThat(out.get(0).getScore()).isCloseTo(expectedV1Score(row(0)), within(1e-6));
            assertThat(out.get(1).getScore()).isCloseTo(expectedV1Score(row(1)), within(1e-6));
        }
    }

    // ---- scores ---------------------------------------------------------------------------

    @Test
    void emitsTheModelsScoresWithDecisionsFromItsThresholds() throws Exception {
        List<PipelineEvent> input = new ArrayList<>();
        input.add(txn("approve", "card-a", scoringLogit(-2), 1)); // 0.119
        input.add(txn("review", "card-b", scoringLogit(1), 2)); // 0.731
        input.add(txn("decline", "card-c", scoringLogit(3), 3)); // 0.953
        for (int i = 0; i < 5; i++) {
            input.add(txn(i, 3));
        }
        float[][] rows = input.stream().map(e -> e.features).toArray(float[][]::new);
        float[] modelScores;
        try (OnnxModel model = OnnxModel.open(location(LINEAR_V1), OnnxOptions.DEFAULT)) {
            modelScores = model.score(rows);
        }

        try (var h = harness(settings(LINEAR_V1, 8))) {
            h.setProcessingTime(42_000);
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), 500 + i);
            }
            runMailboxUntil(h, () -> h.extractOutputValues().size() == input.size());

            List<StreamRecord<? extends Score>> out = h.extractOutputStreamRecords();
            assertThat(out).hasSize(input.size());
            for (int i = 0; i < input.size(); i++) {
                Score score = out.get(i).getValue();
                PipelineEvent txn = input.get(i);
                assertThat(out.get(i).getTimestamp()).isEqualTo(500 + i);
                assertThat(score.getId()).isEqualTo(txn.id);
                assertThat(score.getKey()).isEqualTo(txn.key);
                assertThat(score.getScore()).isEqualTo((double) modelScores[i]);
                assertThat(score.getScore()).isCloseTo(expectedV1Score(rows[i]), within(1e-6));
                assertThat(score.getDecision()).isEqualTo(decision(score.getScore()));
                assertThat(score.getModelName()).isEqualTo("fixture-linear");
                assertThat(score.getModelVersion()).isEqualTo("1");
                assertThat(score.getCacheHit()).isFalse();
                assertThat(score.getEventTime()).isEqualTo(txn.time);
                assertThat(score.getScoredAt()).isEqualTo(42_000L);
            }
            assertThat(out.get(0).getValue().getDecision()).isEqualTo(Scores.APPROVE);
            assertThat(out.get(1).getValue().getDecision()).isEqualTo(Scores.REVIEW);
            assertThat(out.get(2).getValue().getDecision()).isEqualTo(Scores.DECLINE);
            assertThat(operator(h).metrics().rowsScored.getCount()).isEqualTo(input.size());
        }
    }

    // ---- cache ----------------------------------------------------------------------------

    @Test
    void answersARepeatedFeatureVectorOfTheSameCardFromTheCacheWithoutAModelCall()
            throws Exception {
        try (var h = harness(settings(LINEAR_V1, 1))) {
            h.processElement(txn("first", "card-a", row(1), 1), 10);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            double scored = h.extractOutputValues().get(0).getScore();

            // Equal values in a new array: the hit is emitted at once, no mail needs to run.
            h.processElement(txn("repeat", "card-a", row(1), 2), 11);

            assertThat(h.extractOutputValues()).hasSize(2);
            Score hit = h.extractOutputValues().get(1);
            assertThat(hit.getId()).isEqualTo("repeat");
            assertThat(hit.getCacheHit()).isTrue();
            assertThat(hit.getScore()).isEqualTo(scored);
            assertThat(hit.getModelVersion()).isEqualTo("1");
            assertThat(modelCalls(h)).isEqualTo(1);
            assertThat(operator(h).metrics().batchSize.getCount()).isEqualTo(1);

            // The cache is per card: the same vector of another card is a miss.
            h.processElement(txn("other-card", "card-b", row(1), 3), 12);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 3);
            assertThat(h.extractOutputValues().get(2).getCacheHit()).isFalse();
            assertThat(modelCalls(h)).isEqualTo(2);
            assertThat(operator(h).metrics().cacheHits.getCount()).isEqualTo(1);
            assertThat(operator(h).metrics().cacheMisses.getCount()).isEqualTo(2);
        }
    }

    @Test
    void aCachedScoreExpiresAfterTheTtl() throws Exception {
        InferenceSettings settings =
                settings(LINEAR_V1, 1).withBatching(b -> b.cacheTtl(Duration.ofSeconds(1)));
        try (var h = harness(settings, new EmbeddedRocksDBStateBackend(), null)) {
            h.setStateTtlProcessingTime(0);
            h.processElement(txn("t1", "card-a", row(1), 1), 10);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);

            // Both tiers' clocks: the state's TTL, and processing time for the in-memory front.
            h.setStateTtlProcessingTime(999);
            h.setProcessingTime(999);
            h.processElement(txn("t2", "card-a", row(1), 2), 11);
            assertThat(h.extractOutputValues()).hasSize(2);
            assertThat(h.extractOutputValues().get(1).getCacheHit()).isTrue();

            h.setStateTtlProcessingTime(1_000);
            h.setProcessingTime(1_000);
            h.processElement(txn("t3", "card-a", row(1), 3), 12);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 3);
            assertThat(h.extractOutputValues().get(2).getCacheHit()).isFalse();
            assertThat(modelCalls(h)).isEqualTo(2);
        }
    }

    @Test
    void aNewModelVersionNeverServesTheOldVersionsScore() throws Exception {
        OperatorSubtaskState withV1Entry;
        double v1Score;
        try (var h = harness(settings(LINEAR_V1, 1), new EmbeddedRocksDBStateBackend(), null)) {
            h.processElement(txn("t1", "card-a", row(1), 1), 10);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            v1Score = h.extractOutputValues().get(0).getScore();
            withV1Entry = h.snapshot(1, 1);
        }
        float v2Score;
        try (OnnxModel v2 = OnnxModel.open(location(LINEAR_V2), OnnxOptions.DEFAULT)) {
            v2Score = v2.score(new float[][] {row(1)})[0];
        }
        assertThat((double) v2Score).isNotCloseTo(v1Score, within(0.01));

        try (var h =
                harness(settings(LINEAR_V2, 1), new EmbeddedRocksDBStateBackend(), withV1Entry)) {
            h.processElement(txn("t2", "card-a", row(1), 2), 11);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            Score upgraded = h.extractOutputValues().get(0);
            assertThat(upgraded.getCacheHit()).isFalse();
            assertThat(upgraded.getModelVersion()).isEqualTo("2");
            assertThat(upgraded.getScore()).isEqualTo((double) v2Score);

            // The entry now holds version 2's score, which is served from then on.
            h.processElement(txn("t3", "card-a", row(1), 3), 12);
            Score hit = h.extractOutputValues().get(1);
            assertThat(hit.getCacheHit()).isTrue();
            assertThat(hit.getScore()).isEqualTo((double) v2Score);
        }
    }

    @Test
    void retrainedWeightsUnderTheSameVersionNeverServeTheOldWeightsScore(@TempDir Path dir)
            throws Exception {
        OperatorSubtaskState withV1Entry;
        try (var h = harness(settings(LINEAR_V1, 1), new EmbeddedRocksDBStateBackend(), null)) {
            h.processElement(txn("t1", "card-a", row(1), 1), 10);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            withV1Entry = h.snapshot(1, 1);
        }
        // Version 2's weights published as "fixture-linear" version 1 again: only the hash differs.
        Path retrained = dir.resolve("retrained");
        Files.createDirectories(retrained);
        Path v2 = Path.of(location(LINEAR_V2));
        Files.copy(v2.resolve("model.onnx"), retrained.resolve("model.onnx"));
        Files.writeString(
                retrained.resolve("descriptor.json"),
                Files.readString(v2.resolve("descriptor.json"))
                        .replace("\"version\": \"2\"", "\"version\": \"1\""));
        InferenceSettings sameVersion =
                InferenceSettings.defaults(retrained.toString())
                        .withBatching(settings(LINEAR_V1, 1).batching());

        try (var h = harness(sameVersion, new EmbeddedRocksDBStateBackend(), withV1Entry)) {
            h.processElement(txn("t2", "card-a", row(1), 2), 11);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);
            Score score = h.extractOutputValues().get(0);
            assertThat(score.getModelVersion()).isEqualTo("1");
            assertThat(score.getCacheHit()).isFalse();
            assertThat(score.getScore()).isCloseTo(expectedV1Score(negated(row(1))), within(1e-6));
        }
    }

    private static float[] negated(float[] features) {
        // Version 2's weights are version 1's negated, its bias the same.
        float[] n = features.clone();
        for (int i = 0; i < n.length; i++) {
            n[i] = -n[i];
        }
        return n;
    }

    @Test
    void aHashCollisionIsNeverServedAsAHit() throws Exception {
        InferenceSettings settings = settings(LINEAR_V1, 1);
        PipelineEvent e = txn("t1", "card-a", row(1), 1);
        try (var h = harness(settings)) {
            // Another vector stored under e's hash, as a colliding vector would be.
            BatchingInferenceOperator op = operator(h);
            op.setCurrentKey("card-a");
            MapState<Long, CachedScore> entries =
                    op.getKeyedStateStore()
                            .getMapState(ScoreCache.descriptor(settings.batching().cacheTtl()));
            entries.put(e.featureHash(), new CachedScore(V1_ID, 0.999f, row(2)));

            h.processElement(e, 10);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 1);

            Score score = h.extractOutputValues().get(0);
            assertThat(score.getCacheHit()).isFalse();
            assertThat(score.getScore()).isCloseTo(expectedV1Score(row(1)), within(1e-6));
        }
    }

    @Test
    void aZeroTtlDisablesTheCache() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 1).withBatching(b -> b.cacheTtl(Duration.ZERO)))) {
            h.processElement(txn("t1", "card-a", row(1), 1), 10);
            h.processElement(txn("t2", "card-a", row(1), 2), 11);
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 2);

            assertThat(h.extractOutputValues())
                    .extracting(Score::getCacheHit)
                    .containsExactly(false, false);
            assertThat(modelCalls(h)).isEqualTo(2);
        }
    }

    // ---- checkpoints ----------------------------------------------------------------------

    @Test
    void restoresBufferedAndInFlightTransactionsAndScoresEachExactlyOnce() throws Exception {
        InferenceSettings settings = settings(LINEAR_V1, 4); // max in flight: 1
        OperatorSubtaskState checkpoint;
        List<String> emittedBeforeCheckpoint;
        try (var before = harness(settings, new EmbeddedRocksDBStateBackend(), null)) {
            for (int i = 0; i < 4; i++) {
                before.processElement(txn(i, 3), 100 + i);
            }
            runMailboxUntil(before, () -> before.extractOutputValues().size() == 4);
            for (int i = 4; i < 10; i++) { // 4..7 go in flight, 8 and 9 stay buffered
                before.processElement(txn(i, 3), 100 + i);
            }
            // Two batches closed, one completed: the second is in flight.
            assertThat(operator(before).metrics().batchSize.getCount()).isEqualTo(2);
            assertThat(modelCalls(before)).isEqualTo(1);

            checkpoint = before.snapshot(1, 1);
            emittedBeforeCheckpoint = ids(before.extractOutputValues());
            // What 'before' emits after the checkpoint is lost with it, as in a failure.
        }
        assertThat(emittedBeforeCheckpoint).containsExactly("t0", "t1", "t2", "t3");

        try (var after = harness(settings, new EmbeddedRocksDBStateBackend(), checkpoint)) {
            // Same card and vector as t0, scored before the checkpoint: the restored cache hits.
            after.processElement(txn("t0-again", "card-0", row(0), 2000), 200);
            after.endInput();

            List<StreamRecord<? extends Score>> out = after.extractOutputStreamRecords();
            assertThat(out)
                    .extracting(r -> r.getValue().getId())
                    .containsExactlyInAnyOrder("t4", "t5", "t6", "t7", "t8", "t9", "t0-again");
            for (StreamRecord<? extends Score> record : out) {
                Score score = record.getValue();
                if (score.getId().equals("t0-again")) {
                    assertThat(score.getCacheHit()).isTrue();
                    assertThat(score.getScore()).isCloseTo(expectedV1Score(row(0)), within(1e-6));
                    assertThat(record.getTimestamp()).isEqualTo(200);
                } else {
                    int i = Integer.parseInt(score.getId().substring(1));
                    assertThat(score.getCacheHit()).isFalse();
                    assertThat(score.getKey()).isEqualTo("card-" + (i % 3));
                    assertThat(score.getScore()).isCloseTo(expectedV1Score(row(i)), within(1e-6));
                    assertThat(record.getTimestamp()).isEqualTo(100 + i);
                }
            }
            assertThat(modelCalls(after)).isEqualTo(2); // the restored 6: a batch of 4 and of 2
            assertThat(operator(after).metrics().rowsScored.getCount()).isEqualTo(6);
        }
    }

    @Test
    void afterARescaleEachRestoredTransactionIsScoredOnceByTheSubtaskOwningItsCard()
            throws Exception {
        InferenceSettings settings = settings(LINEAR_V1, 64);
        int maxParallelism = 128;
        OperatorSubtaskState checkpoint;
        try (var before = harness(settings, null, null, maxParallelism, 1, 0, false)) {
            for (int i = 0; i < 12; i++) { // 6 cards, all in one open batch
                before.processElement(txn(i, 6), 100 + i);
            }
            checkpoint = before.snapshot(1, 1);
        }

        List<Score> all = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            OperatorSubtaskState share =
                    AbstractStreamOperatorTestHarness.repartitionOperatorState(
                            checkpoint, maxParallelism, 1, 2, subtask);
            try (var after = harness(settings, null, share, maxParallelism, 2, subtask, false)) {
                after.endInput();
                List<Score> out = after.extractOutputValues();
                int owner = subtask;
                assertThat(out)
                        .isNotEmpty()
                        .allSatisfy(
                                score ->
                                        assertThat(
                                                        KeyGroupRangeAssignment
                                                                .assignKeyToParallelOperator(
                                                                        score.getKey(),
                                                                        maxParallelism,
                                                                        2))
                                                .isEqualTo(owner));
                all.addAll(out);
            }
        }
        assertThat(ids(all))
                .containsExactlyInAnyOrder(
                        "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11");
    }

    // ---- watermarks -----------------------------------------------------------------------

    @Test
    void holdsAWatermarkBackUntilTheTransactionsBeforeItAreEmitted() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4))) {
            h.processWatermark(5); // nothing pending: passes at once
            assertThat(h.getOutput()).containsExactly(new Watermark(5));

            h.processElement(txn(0, 4), 10);
            h.processWatermark(20);
            h.processElement(txn(1, 4), 30);
            assertThat(h.getOutput()).containsExactly(new Watermark(5));

            h.setProcessingTime(10); // max wait: the batch of t0 and t1 is scored
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 2);

            // t1 arrived after the watermark: it does not overtake it either.
            List<Object> out = new ArrayList<>(h.getOutput());
            assertThat(out).hasSize(4);
            assertThat(out.get(0)).isEqualTo(new Watermark(5));
            assertThat(((Score) ((StreamRecord<?>) out.get(1)).getValue()).getId()).isEqualTo("t0");
            assertThat(out.get(2)).isEqualTo(new Watermark(20));
            assertThat(((Score) ((StreamRecord<?>) out.get(3)).getValue()).getId()).isEqualTo("t1");
        }
    }

    // ---- failures -------------------------------------------------------------------------

    @Test
    void sendsEveryTransactionOfAFailedBatchToDeadLettersAndKeepsScoring() throws Exception {
        // No retries: the batch of 3 fails, then its halves [t0] and [t1, t2], then [t1] and [t2].
        try (var h = harness(settings(FAILS_UNLESS_8_ROWS, 8).withBatching(b -> b.maxRetries(0)))) {
            List<PipelineEvent> failing = List.of(txn(0, 4), txn(1, 4), txn(2, 4));
            for (int i = 0; i < failing.size(); i++) {
                h.processElement(failing.get(i), 100 + i);
            }
            h.setProcessingTime(10); // a batch of 3 rows: the model call fails
            runMailboxUntil(h, () -> deadLetters(h).size() == 3);

            assertThat(h.extractOutputValues()).isEmpty();
            List<StreamRecord<DeadLetter>> letters = new ArrayList<>(deadLetters(h));
            for (int i = 0; i < failing.size(); i++) {
                PipelineEvent e = failing.get(i);
                DeadLetter letter = letters.get(i).getValue();
                assertThat(letters.get(i).getTimestamp()).isEqualTo(100 + i);
                assertThat(letter.getStage()).isEqualTo(Stage.INFERENCE);
                assertThat(bytes(letter.getPayload())).isEqualTo(e.raw);
                assertThat(letter.getSourceTopic()).isEqualTo(TOPIC);
                assertThat(letter.getSourcePartition()).isEqualTo(e.sourcePartition);
                assertThat(letter.getSourceOffset()).isEqualTo(e.sourceOffset);
                assertThat(letter.getErrorClass()).isEqualTo("ai.onnxruntime.OrtException");
                assertThat(letter.getErrorMessage()).isNotBlank();
                assertThat(letter.getTransactionId()).isEqualTo(e.id);
            }
            assertThat(operator(h).deadLetters().getCount()).isEqualTo(3);
            assertThat(modelCalls(h)).isEqualTo(5);

            for (int i = 3; i < 11; i++) { // a batch of 8 rows, which this model accepts
                h.processElement(txn(i, 4), 100 + i);
            }
            runMailboxUntil(h, () -> h.extractOutputValues().size() == 8);
            assertThat(deadLetters(h)).hasSize(3);
            assertThat(h.wasFailedExternally()).isFalse();
        }
    }

    @Test
    void sendsATransactionWithTheWrongNumberOfFeaturesToDeadLetters() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4))) {
            h.processElement(txn("short", "card-a", new float[17], 1), 10);

            assertThat(deadLetters(h)).hasSize(1);
            DeadLetter letter = deadLetters(h).peek().getValue();
            assertThat(letter.getStage()).isEqualTo(Stage.INFERENCE);
            assertThat(letter.getErrorMessage()).isEqualTo("expected 18 features, found 17");
            assertThat(operator(h).metrics().batchSize.getCount()).isZero();
        }
    }

    @Test
    void aTransactionWithoutValidFeaturesIsADeadLetterEvenWithAFallbackScore() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4).withFallbackScore(0.5))) {
            h.processElement(txn("none", "card-a", null, 1), 10);

            assertThat(h.extractOutputValues()).isEmpty();
            assertThat(deadLetters(h)).hasSize(1);
            assertThat(deadLetters(h).peek().getValue().getErrorMessage())
                    .isEqualTo("expected 18 features, found none");
            assertThat(operator(h).deadLetters().getCount()).isEqualTo(1);
            assertThat(operator(h).fallbacks().getCount()).isZero();
        }
    }

    @Test
    void refusesAModelWhoseFeaturesAreNotCardFeatures() {
        assertThatThrownBy(() -> harness(settings(WRONG_FEATURES, 4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected [amount_log, card_present, ")
                .hasMessageContaining("found [card_present, amount_log, ")
                .hasMessageContaining(
                        "first difference at index 0: expected 'amount_log', found 'card_present'");
        assertThat(OnnxModel.openSessions()).isZero();
    }

    // ---- resources ------------------------------------------------------------------------

    @Test
    void leavesNoSessionOrThreadBehindAfterManyOpenCloseCycles() throws Exception {
        for (int cycle = 0; cycle < 20; cycle++) {
            try (var h = harness(settings(LINEAR_V1, 4))) {
                assertThat(OnnxModel.openSessions()).isEqualTo(1);
                for (int i = 0; i < 6; i++) {
                    h.processElement(txn(i, 4), i);
                }
                if (cycle % 2 == 0) {
                    h.endInput();
                    assertThat(h.extractOutputValues()).hasSize(6);
                } else {
                    // Cancelled with a batch in flight: close without finish, as on a failure.
                    operator(h).close();
                }
            }
        }
        assertThat(OnnxModel.openSessions()).isZero();
        assertThat(Thread.getAllStackTraces().keySet())
                .extracting(Thread::getName)
                .noneMatch(name -> name.startsWith(BatchingInferenceOperator.THREAD_NAME_PREFIX));
    }

    // ---- types ----------------------------------------------------------------------------

    @Test
    void emittedAndStoredTypesSerializeWithoutKryo() throws Exception {
        SerializerConfigImpl noKryo = new SerializerConfigImpl();
        noKryo.setGenericTypes(false);

        PipelineEvent element = txn("t1", "card-a", row(1), 7);
        Score score = new Score();
        score.id = "t1";
        score.key = "card-a";
        score.score = 0.25;
        score.decision = Scores.APPROVE;
        score.modelName = "fixture-linear";
        score.modelVersion = "1";
        score.eventTime = EVENT_TIME.toEpochMilli();
        score.scoredAt = EVENT_TIME.plusMillis(3).toEpochMilli();
        score.body = new byte[] {1};
        DeadLetter letter =
                DeadLetters.of(new byte[] {1, 2}, TOPIC, 3, 7, Stage.INFERENCE, "E", "m", "t1");
        CachedScore cached = new CachedScore(V1_ID, 0.25f, row(1));

        assertThat(serializer(Score.class, noKryo)).isInstanceOf(PojoSerializer.class);
        assertThat(serializer(DeadLetter.class, noKryo)).isInstanceOf(AvroSerializer.class);
        assertThat(serializer(PipelineEvent.class, noKryo)).isInstanceOf(PojoSerializer.class);
        assertThat(serializer(CachedScore.class, noKryo)).isInstanceOf(PojoSerializer.class);

        assertThat(roundTrip(score, Score.class, noKryo)).isEqualTo(score);
        assertThat(roundTrip(letter, DeadLetter.class, noKryo)).isEqualTo(letter);
        assertThat(roundTrip(element, PipelineEvent.class, noKryo)).isEqualTo(element);
        assertThat(roundTrip(cached, CachedScore.class, noKryo))
                .usingRecursiveComparison()
                .isEqualTo(cached);
        // Every harness in this class runs so: its state and output types could not be Kryo.
        try (var h = harness(settings(LINEAR_V1, 4))) {
            assertThat(h.getOperator().getExecutionConfig().getSerializerConfig())
                    .matches(config -> config.hasGenericTypesDisabled());
        }
    }

    @Test
    void theOperatorSurvivesJavaSerializationAsPartOfTheJobGraph() throws Exception {
        BatchingInferenceOperator operator =
                new BatchingInferenceOperator(
                        InferenceSettings.defaults("bundled:gbdt").withFallbackScore(0.5));

        assertThat(InstantiationUtil.clone(operator)).isNotNull();
    }

    // ---- helpers --------------------------------------------------------------------------

    private static List<String> ids(List<Score> scores) {
        return scores.stream().map(Score::getId).collect(Collectors.toList());
    }

    private static String decision(double score) {
        return score >= DECLINE ? Scores.DECLINE : score >= REVIEW ? Scores.REVIEW : Scores.APPROVE;
    }

    private static Queue<StreamRecord<DeadLetter>> deadLetters(
            KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, Score> h) {
        Queue<StreamRecord<DeadLetter>> letters = h.getSideOutput(DeadLetters.TAG);
        return letters == null ? new ArrayDeque<>() : letters;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }

    private static <T> TypeSerializer<T> serializer(Class<T> type, SerializerConfigImpl config) {
        return TypeInformation.of(type).createSerializer(config);
    }

    private static <T> T roundTrip(T value, Class<T> type, SerializerConfigImpl config)
            throws Exception {
        TypeSerializer<T> serializer = serializer(type, config);
        DataOutputSerializer out = new DataOutputSerializer(256);
        serializer.serialize(value, out);
        return serializer.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }
}
