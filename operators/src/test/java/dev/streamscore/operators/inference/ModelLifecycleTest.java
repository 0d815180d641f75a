package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.BIAS;
import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V2;
import static dev.streamscore.operators.inference.InferenceFixtures.location;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.operators.batching.HarnessMailbox;
import dev.streamscore.operators.lifecycle.ModelCommands;
import dev.streamscore.operators.lifecycle.ModelStatuses;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelState;
import dev.streamscore.schemas.ModelStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.StreamTaskActionExecutor;
import org.apache.flink.streaming.runtime.tasks.mailbox.MailboxExecutorImpl;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Models changed while the operator runs, through model commands on its second input: deploys
 * verified before they serve, refusals that leave the serving model alone, rollbacks, a challenger
 * in shadow, and the models a checkpoint recorded after a restore.
 */
class ModelLifecycleTest {

    private static final String V1 = "fixture-linear:1";
    private static final String V2 = "fixture-linear:2";

    private int next;

    @AfterEach
    void leavesNoSessionOpen() {
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void deploysANewChampionBetweenBatchesAndStampsEveryScoreWithItsVersion() throws Exception {
        try (var h = harness(null)) {
            score(h, 2);
            ModelCommand deploy = deploy(LINEAR_V2, ModelRole.CHAMPION);
            h.processElement2(new StreamRecord<>(deploy));
            runUntil(h, () -> !operator(h).loading());
            score(h, 2);

            assertThat(versions(h)).containsExactly(V1, V1, V2, V2);
            assertThat(states(h))
                    .containsExactly(
                            "job-config ACTIVE fixture-linear:1",
                            "job-config SERVING fixture-linear:1",
                            deploy.getCommandId() + " ACTIVE fixture-linear:2",
                            deploy.getCommandId() + " SERVING fixture-linear:2");
            assertThat(statuses(h).get(3).getFirstScoredAt()).isNotNull();
            assertThat(operator(h).models().openModels()).isEqualTo(1); // v1 closed
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "wrong SHA-256, linear-v2,"
                + " 0000000000000000000000000000000000000000000000000000000000000000, has SHA-256",
        "wrong input shape, wrong-shape, , cannot open fixture-linear:wrong-shape",
        "scores outside [0 1], unbounded, , expected a probability in [0, 1]",
        "other features, wrong-features, , must take the features the pipeline computes",
        "no such folder, no-such-model,"
            + " 1111111111111111111111111111111111111111111111111111111111111111, cannot load the"
            + " model"
    })
    void refusesAModelThatFailsVerificationAndKeepsServingTheOldOne(
            String what, String fixture, String sha, String reason) throws Exception {
        try (var h = harness(null)) {
            String where = fixture.equals("no-such-model") ? "/no/such/model" : location(fixture);
            ModelCommand bad =
                    ModelCommands.deploy(
                            "bad",
                            "fixture-linear",
                            fixture.equals("no-such-model")
                                    ? "x"
                                    : ModelArtifact.load(where).descriptor().version(),
                            where,
                            sha != null ? sha : ModelArtifact.load(where).descriptor().sha256(),
                            ModelRole.CHAMPION,
                            "test");
            h.processElement2(new StreamRecord<>(bad));
            runUntil(h, () -> !operator(h).loading());
            score(h, 2);

            ModelStatus refused =
                    statuses(h).stream()
                            .filter(s -> s.getCommandId().equals("bad"))
                            .findFirst()
                            .orElseThrow();
            assertThat(refused.getState()).isEqualTo(ModelState.REFUSED);
            assertThat(refused.getReason()).contains(reason);
            assertThat(versions(h)).containsExactly(V1, V1);
            assertThat(operator(h).registry().pending()).isEmpty();
        }
    }

    @Test
    void rollsBackToThePreviousChampionAndRefusesARollbackPastTheFirst() throws Exception {
        try (var h = harness(null)) {
            h.processElement2(new StreamRecord<>(deploy(LINEAR_V2, ModelRole.CHAMPION)));
            ModelCommand rollback = ModelCommands.rollback("test");
            ModelCommand tooFar = ModelCommands.rollback("test");
            h.processElement2(new StreamRecord<>(rollback));
            h.processElement2(new StreamRecord<>(tooFar));
            runUntil(h, () -> operator(h).registry().pending().isEmpty());
            score(h, 1);

            assertThat(versions(h)).containsExactly(V1);
            ModelStatus back = status(h, rollback.getCommandId(), ModelState.ACTIVE);
            assertThat(back.getModelVersion()).isEqualTo("1");
            assertThat(status(h, tooFar.getCommandId(), ModelState.REFUSED).getReason())
                    .contains("no previous champion");
        }
    }

    @Test
    void aChallengerScoresTheSameTransactionsInShadowUntilRetired() throws Exception {
        try (var h = harness(null)) {
            h.processElement2(new StreamRecord<>(deploy(LINEAR_V2, ModelRole.CHALLENGER)));
            runUntil(h, () -> !operator(h).loading());
            score(h, 3);
            runUntil(h, () -> challengerScores(h).size() == 3);
            ModelCommand retire = ModelCommands.retireChallenger("test");
            h.processElement2(new StreamRecord<>(retire));
            score(h, 2);

            assertThat(versions(h)).containsExactly(V1, V1, V1, V1, V1);
            assertThat(challengerScores(h))
                    .extracting(s -> s.getId() + " " + s.getModelVersion())
                    .containsExactly("t0 2", "t1 2", "t2 2");
            // v2 = sigmoid(-(x . W) + B), v1's weights negated.
            for (Score c : challengerScores(h)) {
                int i = Integer.parseInt(c.getId().substring(1));
                double dot = logit(InferenceFixtures.expectedV1Score(row(i))) - BIAS;
                assertThat(c.getScore()).isCloseTo(sigmoid(-dot + BIAS), within(1e-5));
            }
            assertThat(status(h, retire.getCommandId(), ModelState.RETIRED).getModelVersion())
                    .isEqualTo("2");
            assertThat(operator(h).challenger()).isNull();
        }
    }

    @Test
    void aRestoredSubtaskServesTheModelsItsCheckpointRecordedAndAppliesPendingCommands()
            throws Exception {
        OperatorSubtaskState snapshot;
        ModelCommand pendingChallenger = deploy(LINEAR_V1, ModelRole.CHALLENGER);
        try (var h = harness(null)) {
            h.processElement2(new StreamRecord<>(deploy(LINEAR_V2, ModelRole.CHAMPION)));
            runUntil(h, () -> !operator(h).loading());
            score(h, 1);
            // Received, not yet applied when the snapshot is taken.
            operator(h).registry().received(pendingChallenger);
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(snapshot)) {
            // The checkpoint's champion serves from the first element, before any mail runs.
            assertThat(operator(h).models().current().descriptor().id()).isEqualTo(V2);
            runUntil(h, () -> operator(h).challenger() != null);
            score(h, 1);
            runUntil(h, () -> challengerScores(h).size() == 1);

            assertThat(versions(h)).containsExactly(V2);
            assertThat(challengerScores(h).get(0).getModelVersion()).isEqualTo("1");
            assertThat(status(h, ModelCommands.RESTORE, ModelState.ACTIVE).getModelVersion())
                    .isEqualTo("2");
            assertThat(status(h, pendingChallenger.getCommandId(), ModelState.ACTIVE).getRole())
                    .isEqualTo(ModelRole.CHALLENGER);
        }
    }

    @Test
    void aChangedModelOptionAtRestoreIsDeployedOverTheCheckpointsChampion() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(null)) {
            score(h, 1);
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(snapshot, settings(LINEAR_V2, 1))) {
            score(h, 1);
            assertThat(versions(h)).containsExactly(V2);
            assertThat(operator(h).registry().previousChampion().getModelVersion()).isEqualTo("1");
        }
    }

    @Test
    void aCommandWithoutItsFieldsIsRefusedWithoutLoadingAnything() throws Exception {
        try (var h = harness(null)) {
            ModelCommand bad =
                    ModelCommand.newBuilder(deploy(LINEAR_V2, ModelRole.CHAMPION))
                            .setSha256("not-hex")
                            .build();
            h.processElement2(new StreamRecord<>(bad));
            assertThat(operator(h).loading()).isFalse();
            assertThat(status(h, bad.getCommandId(), ModelState.REFUSED).getReason())
                    .contains("64 hex digits");
        }
    }

    @Test
    void aRecordedChampionThatCannotBeLoadedFailsTheRestoreInsteadOfServingAnother(
            @TempDir Path models) throws Exception {
        Path copy = models.resolve("linear-v2");
        Files.createDirectories(copy);
        for (String file : new String[] {"descriptor.json", "model.onnx"}) {
            Files.copy(Path.of(location(LINEAR_V2), file), copy.resolve(file));
        }
        OperatorSubtaskState snapshot;
        try (var h = harness(null)) {
            ModelDescriptor d = ModelArtifact.load(copy.toString()).descriptor();
            h.processElement2(
                    new StreamRecord<>(
                            ModelCommands.deploy(d, copy.toString(), ModelRole.CHAMPION, "test")));
            runUntil(h, () -> !operator(h).loading());
            score(h, 1);
            assertThat(versions(h)).containsExactly(V2);
            snapshot = h.snapshot(1, 1);
        }
        Files.delete(copy.resolve("model.onnx"));

        assertThatThrownBy(() -> harness(snapshot).close())
                .hasMessageContaining("the checkpoint's champion fixture-linear:2")
                .hasMessageContaining("restore with another --model");
        // The way out: another --model (here v2 from where it still is), deployed over it.
        try (var h = harness(snapshot, settings(LINEAR_V2, 1))) {
            score(h, 1);
            assertThat(versions(h)).containsExactly(V2);
            assertThat(operator(h).registry().champion().getLocation())
                    .isEqualTo(location(LINEAR_V2));
        }
    }

    @Test
    void aRetiredConfiguredChallengerStaysRetiredAfterARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h =
                harness(
                        null,
                        new BatchingInferenceOperator(settings(LINEAR_V1, 1))
                                .withChallenger(location(LINEAR_V2)))) {
            assertThat(operator(h).challenger().descriptor().id()).isEqualTo(V2);
            h.processElement2(new StreamRecord<>(ModelCommands.retireChallenger("test")));
            assertThat(operator(h).challenger()).isNull();
            snapshot = h.snapshot(1, 1);
        }
        try (var h =
                harness(
                        snapshot,
                        new BatchingInferenceOperator(settings(LINEAR_V1, 1))
                                .withChallenger(location(LINEAR_V2)))) {
            assertThat(operator(h).challenger()).isNull();
        }
        // A changed --challenger-model is applied over the checkpoint's choice.
        try (var h =
                harness(
                        snapshot,
                        new BatchingInferenceOperator(settings(LINEAR_V1, 1))
                                .withChallenger(location(LINEAR_V1)))) {
            assertThat(operator(h).challenger().descriptor().id()).isEqualTo(V1);
        }
    }

    @Test
    void aConfiguredChallengerThatFailsVerificationIsRefusedAndTheJobScoresWithoutOne()
            throws Exception {
        try (var h =
                harness(
                        null,
                        new BatchingInferenceOperator(settings(LINEAR_V1, 1))
                                .withChallenger(location("unbounded")))) {
            assertThat(operator(h).challenger()).isNull();
            assertThat(status(h, ModelCommands.JOB_CONFIG, ModelState.REFUSED).getReason())
                    .contains("expected a probability in [0, 1]");
            score(h, 1);
            assertThat(versions(h)).containsExactly(V1);
        }
    }

    @Test
    void aChallengerReplacedWhileItsCallHangsHandsItsRowsToTheNextOne() throws Exception {
        ScriptedScorer hung = new ScriptedScorer(ScriptedScorer.Step.HANG);
        try (var h = harness(null)) {
            operator(h).replaceChallenger(hung.factory(settings(LINEAR_V2, 1)).open());
            score(h, 2);
            runUntil(h, () -> hung.hanging() == 1);
            // Its call never returns; the next challenger scores its rows on a thread of its own.
            h.processElement2(new StreamRecord<>(deploy(LINEAR_V1, ModelRole.CHALLENGER)));
            runUntil(h, () -> !operator(h).loading());
            runUntil(h, () -> challengerScores(h).size() == 2);
            assertThat(challengerScores(h))
                    .extracting(Score::getModelVersion)
                    .containsExactly("1", "1");

            hung.release(); // its late outcome is ignored, and the hung model closed
            runUntil(h, () -> hung.hanging() == 0);
            score(h, 1);
            runUntil(h, () -> challengerScores(h).size() == 3);
            assertThat(challengerScores(h)).extracting(Score::getModelVersion).hasSize(3);
        }
    }

    // ---- fixtures ----------------------------------------------------------------------------

    private static double logit(double p) {
        return Math.log(p / (1 - p));
    }

    private static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    private static ModelCommand deploy(String fixture, ModelRole role) {
        ModelDescriptor d = ModelArtifact.load(location(fixture)).descriptor();
        return ModelCommands.deploy(d, location(fixture), role, "test");
    }

    private void score(
            KeyedTwoInputStreamOperatorTestHarness<String, PipelineEvent, ModelCommand, Score> h,
            int n)
            throws Exception {
        int before = h.extractOutputValues().size();
        for (int i = 0; i < n; i++) {
            int id = next++;
            h.processElement1(new StreamRecord<>(txn(id, 1_000_000), 100 + id));
        }
        runUntil(h, () -> h.extractOutputValues().size() == before + n);
    }

    private static void runUntil(
            KeyedTwoInputStreamOperatorTestHarness<?, ?, ?, ?> h, BooleanSupplier done)
            throws Exception {
        HarnessMailbox.runUntil(h, done);
    }

    private static KeyedTwoInputStreamOperatorTestHarness<
                    String, PipelineEvent, ModelCommand, Score>
            harness(OperatorSubtaskState state) throws Exception {
        return harness(state, settings(LINEAR_V1, 1));
    }

    private static KeyedTwoInputStreamOperatorTestHarness<
                    String, PipelineEvent, ModelCommand, Score>
            harness(OperatorSubtaskState state, InferenceSettings settings) throws Exception {
        return harness(
                state,
                new BatchingInferenceOperator(settings).withFeatures(InferenceFixtures.FEATURES));
    }

    private static KeyedTwoInputStreamOperatorTestHarness<
                    String, PipelineEvent, ModelCommand, Score>
            harness(OperatorSubtaskState state, BatchingInferenceOperator operator)
                    throws Exception {
        var h =
                new KeyedTwoInputStreamOperatorTestHarness<
                        String, PipelineEvent, ModelCommand, Score>(
                        operator, e -> e.key, c -> "", Types.STRING);
        try {
            h.getExecutionConfig()
                    .configure(
                            Configuration.fromMap(Map.of("pipeline.generic-types", "false")),
                            ModelLifecycleTest.class.getClassLoader());
            h.setStateBackend(new EmbeddedRocksDBStateBackend());
            // This harness, unlike the one-input one, does not hand the operator its mailbox.
            operator.setMailboxExecutor(
                    new MailboxExecutorImpl(
                            h.getTaskMailbox(), 0, StreamTaskActionExecutor.IMMEDIATE));
            h.setup(
                    TypeInformation.of(Score.class)
                            .createSerializer(h.getExecutionConfig().getSerializerConfig()));
            if (state != null) {
                h.initializeState(state);
            }
            h.open();
            return h;
        } catch (Exception | Error e) {
            h.close();
            throw e;
        }
    }

    private static BatchingInferenceOperator operator(
            KeyedTwoInputStreamOperatorTestHarness<?, ?, ?, ?> h) {
        return (BatchingInferenceOperator) h.getOperator();
    }

    private static List<String> versions(
            KeyedTwoInputStreamOperatorTestHarness<String, PipelineEvent, ModelCommand, Score> h) {
        return h.extractOutputValues().stream()
                .map(s -> s.getModelName() + ":" + s.getModelVersion())
                .collect(Collectors.toList());
    }

    private static List<ModelStatus> statuses(
            KeyedTwoInputStreamOperatorTestHarness<?, ?, ?, ?> h) {
        List<ModelStatus> out = new ArrayList<>();
        var queue = h.getSideOutput(ModelStatuses.TAG);
        if (queue != null) {
            queue.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }

    private static List<String> states(KeyedTwoInputStreamOperatorTestHarness<?, ?, ?, ?> h) {
        return statuses(h).stream()
                .map(
                        s ->
                                s.getCommandId()
                                        + " "
                                        + s.getState()
                                        + " "
                                        + s.getModelName()
                                        + ":"
                                        + s.getModelVersion())
                .collect(Collectors.toList());
    }

    private static ModelStatus status(
            KeyedTwoInputStreamOperatorTestHarness<?, ?, ?, ?> h,
            String commandId,
            ModelState state) {
        return statuses(h).stream()
                .filter(s -> s.getCommandId().equals(commandId) && s.getState() == state)
                .findFirst()
                .orElseThrow(
                        () ->
                                new AssertionError(
                                        "no "
                                                + state
                                                + " status for "
                                                + commandId
                                                + " in "
                                                + states(h)));
    }

    private static List<Score> challengerScores(
            KeyedTwoInputStreamOperatorTestHarness<?, ?, ?, ?> h) {
        List<Score> out = new ArrayList<>();
        var queue = h.getSideOutput(BatchingInferenceOperator.CHALLENGER_SCORES);
        if (queue != null) {
            queue.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }
}
