package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.operators.batching.BatchingOperator;
import dev.streamscore.operators.batching.OnnxBatchScorer;
import dev.streamscore.operators.batching.Ticker;
import dev.streamscore.operators.lifecycle.ModelCommands;
import dev.streamscore.operators.lifecycle.ModelLoader;
import dev.streamscore.operators.lifecycle.ModelRegistry;
import dev.streamscore.operators.lifecycle.ModelStatuses;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.FeatureLogEntry;
import dev.streamscore.schemas.ModelAction;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRegistryState;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelState;
import dev.streamscore.schemas.ModelStatus;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.OutputTag;
import org.apache.flink.util.Preconditions;

/**
 * Scores a pipeline's events with its model: the generic {@link BatchingOperator} (micro-batches
 * off the task thread, a per-key score cache in keyed state, coalescing, retries and bisection,
 * ordered or unordered output, checkpointed pending elements) with {@link PipelineScoring} as its
 * function. An event's row is its feature row; its output a {@link Score} with the model's decision
 * ({@code cacheHit} when the score cost it no model row); an event the model cannot score gets
 * {@link InferenceSettings#fallbackScore()} or a dead letter on {@link
 * dev.streamscore.operators.deadletter.DeadLetters#TAG} with stage {@code INFERENCE}. With the
 * pipeline's features given ({@link #withFeatures}), a model's descriptor must list exactly those,
 * in order, or it never serves.
 *
 * <p>Its models change while it runs, through {@link ModelCommand}s on its second input (the
 * control stream, broadcast to every subtask): a deploy is loaded and verified off the task thread
 * by a {@link ModelLoader} and only then swapped in between batches; a model that fails
 * verification is refused and the one before keeps serving; a rollback returns to the champion
 * before; a challenger scores in shadow what the champion scored, its scores on {@link
 * #CHALLENGER_SCORES}. Every subtask reports what it did on {@link ModelStatuses#TAG}. Which models
 * it serves (and commands not yet applied) are in its checkpoint, as broadcast state, so a restored
 * or rescaled subtask serves the versions its checkpoint recorded. Commands apply one at a time, in
 * the order they arrive. Without a second input (one-input use) it scores with the configured
 * models only.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<Score> scores =
 *         DataStreamUtils.reinterpretAsKeyedStream(enriched, e -> e.key, Types.STRING)
 *                 .transform(
 *                         "score: batched ONNX inference",
 *                         TypeInformation.of(Score.class),
 *                         new BatchingInferenceOperator(InferenceSettings.defaults("bundled:gbdt"))
 *                                 .withFeatures(pipeline.featureNames()))
 *                 .uid("batching-inference");
 * DataStream<DeadLetter> deadLetters = scores.getSideOutput(DeadLetters.TAG);
 * }</pre>
 */
