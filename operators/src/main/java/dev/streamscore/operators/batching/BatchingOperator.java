package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.cache.CachedScore;
import dev.streamscore.operators.cache.ScoreCache;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.OutputTag;
import org.apache.flink.util.Preconditions;

/**
 * Scores the elements of a keyed stream with a model in micro-batches, off the task thread; answers
 * a row the key was recently scored for from a result cache in keyed state; and isolates the rows a
 * model fails on. What a row is and what an element becomes is its {@link BatchFunction}'s
 * business; the operator knows nothing of the types, as Flink's {@code AsyncWaitOperator} knows
 * nothing of what its {@code AsyncFunction} calls.
 *
 * <p>Its parts, each a class of its own: the {@link BatchAssembler} closes micro-batches by size or
 * deadline (or sizes them to a latency target with an {@link AdaptiveBatchSizer}); the {@link
 * Coalescer} attaches a miss to an equal row already waiting for the model; {@link InFlightBatches}
 * runs at most {@link BatchingSettings#maxInFlight()} batches on inference threads, with the {@link
 * BisectingRetryPolicy} for failures and the {@link InputBufferPool} for their buffers; the {@link
 * ResultQueue} emits in the {@link BatchingSettings#outputMode()} without ever letting a result
 * overtake a watermark; the {@link ModelHolder} is the model new batches get.
 *
 * <p>An element whose exact row its key was scored for by the same model within {@link
 * BatchingSettings#cacheTtl()} is answered from the cache. One whose row is already waiting for the
 * model for the same key attaches to that row (the {@code coalesced} metric). Every other element
 * becomes a row of the current batch. Batches beyond {@code maxInFlight} make the task thread wait
 * (which back-pressures the source); it also waits while twice the rows of {@code maxInFlight + 1}
 * full batches are accepted and not yet emitted. Results come back to the task thread through the
 * mailbox, where they are cached and emitted. A bad batch never fails the job; an {@link Error}
 * thrown by the model does.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>A watermark is held back until every element that arrived before it has been emitted, and
 *       no result is emitted before a watermark that arrived before its element.
 *   <li>Checkpoints hold every element accepted and not yet emitted (buffered, being scored,
 *       backing off, attached to another's row, or waiting behind others); after a restore each is
 *       scored and emitted exactly once, by the subtask that owns its key group.
 *   <li>The output record keeps the input record's timestamp.
 *   <li>At end of input every element is emitted before {@code endInput} returns; retries then
 *       start without backoff and calls started from then on are not timed out, because the task
 *       may stop firing processing-time timers while it finishes.
 * </ul>
 *
 * <pre>{@code
 * SingleOutputStreamOperator<String> out =
 *         numbers.keyBy(n -> n % 10)
 *                 .transform(
 *                         "score: batched",
 *                         Types.STRING,
 *                         new BatchingOperator<>(
 *                                 BatchingSettings.DEFAULTS,
 *                                 new MyBatchFunction(),
 *                                 OnnxBatchScorer.factory("models/my-model", OnnxOptions.DEFAULT),
 *                                 Types.INT))
 *                 .uid("batched-scoring");
 * }</pre>
 *
 * @param <IN> the input elements
 * @param <OUT> the main output
 */