public class BatchingInferenceOperator extends BatchingOperator<PipelineEvent, Score>
        implements TwoInputStreamOperator<PipelineEvent, ModelCommand, Score> {

    private static final long serialVersionUID = 4L;

    /** Events sent to the dead-letter output with stage INFERENCE. */
    public static final String DEAD_LETTERS = PipelineScoring.DEAD_LETTERS;

    /** Events given the fallback score because the model failed on them. */
    public static final String FALLBACKS = PipelineScoring.FALLBACKS;

    /** Side output of the challenger's scores: the same schema as the champion's. */
    public static final OutputTag<Score> CHALLENGER_SCORES =
            new OutputTag<>("challenger-scores", TypeInformation.of(Score.class));

    /** Side output of the feature log, when on ({@link #withFeatureLog}). */
    public static final OutputTag<FeatureLogEntry> FEATURE_LOG =
            new OutputTag<>("feature-log", TypeInformation.of(FeatureLogEntry.class));

    /** Broadcast state of the models each subtask serves; part of the savepoint format. */
    public static final MapStateDescriptor<String, ModelRegistryState> REGISTRY_STATE =
            new MapStateDescriptor<>(
                    "model-registry", Types.STRING, TypeInformation.of(ModelRegistryState.class));

    private static final String REGISTRY_KEY = "registry";

    private final PipelineScoring scoring;
    private final String championLocation;
    private final ModelLoader.Opener opener;
    private String challengerLocation;

    private transient BroadcastState<String, ModelRegistryState> registryState;
    private transient ModelRegistry registry;
    private transient boolean restoredRegistry;
    private transient ModelLoader loader;
    private transient boolean loading;
    private transient List<ModelStatus> statusesAtOpen;

    /** The command each open model was deployed by, for the status of its first batch. */
    private transient Map<BatchScorer, Deployed> deployedBy;

    /** A command, and the deploy command of the model it made serve (itself, for a deploy). */
    private record Deployed(ModelCommand command, ModelCommand model) {}

    public BatchingInferenceOperator(InferenceSettings settings) {
        this(
                settings,
                OnnxBatchScorer.factory(required(settings).modelLocation(), settings.onnx()),
                Ticker.SYSTEM);
    }

    /**
     * Scoring with models from {@code scorers} instead of the settings' model location: for system
     * tests and benchmarks that wrap ONNX Runtime (a model made slow on purpose, say).
     */
    public static BatchingInferenceOperator withScorers(
            InferenceSettings settings, BatchScorer.Factory scorers) {
        return new BatchingInferenceOperator(settings, scorers, Ticker.SYSTEM);
    }

    /** With another model or clock: the seams the tests use. */
    BatchingInferenceOperator(
            InferenceSettings settings, BatchScorer.Factory scorers, Ticker ticker) {
        this(settings, new PipelineScoring(required(settings)), scorers, ticker);
    }

    private BatchingInferenceOperator(
            InferenceSettings settings,
            PipelineScoring scoring,
            BatchScorer.Factory scorers,
            Ticker ticker) {
        super(
                settings.batching(),
                scoring,
                scorers,
                TypeInformation.of(PipelineEvent.class),
                ticker);
        this.scoring = scoring;
        this.championLocation = settings.modelLocation();
        OnnxOptions onnx = settings.onnx();
        this.opener = artifact -> OnnxBatchScorer.open(artifact, onnx);
        withChallengerOutput(CHALLENGER_SCORES);
    }

    private static InferenceSettings required(InferenceSettings settings) {
        Preconditions.checkArgument(settings != null, "inference settings must be set, found none");
        return settings;
    }

    /**
     * Scores only with models whose descriptor lists exactly {@code features}, in this order: the
     * pipeline's. Without it any model serves whose feature count the rows have.
     */
    public BatchingInferenceOperator withFeatures(java.util.List<String> features) {
        scoring.features(features);
        return this;
    }

    /**
     * Writes a {@link FeatureLogEntry} of each score (but fallback scores) to {@link #FEATURE_LOG}:
     * the exact row the model scored, with the model's version and SHA-256 and the score.
     */
    public BatchingInferenceOperator withFeatureLog() {
        withLogOutput(FEATURE_LOG);
        return this;
    }

    @Override
    public BatchingInferenceOperator withInputsOwned() {
        super.withInputsOwned();
        return this;
    }

    /**
     * Starts with the model at {@code location} as challenger ({@code null}: none), as a deploy
     * command would: on a fresh start, or on a restore whose checkpoint holds the challenger of the
     * job's configuration.
     */
    public BatchingInferenceOperator withChallenger(String location) {
        this.challengerLocation = location == null || location.isBlank() ? null : location;
        return this;
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        registryState = context.getOperatorStateStore().getBroadcastState(REGISTRY_STATE);
        ModelRegistryState recorded = registryState.get(REGISTRY_KEY);
        if (recorded != null) {
            registry = ModelRegistry.restored(recorded);
            restoredRegistry = true;
        }
    }

    @Override
    public void open() throws Exception {
        deployedBy = new IdentityHashMap<>();
        statusesAtOpen = new ArrayList<>();
        loader =
                new ModelLoader(
                        opener,
                        scoring::checkModel,
                        ModelLoader::probeRowsOf,
                        getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks());
        super.open(); // opens the champion and challenger below
        List<ModelStatus> atOpen = statusesAtOpen;
        statusesAtOpen = null;
        for (ModelStatus status : atOpen) {
            emit(status);
        }
        startNextCommand();
    }

    /**
     * The configured champion on a fresh start; on a restore, the champion the checkpoint recorded
     * (or the configured one if the configuration changed since: a changed {@code --model} acts as
     * a deploy). A recorded champion that cannot be loaded fails the restore, saying why: a subtask
     * never serves another champion than its checkpoint recorded, so all subtasks agree.
     */
    @Override
    protected BatchScorer openChampion() throws Exception {
        if (registry == null) {
            BatchScorer configured = super.openChampion();
            ModelCommand command = configCommand(configured, championLocation, ModelRole.CHAMPION);
            registry = ModelRegistry.fresh(command);
            return served(configured, command, command);
        }
        // Only the configured model's identity: it is opened only if it serves.
        String configuredIdentity = identityAt(championLocation);
        ModelCommand recordedConfig = registry.configuredChampion();
        if (configuredIdentity != null
                && (recordedConfig == null
                        || !configuredIdentity.equals(ModelCommands.identity(recordedConfig)))) {
            BatchScorer configured = super.openChampion();
            ModelCommand command = configCommand(configured, championLocation, ModelRole.CHAMPION);
            registry.record(command);
            return served(configured, command, command);
        }
        ModelCommand champion = registry.champion();
        if (ModelCommands.identity(champion).equals(configuredIdentity)) {
            return served(super.openChampion(), restoreCommand(ModelRole.CHAMPION), champion);
        }
        try {
            return served(loader.load(champion), restoreCommand(ModelRole.CHAMPION), champion);
        } catch (ModelLoader.Refused refused) {
            throw new IllegalStateException(
                    "the checkpoint's champion "
                            + ModelCommands.identity(champion)
                            + " cannot be loaded from "
                            + champion.getLocation()
                            + ": "
                            + refused.getMessage()
                            + "; a subtask serves no other champion than its checkpoint recorded."
                            + " Make the model readable again, or restore with another --model,"
                            + " which is then deployed over it",
                    refused);
        }
    }

    /**
     * The challenger the checkpoint recorded; the configured one ({@code --challenger-model}) on a
     * fresh start or when the configuration changed since. Verified like a deploy: one that fails
     * is refused (a status record), and the job scores without a challenger.
     */
    @Override
    protected BatchScorer openChallenger() throws Exception {
        ModelCommand configured = null;
        if (challengerLocation != null) {
            try {
                var d = ModelArtifact.load(challengerLocation).descriptor();
                configured =
                        ModelCommands.deploy(
                                ModelCommands.JOB_CONFIG,
                                d.name(),
                                d.version(),
                                challengerLocation,
                                d.sha256(),
                                ModelRole.CHALLENGER,
                                null);
            } catch (RuntimeException e) {
                refuseAtOpen(
                        configCommand(ModelRole.CHALLENGER),
                        null,
                        "cannot load the challenger at "
                                + challengerLocation
                                + ": "
                                + e.getMessage());
            }
        }
        ModelCommand recordedConfigured = registry.configuredChallenger();
        boolean fromConfig =
                !restoredRegistry
                        || !Objects.equals(
                                configured == null ? null : ModelCommands.identity(configured),
                                recordedConfigured == null
                                        ? null
                                        : ModelCommands.identity(recordedConfigured));
        if (fromConfig) {
            registry.configuredChallenger(configured);
            ModelCommand current = registry.challenger();
            if (configured != null) {
                registry.record(configured);
            } else if (current != null && ModelCommands.JOB_CONFIG.equals(current.getCommandId())) {
                registry.dropChallenger(); // the configuration no longer names it
            }
        }
        ModelCommand challenger = registry.challenger();
        if (challenger == null) {
            return null;
        }
        boolean configuredNow = fromConfig && challenger == configured;
        ModelCommand answering = configuredNow ? configured : restoreCommand(ModelRole.CHALLENGER);
        try {
            return served(loader.load(challenger), answering, challenger);
        } catch (ModelLoader.Refused refused) {
            refuseAtOpen(answering, challenger, refused.getMessage());
            registry.dropChallenger();
            return null;
        }
    }

    private void refuseAtOpen(ModelCommand command, ModelCommand model, String reason) {
        LOG.error(
                "Challenger {} refused at start; scoring without one: {}",
                model == null ? challengerLocation : ModelCommands.identity(model),
                reason);
        statusesAtOpen.add(status(command, model, ModelState.REFUSED, reason, null));
    }

    /** The identity of the model at {@code location}; {@code null} when it cannot be read. */
    private static String identityAt(String location) {
        try {
            return ModelArtifact.load(location).descriptor().identity();
        } catch (RuntimeException e) {
            LOG.warn("Cannot read the configured model at {}: {}", location, e.getMessage());
            return null;
        }
    }

    private static ModelCommand configCommand(ModelRole role) {
        return ModelCommand.newBuilder()
                .setCommandId(ModelCommands.JOB_CONFIG)
                .setAction(ModelAction.DEPLOY)
                .setRole(role)
                .setIssuedAt(java.time.Instant.now())
                .build();
    }

    /** Records that {@code scorer} serves for {@code model}, answering {@code command}. */
    private BatchScorer served(BatchScorer scorer, ModelCommand command, ModelCommand model) {
        deployedBy.put(scorer, new Deployed(command, model));
        statusesAtOpen.add(status(command, model, ModelState.ACTIVE, null, null));
        return scorer;
    }

    private static ModelCommand configCommand(BatchScorer scorer, String location, ModelRole role) {
        var d = scorer.descriptor();
        return ModelCommands.deploy(
                ModelCommands.JOB_CONFIG, d.name(), d.version(), location, d.sha256(), role, null);
    }

    private static ModelCommand restoreCommand(ModelRole role) {
        return ModelCommand.newBuilder()
                .setCommandId(ModelCommands.RESTORE)
                .setAction(ModelAction.DEPLOY)
                .setRole(role)
                .setIssuedAt(java.time.Instant.now())
                .build();
    }

    // ---- the two inputs: events to score, and model commands ----

    @Override
    public void processElement1(StreamRecord<PipelineEvent> record) throws Exception {
        processElement(record);
    }

    @Override
    public void processElement2(StreamRecord<ModelCommand> record) throws Exception {
        ModelCommand command = record.getValue();
        LOG.info(
                "Model command {} received: {} {} {}",
                command.getCommandId(),
                command.getAction(),
                command.getRole(),
                command.getAction() == ModelAction.DEPLOY
                        ? ModelCommands.identity(command) + " from " + command.getLocation()
                        : "");
        registry.received(command);
        startNextCommand();
    }

    /** Event time is the events': the control stream takes no part in it. */
    @Override
    public void processWatermark1(Watermark mark) throws Exception {
        processWatermark(mark);
    }

    @Override
    public void processWatermark2(Watermark mark) {}

    /** Applies the oldest pending command, unless one is being loaded. */
    private void startNextCommand() throws Exception {
        while (!loading && registry.nextPending() != null) {
            ModelCommand command = registry.nextPending();
            String problem = ModelCommands.problemWith(command);
            ModelCommand target = command;
            if (problem == null && command.getAction() == ModelAction.ROLLBACK) {
                target = registry.previousChampion();
                if (target == null) {
                    problem = "no previous champion to roll back to";
                }
            }
            if (problem == null && command.getAction() == ModelAction.RETIRE) {
                if (registry.challenger() == null) {
                    problem = "no challenger to retire";
                } else {
                    ModelCommand retired = registry.challenger();
                    replaceChallenger(null);
                    registry.applied(command);
                    emit(status(command, retired, ModelState.RETIRED, null, null));
                    continue;
                }
            }
            if (problem != null) {
                refuse(command, target, problem);
                continue;
            }
            loading = true;
            loader.submit(
                    target,
                    outcome ->
                            mailbox()
                                    .execute(
                                            () -> onLoaded(command, outcome),
                                            "model %s loaded",
                                            command.getCommandId()));
        }
    }

    private void onLoaded(ModelCommand command, ModelLoader.Outcome outcome) throws Exception {
        loading = false;
        if (registry.nextPending() != command) {
            // Not the command being applied: cannot happen in one life of the operator.
            if (outcome.scorer() != null && loader.claim(outcome.scorer())) {
                outcome.scorer().close();
            }
            throw new IllegalStateException(
                    "model "
                            + command.getCommandId()
                            + " loaded, but the command being applied is "
                            + registry.nextPending());
        }
        if (outcome.refused() != null) {
            refuse(command, outcome.target(), outcome.refused().getMessage());
        } else if (loader.claim(outcome.scorer())) {
            BatchScorer scorer = outcome.scorer();
            // Deploying the challenger's model as champion promotes it: it is no longer shadow.
            ModelCommand promoted = registry.promotes(command) ? registry.challenger() : null;
            try {
                if (command.getRole() == ModelRole.CHAMPION) {
                    replaceModel(scorer);
                    if (promoted != null) {
                        replaceChallenger(null);
                    }
                } else {
                    replaceChallenger(scorer);
                }
            } catch (IllegalArgumentException e) {
                scorer.close();
                refuse(command, outcome.target(), e.getMessage());
                startNextCommand();
                return;
            }
            registry.applied(command);
            deployedBy.put(scorer, new Deployed(command, outcome.target()));
            emit(status(command, outcome.target(), ModelState.ACTIVE, null, null));
            if (promoted != null) {
                // The challenger's status, answering the command that promoted it.
                emit(
                        status(
                                ModelCommand.newBuilder(command)
                                        .setRole(ModelRole.CHALLENGER)
                                        .build(),
                                promoted,
                                ModelState.RETIRED,
                                "promoted to champion",
                                null));
            }
            LOG.info(
                    "Model {} now serves as {}",
                    ModelCommands.identity(outcome.target()),
                    command.getRole());
        }
        startNextCommand();
    }

    private void refuse(ModelCommand command, ModelCommand target, String reason) {
        registry.refused(command);
        LOG.warn(
                "Model command {} ({} {}) refused; the models serving stay: {}",
                command.getCommandId(),
                command.getAction(),
                command.getRole(),
                reason);
        emit(status(command, target, ModelState.REFUSED, reason, null));
    }

    @Override
    protected void onFirstScored(BatchScorer model, boolean challenger) {
        Deployed deployed = deployedBy.remove(model);
        if (deployed == null) {
            return;
        }
        long now = getProcessingTimeService().getCurrentProcessingTime();
        emit(status(deployed.command(), deployed.model(), ModelState.SERVING, null, now));
    }

    private ModelStatus status(
            ModelCommand command,
            ModelCommand model,
            ModelState state,
            String reason,
            Long firstScoredAt) {
        var task = getRuntimeContext().getTaskInfo();
        return ModelStatuses.of(
                command,
                model,
                state,
                reason,
                task.getIndexOfThisSubtask(),
                task.getNumberOfParallelSubtasks(),
                getProcessingTimeService().getCurrentProcessingTime(),
                firstScoredAt);
    }

    private void emit(ModelStatus status) {
        if (statusesAtOpen != null) {
            statusesAtOpen.add(status);
            return;
        }
        output.collect(ModelStatuses.TAG, new StreamRecord<>(status));
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        registryState.put(REGISTRY_KEY, registry.state());
    }

    @Override
    public void close() throws Exception {
        try {
            if (loader != null) {
                loader.close();
            }
        } finally {
            super.close();
        }
    }

    /** The models this subtask serves and the commands it has yet to apply. */
    @VisibleForTesting
    public ModelRegistry registry() {
        return registry;
    }

    /** Whether a command is being loaded. */
    @VisibleForTesting
    public boolean loading() {
        return loading;
    }

    /** Events dead-lettered by this operator. */
    @VisibleForTesting
    Counter deadLetters() {
        return scoring.deadLetters;
    }

    /** Events given the fallback score by this operator. */
    @VisibleForTesting
    Counter fallbacks() {
        return scoring.fallbacks;
    }
}