public class BatchingOperator<IN, OUT> extends AbstractStreamOperator<OUT>
        implements OneInputStreamOperator<IN, OUT>, BoundedOneInput {

    private static final long serialVersionUID = 3L;

    /**
     * Operator (union list) state of accepted and not yet emitted elements; part of the savepoint
     * format of every job using this operator.
     */
    public static final String PENDING_STATE = "batching-inference-pending";

    /**
     * Operator (union list) state of elements whose champion output was emitted and whose
     * challenger output was not yet.
     */
    public static final String CHALLENGER_PENDING_STATE = "batching-inference-challenger-pending";

    /** Prefix of the inference threads' names. */
    public static final String THREAD_NAME_PREFIX = InFlightBatches.THREAD_NAME_PREFIX;

    /** How long close waits for a model call still running before giving up on the session. */
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    private final BatchingSettings settings;
    private final BatchFunction<IN, OUT> function;
    private final BatchScorer.Factory scorers;
    private final TypeInformation<IN> inputType;
    private final Ticker ticker;
    private boolean inputsOwned;
    private OutputTag<OUT> challengerOutput;
    private OutputTag<Object> logOutput;

    /**
     * The task's mailbox at this operator's position in the chain. The runtime hands it to every
     * {@link org.apache.flink.streaming.api.operators.YieldingOperator} (as {@link
     * AbstractStreamOperator} is) right after creating it, also when the job passes an operator
     * instance to {@code transform}: no operator factory is needed.
     */
    private transient MailboxExecutor mailbox;

    private transient KeySelector<IN, ?> keySelector;
    private transient TypeSerializer<IN> elementSerializer;
    private transient boolean copyInputs;
    private transient PendingState<IN> pendingState;
    private transient List<StreamRecord<IN>> restored;
    private transient PendingState<IN> challengerState;
    private transient List<StreamRecord<IN>> restoredForChallenger;
    private transient ChallengerScoring<IN, OUT> challengers;

    /** A model whose first scored batch is yet to be reported ({@link #onFirstScored}). */
    private transient BatchScorer firstScoreAwaited;

    private transient ScoreCache cache;
    private transient ModelHolder models;
    private transient int columns;
    private transient BatchingMetrics metrics;
    private transient ResultQueue<IN, OUT> results;
    private transient Coalescer coalescer;
    private transient BatchAssembler assembler;
    private transient InputBufferPool pool;
    private transient InFlightBatches inFlight;
    private transient int pendingCapacity;
    private transient long nextSeq;
    private transient StreamRecord<OUT> reusableOutput;
    private transient boolean closed;

    /**
     * @param settings how to batch, cache, retry and order
     * @param function what a row is and what an element becomes
     * @param scorers opens the model, in {@code open}
     * @param inputType the input's type, whose serializer checkpoints pending elements
     */
    public BatchingOperator(
            BatchingSettings settings,
            BatchFunction<IN, OUT> function,
            BatchScorer.Factory scorers,
            TypeInformation<IN> inputType) {
        this(settings, function, scorers, inputType, Ticker.SYSTEM);
    }

    /** With another clock: the seam adaptive-batching tests use. */
    protected BatchingOperator(
            BatchingSettings settings,
            BatchFunction<IN, OUT> function,
            BatchScorer.Factory scorers,
            TypeInformation<IN> inputType,
            Ticker ticker) {
        Preconditions.checkArgument(settings != null, "batching settings must be set, found none");
        Preconditions.checkArgument(function != null, "batch function must be set, found none");
        Preconditions.checkArgument(scorers != null, "scorer factory must be set, found none");
        Preconditions.checkArgument(inputType != null, "input type must be set, found none");
        Preconditions.checkArgument(ticker != null, "ticker must be set, found none");
        this.settings = settings;
        this.function = function;
        this.scorers = scorers;
        this.inputType = inputType;
        this.ticker = ticker;
    }

    /**
     * Skips the copy of each input this operator otherwise makes when object reuse is on. Only for
     * an upstream that emits a new object per element and never touches it again: the copy is then
     * pure cost.
     *
     * @return this operator
     */
    public BatchingOperator<IN, OUT> withInputsOwned() {
        this.inputsOwned = true;
        return this;
    }

    /**
     * Writes, beside each main output, what {@link BatchFunction#logged} makes of it to {@code
     * tag}, with the output's timestamp: a log of what was scored.
     *
     * @return this operator
     */
    @SuppressWarnings("unchecked")
    public BatchingOperator<IN, OUT> withLogOutput(OutputTag<?> tag) {
        Preconditions.checkArgument(tag != null, "log output tag must be set, found none");
        this.logOutput = (OutputTag<Object>) tag;
        return this;
    }

    /**
     * Where the outputs of a challenger go ({@link #replaceChallenger}): without this, the operator
     * takes no challenger.
     *
     * @return this operator
     */
    public BatchingOperator<IN, OUT> withChallengerOutput(OutputTag<OUT> tag) {
        Preconditions.checkArgument(tag != null, "challenger output tag must be set, found none");
        this.challengerOutput = tag;
        return this;
    }

    @Override
    public void setMailboxExecutor(MailboxExecutor mailboxExecutor) {
        super.setMailboxExecutor(mailboxExecutor);
        this.mailbox = mailboxExecutor;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        keySelector = (KeySelector<IN, ?>) getStateKeySelector1();
        if (keySelector == null) {
            throw new IllegalStateException(
                    getClass().getSimpleName()
                            + " caches results per key and must run on a keyed stream, found a"
                            + " non-keyed input");
        }
        elementSerializer = inputType.createSerializer(getExecutionConfig().getSerializerConfig());
        pendingState = new PendingState<>(context.getOperatorStateStore(), elementSerializer);
        challengerState =
                new PendingState<>(
                        context.getOperatorStateStore(),
                        CHALLENGER_PENDING_STATE,
                        elementSerializer);
        if (context.isRestored()) {
            restored = pendingState.restored(keySelector, getRuntimeContext().getTaskInfo());
            restoredForChallenger =
                    challengerState.restored(keySelector, getRuntimeContext().getTaskInfo());
        }
        if (settings.cacheEnabled()) {
            cache =
                    ScoreCache.create(
                            getKeyedStateStore(),
                            settings.cacheTtl(),
                            ScoreCache.DEFAULT_FRONT_ENTRIES,
                            () -> getProcessingTimeService().getCurrentProcessingTime(),
                            this::modelNanosPerRow);
        }
    }

    @Override
    public void open() throws Exception {
        super.open();
        if (mailbox == null) {
            throw new IllegalStateException(
                    "expected the runtime to hand "
                            + getClass().getSimpleName()
                            + " a MailboxExecutor before open, found none");
        }
        copyInputs = getExecutionConfig().isObjectReuseEnabled() && !inputsOwned;
        reusableOutput = new StreamRecord<>(null);
        results = ResultQueue.create(settings.outputMode(), new Emitter());
        coalescer = new Coalescer();
        pendingCapacity = 2 * settings.maxBatchSize() * (settings.maxInFlight() + 1);
        function.open(new FunctionContext());

        BatchScorer opened = openChampion();
        try {
            function.checkModel(opened.descriptor());
        } catch (IllegalArgumentException e) {
            opened.close();
            throw e;
        }
        models = new ModelHolder(opened);
        firstScoreAwaited = opened;
        columns = opened.descriptor().featureCount();
        pool =
                new InputBufferPool(
                        settings.maxInFlight(), settings.maxBatchSize(), opened::newInputBuffer);
        assembler =
                new BatchAssembler(settings, models, getProcessingTimeService(), this::onDeadline);
        metrics =
                new BatchingMetrics(
                        getMetricGroup(),
                        () -> inFlight == null ? 0 : inFlight.inFlight(),
                        () -> assembler.chosenBatchSize(),
                        () -> assembler.chosenWaitNanos() / 1_000,
                        () -> {
                            BatchScorer current = models.current();
                            return current == null ? "none" : current.descriptor().id();
                        },
                        () -> {
                            BatchScorer current = models.current();
                            return current == null ? "none" : current.executionProvider();
                        });
        if (cache != null) {
            ScoreCache c = cache;
            getMetricGroup()
                    .gauge(
                            BatchingMetrics.CACHE_USES_STATE,
                            (Gauge<Integer>) () -> c.usesState() ? 1 : 0);
            getMetricGroup()
                    .gauge(
                            BatchingMetrics.CACHE_USES_FRONT,
                            (Gauge<Integer>) () -> c.usesFront() ? 1 : 0);
            getMetricGroup().gauge(BatchingMetrics.CACHE_FRONT_HITS, (Gauge<Long>) c::frontHits);
        }
        inFlight =
                new InFlightBatches(
                        settings,
                        pool,
                        models,
                        mailbox,
                        getProcessingTimeService(),
                        metrics,
                        assembler,
                        ticker,
                        columns,
                        getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks(),
                        function::explains,
                        new RowListener());
        String taskName = getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks();
        challengers =
                new ChallengerScoring<>(
                        settings.maxBatchSize(),
                        columns,
                        mailbox,
                        getMetricGroup(),
                        taskName,
                        new ChallengerSink());
        BatchScorer challenger = openChallenger();
        if (challenger != null) {
            replaceChallenger(challenger);
        }

        if (restored != null) {
            for (StreamRecord<IN> record : restored) {
                setCurrentKey(keySelector.getKey(record.getValue()));
                accept(record.getValue(), record.hasTimestamp(), record.getTimestamp());
            }
            restored = null;
        }
        if (restoredForChallenger != null) {
            for (StreamRecord<IN> record : restoredForChallenger) {
                float[] row = function.row(record.getValue());
                if (row != null && row.length == columns) {
                    challengers.offer(
                            ChallengerScoring.restoredEntry(
                                    record.getValue(),
                                    row,
                                    record.hasTimestamp(),
                                    record.getTimestamp()));
                }
            }
            restoredForChallenger = null;
        }
    }

    /**
     * The champion the operator starts with, in {@code open}: by default the scorer factory's. The
     * seam for an operator whose checkpoint records another model.
     */
    protected BatchScorer openChampion() throws Exception {
        return scorers.open();
    }

    /** The challenger the operator starts with, in {@code open}: by default none. */
    protected BatchScorer openChallenger() throws Exception {
        return null;
    }

    /**
     * Called on the task thread when the first batch scored by a model returned: the champion the
     * operator opened with or one {@link #replaceModel replaced} in, or a challenger.
     */
    protected void onFirstScored(BatchScorer model, boolean challenger) throws Exception {}

    @Override
    public void processElement(StreamRecord<IN> record) throws Exception {
        // With object reuse the upstream may overwrite the object after this call returns, but
        // this operator keeps it in a batch (and the cache keeps its row).
        IN element = copyInputs ? elementSerializer.copy(record.getValue()) : record.getValue();
        if (results.size() >= pendingCapacity) {
            waitForCapacity();
        }
        accept(element, record.hasTimestamp(), record.getTimestamp());
    }

    /**
     * Back-pressure for what batching alone does not bound: cache hits waiting behind earlier
     * elements (ordered output, or behind a watermark) and elements attached to a row.
     */
    private void waitForCapacity() throws Exception {
        closeOpenBatch();
        Object key = getCurrentKey();
        while (results.size() >= pendingCapacity) {
            mailbox.yield();
        }
        setCurrentKey(key);
    }

    /**
     * Answers from the cache, attaches to a pending row, or buffers; the key is the current key.
     */
    private void accept(IN element, boolean hasTimestamp, long timestamp) throws Exception {
        PendingElement<IN, OUT> pending =
                new PendingElement<>(nextSeq++, element, hasTimestamp, timestamp);
        results.add(pending);
        BatchScorer current = models.current();
        ModelDescriptor descriptor = current.descriptor();
        float[] row = function.row(element);
        if (row == null || row.length != columns) {
            pending.complete(
                    function.rejected(
                            element,
                            descriptor,
                            new IllegalArgumentException(
                                    "expected "
                                            + columns
                                            + " features, found "
                                            + (row == null ? "none" : row.length))));
            results.completed(pending);
            return;
        }
        pending.row = row;
        Coalescer.RowKey rowKey = null;
        long featureHash = 0;
        if (cache != null) {
            featureHash = RowHash.of(row);
            long lookupStart = ticker.nanoTime();
            CachedScore hit =
                    cache.lookup(getCurrentKey(), featureHash, row, descriptor.identity());
            metrics.cacheTimeNanos.inc(ticker.nanoTime() - lookupStart);
            if (hit != null
                    && current.explainer() != null
                    && function.explains(descriptor, hit.score)) {
                // The cache keeps scores, not reasons: this one is scored (and explained) again.
                metrics.cacheHitsRescored.inc();
                hit = null;
            }
            if (hit != null) {
                metrics.cacheHits.inc();
                pending.model = descriptor;
                pending.score = hit.score;
                pending.output = scoredOutput(element, descriptor, hit.score, true);
                results.completed(pending);
                return;
            }
            metrics.cacheMisses.inc();
            rowKey = new Coalescer.RowKey(getCurrentKey(), descriptor.identity(), featureHash, row);
            PendingRow equal = coalescer.pending(rowKey);
            if (equal != null) {
                metrics.coalesced.inc();
                equal.waiting.add(pending);
                return;
            }
        }
        PendingRow pendingRow =
                new PendingRow(rowKey, getCurrentKey(), row, featureHash, ticker.nanoTime());
        pendingRow.waiting.add(pending);
        if (rowKey != null) {
            coalescer.register(pendingRow);
        }
        BatchScorer openModel = assembler.openModel();
        if (openModel != null && openModel != current) {
            closeOpenBatch(); // the model was replaced: a batch never mixes two
        }
        if (assembler.add(pendingRow)) {
            closeOpenBatch();
        }
    }

    private void onDeadline(Batch batch) throws Exception {
        if (!closed) {
            closeOpenBatch();
        }
    }

    /**
     * Starts the open batch on an inference thread, first waiting (running other mails, among them
     * the completions that free a buffer) while {@code maxInFlight} batches are being scored.
     */
    private void closeOpenBatch() throws Exception {
        Batch batch = assembler.take();
        if (batch == null) {
            return;
        }
        metrics.batchSize.update(batch.size);
        if (!pool.hasFree()) {
            // A completion that runs while we yield writes the cache under its own key.
            Object key = getCurrentKey();
            while (!pool.hasFree()) {
                mailbox.yield();
            }
            if (key != null) {
                setCurrentKey(key);
            }
        }
        inFlight.start(batch);
    }

    /**
     * What the function makes of a score; a null would hold the element (and watermarks) forever.
     */
    private OUT scoredOutput(IN element, ModelDescriptor model, float score, boolean reused) {
        return scoredOutput(element, model, score, reused, null);
    }

    private OUT scoredOutput(
            IN element, ModelDescriptor model, float score, boolean reused, float[] contributions) {
        OUT out = function.scored(element, model, score, reused, contributions);
        if (out == null) {
            throw new IllegalStateException(
                    function.getClass().getName()
                            + ".scored must return an output, returned null for "
                            + element);
        }
        return out;
    }

    /**
     * Scores batches opened from now on with {@code next}; each batch already open or in flight
     * finishes with the model it opened with, and the current model is closed once nothing holds
     * it. Call on the task thread (from an element, a timer or a mail), with a model that is open
     * and warmed up. The seam for models swapped without a restart.
     *
     * @throws IllegalArgumentException when the function refuses {@code next} or it takes another
     *     number of features; the current model then stays, and {@code next} is still the caller's
     */
    public void replaceModel(BatchScorer next) throws Exception {
        Preconditions.checkState(models != null, "the operator is not open");
        ModelDescriptor descriptor = next.descriptor();
        function.checkModel(descriptor);
        Preconditions.checkArgument(
                descriptor.featureCount() == columns,
                "model %s takes %s features, expected %s like the model it replaces",
                descriptor.id(),
                descriptor.featureCount(),
                columns);
        models.replace(next);
        firstScoreAwaited = next;
    }

    /**
     * Makes {@code next} the challenger ({@code null}: none): from now on, every element whose
     * champion output is emitted is also scored by it, in shadow, its output going to the {@link
     * #withChallengerOutput challenger output}. The challenger it replaces is closed once its call
     * returns. Call on the task thread, with a model open and warmed up.
     *
     * @throws IllegalArgumentException when the function refuses {@code next} or it takes another
     *     number of features; the current challenger then stays
     */
    public void replaceChallenger(BatchScorer next) throws Exception {
        Preconditions.checkState(challengers != null, "the operator is not open");
        if (next != null) {
            Preconditions.checkState(
                    challengerOutput != null,
                    "a challenger needs an output: set one with withChallengerOutput");
            ModelDescriptor descriptor = next.descriptor();
            function.checkModel(descriptor);
            Preconditions.checkArgument(
                    descriptor.featureCount() == columns,
                    "challenger %s takes %s features, expected %s like the champion",
                    descriptor.id(),
                    descriptor.featureCount(),
                    columns);
        }
        challengers.replace(next);
    }

    /** The challenger scoring in shadow now; {@code null} when none. */
    public BatchScorer challenger() {
        return challengers == null ? null : challengers.current();
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        results.addWatermark(mark);
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        pendingState.update(results.unemitted());
        challengerState.updateChallengerEntries(challengers.unwritten());
    }

    @Override
    public void endInput() throws Exception {
        flushAndWait();
    }

    @Override
    public void finish() throws Exception {
        flushAndWait();
        super.finish();
    }

    /**
     * Scores the partial batch and waits until everything accepted has been emitted.
     * Processing-time timers may stop firing while the task finishes, so no model call times out
     * here: if nothing comes back for twice the model call timeout, a call hangs, and waiting
     * longer would hang the task; it fails instead, and the elements are restored from the last
     * checkpoint.
     */
    private void flushAndWait() throws Exception {
        if (results == null || inFlight == null || closed) {
            return; // open() failed, or the operator was closed (cancelled): nothing to wait for
        }
        // Retry without backoff: a backoff timer might never fire.
        inFlight.drain();
        closeOpenBatch();
        long patienceNanos = 2 * settings.modelCallTimeout().toNanos();
        long lastProgress = System.nanoTime();
        while (!results.isEmpty()) {
            if (mailbox.tryYield()) {
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > patienceNanos) {
                throw new TimeoutException(
                        results.size()
                                + " elements are still waiting for model calls that have not"
                                + " returned for "
                                + settings.modelCallTimeout().multipliedBy(2)
                                + " while the task finishes; failing so that they are restored"
                                + " from the last checkpoint instead of hanging the task");
            } else {
                Thread.sleep(1);
            }
        }
    }

    @Override
    public void close() throws Exception {
        closed = true;
        try {
            if (inFlight != null && !inFlight.shutdown(SHUTDOWN_TIMEOUT)) {
                // Closing a session under a running call could crash the JVM; leak it instead.
                LOG.error(
                        "A model call of {} was still running when the operator closed;"
                                + " leaving its session open",
                        models.current() == null
                                ? "the model"
                                : models.current().descriptor().id());
                models.abandon();
            }
            inFlight = null;
        } finally {
            try {
                if (models != null) {
                    models.close();
                }
            } finally {
                try {
                    if (challengers != null) {
                        challengers.close();
                    }
                } finally {
                    super.close();
                }
            }
        }
    }

    /** The task's mailbox, for subclasses that hand work back to the task thread. */
    protected MailboxExecutor mailbox() {
        return mailbox;
    }

    /** This operator's metrics. */
    @VisibleForTesting
    public BatchingMetrics metrics() {
        return metrics;
    }

    /** Model calls started whose outcome the operator still waits for. */
    @VisibleForTesting
    public int callsAwaited() {
        return inFlight == null ? 0 : inFlight.callsAwaited();
    }

    /** The models this operator holds. */
    @VisibleForTesting
    public ModelHolder models() {
        return models;
    }

    /**
     * The model's measured cost per row so far, for the cache's decision; infinite before the first
     * call returns (the cache's state tier stays on until it knows).
     */
    private double modelNanosPerRow() {
        if (metrics == null || metrics.rowsScored.getCount() == 0) {
            return Double.POSITIVE_INFINITY;
        }
        return metrics.modelTimeNanos.getCount() / (double) metrics.rowsScored.getCount();
    }

    /** Caches and completes rows on the task thread as {@link #inFlight} hears of them. */
    private final class RowListener implements InFlightBatches.Listener {
        @Override
        @SuppressWarnings("unchecked")
        public void scored(Batch batch, PendingRow row, float score, float[] contributions)
                throws Exception {
            ModelDescriptor descriptor = batch.scorer.descriptor();
            if (batch.scorer == firstScoreAwaited) {
                firstScoreAwaited = null;
                onFirstScored(batch.scorer, false);
            }
            coalescer.completed(row);
            if (cache != null) {
                setCurrentKey(row.streamKey);
                long putStart = ticker.nanoTime();
                cache.put(
                        row.streamKey, row.featureHash, row.features, descriptor.identity(), score);
                metrics.cacheTimeNanos.inc(ticker.nanoTime() - putStart);
            }
            for (int i = 0; i < row.waiting.size(); i++) {
                PendingElement<IN, OUT> pending = (PendingElement<IN, OUT>) row.waiting.get(i);
                // Only the first element cost the row; those attached to it reused it.
                pending.model = descriptor;
                pending.score = score;
                pending.output =
                        scoredOutput(pending.element, descriptor, score, i > 0, contributions);
                results.completed(pending);
            }
        }

        @Override
        @SuppressWarnings("unchecked")
        public void givenUp(Batch batch, PendingRow row, Throwable failure) throws Exception {
            ModelDescriptor descriptor = batch.scorer.descriptor();
            coalescer.completed(row);
            for (int i = 0; i < row.waiting.size(); i++) {
                PendingElement<IN, OUT> pending = (PendingElement<IN, OUT>) row.waiting.get(i);
                pending.complete(function.failed(pending.element, descriptor, failure, i > 0));
                results.completed(pending);
            }
        }
    }

    /** Emits on the task thread what {@link #results} lets go. */
    private final class Emitter implements ResultQueue.Sink<IN, OUT> {
        @Override
        public void emit(PendingElement<IN, OUT> pending) throws Exception {
            if (pending.output != null) {
                if (pending.hasTimestamp) {
                    reusableOutput.replace(pending.output, pending.timestamp);
                } else {
                    reusableOutput.replace(pending.output);
                    reusableOutput.eraseTimestamp();
                }
                output.collect(reusableOutput);
                if (logOutput != null && pending.model != null) {
                    Object entry =
                            function.logged(
                                    pending.element, pending.model, pending.row, pending.output);
                    if (entry != null) {
                        output.collect(
                                logOutput,
                                pending.hasTimestamp
                                        ? new StreamRecord<>(entry, pending.timestamp)
                                        : new StreamRecord<>(entry));
                    }
                }
                if (pending.model != null && challengers.current() != null) {
                    challengers.offer(
                            new ChallengerScoring.Entry<>(
                                    pending.element,
                                    pending.row,
                                    pending.hasTimestamp,
                                    pending.timestamp,
                                    pending.model,
                                    pending.score));
                }
            } else {
                Outcome<OUT> side = pending.side;
                output.collect(
                        side.tag,
                        pending.hasTimestamp
                                ? new StreamRecord<>(side.sideValue, pending.timestamp)
                                : new StreamRecord<>(side.sideValue));
            }
        }

        @Override
        public void emitWatermark(Watermark watermark) throws Exception {
            BatchingOperator.super.processWatermark(watermark);
        }
    }

    /** Writes a challenger's outputs to the challenger output, on the task thread. */
    private final class ChallengerSink implements ChallengerScoring.Sink<IN, OUT> {
        @Override
        public void challengerScored(
                ChallengerScoring.Entry<IN> entry, ModelDescriptor challenger, float score) {
            OUT out = scoredOutput(entry.element, challenger, score, false);
            output.collect(
                    challengerOutput,
                    entry.hasTimestamp
                            ? new StreamRecord<>(out, entry.timestamp)
                            : new StreamRecord<>(out));
        }

        @Override
        public void firstScored(BatchScorer challenger) throws Exception {
            onFirstScored(challenger, true);
        }

        @Override
        public boolean sameDecision(
                ModelDescriptor champion,
                float championScore,
                ModelDescriptor challenger,
                float challengerScore) {
            return function.sameDecision(champion, championScore, challenger, challengerScore);
        }
    }

    /** What the function may use at run time. */
    private final class FunctionContext implements BatchFunction.Context {
        @Override
        public MetricGroup metricGroup() {
            return getMetricGroup();
        }

        @Override
        public long currentProcessingTime() {
            return getProcessingTimeService().getCurrentProcessingTime();
        }
    }
}
