package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.cache.CachedScore;
import dev.streamscore.operators.cache.ScoreCache;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.features.CardFeatures;
import dev.streamscore.operators.features.EnrichedTransaction;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamElement;
import org.apache.flink.streaming.runtime.streamrecord.StreamElementSerializer;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.Preconditions;

/**
 * Scores card transactions with a model in micro-batches, off the task thread, answers repeated
 * feature vectors of a card from a score cache in keyed state, and isolates the rows a model fails
 * on.
 *
 * <p>It runs on a stream keyed by card id. A transaction whose exact feature vector the card was
 * recently scored for by the same model version is answered from the cache ({@code cache_hit =
 * true}). One whose vector is already waiting for the model for the same card (buffered or being
 * scored) attaches to that row: the model scores the row once and every attached transaction gets
 * the score, with {@code cache_hit = true} because it did not cost a model row (counted by the
 * {@code coalesced} metric). Every other transaction becomes a row of the current batch, which is
 * scored by one {@link BatchScorer#score} call when it holds {@link
 * InferenceSettings#maxBatchSize()} rows, when its oldest row has waited {@link
 * InferenceSettings#maxWait()}, or when the input ends; with a {@link
 * InferenceSettings#latencyTarget()}, size and wait are chosen per batch by an {@link
 * AdaptiveBatchSizer}. Batches are scored on a small pool of inference threads, at most {@link
 * InferenceSettings#maxInFlight()} at once, beyond which the task thread waits (which
 * back-pressures the source); it also waits while twice the rows of {@code maxInFlight + 1} full
 * batches are accepted and not yet emitted. Results come back to the task thread through the
 * mailbox, where they are cached and emitted in the {@link InferenceSettings#outputMode()}.
 *
 * <p>When a model call fails. A call that throws, or that has not returned after {@link
 * InferenceSettings#modelCallTimeout()}, is retried after {@link
 * InferenceSettings#initialBackoff()}, doubling per retry, up to {@link
 * InferenceSettings#maxRetries()} times; backoffs are processing-time timers, so the task thread
 * keeps working meanwhile. A batch that still fails is split in halves, each scored once and split
 * again when it fails, down to single rows, which again get the retries: a row is given up only
 * when it failed alone {@code 1 + maxRetries} times, so one poison row costs a batch of {@code n =
 * 2^k} rows {@code 2 (1 + maxRetries) + 2k - 1} calls and no neighbour. A given-up row's
 * transactions go to the {@link DeadLetters#TAG} side output with stage {@code INFERENCE}, or get
 * {@link InferenceSettings#fallbackScore()} with {@code fallback = true} when one is configured
 * (never cached). ONNX Runtime cannot cancel a call: a timed-out call keeps its input buffer until
 * it returns, and the batch continues with a fresh buffer (at most {@code maxInFlight} such
 * buffers; beyond that the batch waits for a buffer to come free). A bad batch never fails the job;
 * an {@link Error} thrown by the model does.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>A watermark is held back until every transaction that arrived before it has been emitted,
 *       and no result is emitted before a watermark that arrived before its transaction.
 *   <li>Checkpoints hold every transaction accepted and not yet emitted (buffered, being scored,
 *       backing off, attached to another's row, or waiting behind others); after a restore each is
 *       scored and emitted exactly once, by the subtask that owns its card's key group.
 *   <li>The output record keeps the input record's timestamp.
 *   <li>At end of input every transaction is emitted before {@code endInput} returns; retries then
 *       start without backoff and calls started from then on are not timed out, because the task
 *       may stop firing processing-time timers while it finishes.
 * </ul>
 *
 * <p>The model is a {@link BatchScorer}, read once per batch on the task thread: every call of a
 * batch (retries and halves included) uses the scorer the batch opened with, so the scorer can be
 * swapped between batches. The model's descriptor must list exactly {@link CardFeatures#NAMES}, or
 * {@code open} fails.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<FraudScore> scores =
 *         DataStreamUtils.reinterpretAsKeyedStream(enriched, e -> e.transaction.getCardId())
 *                 .transform(
 *                         "score: batched ONNX inference",
 *                         TypeInformation.of(FraudScore.class),
 *                         new BatchingInferenceOperator(InferenceSettings.defaults("bundled:gbdt")))
 *                 .uid("batching-inference");
 * DataStream<DeadLetter> deadLetters = scores.getSideOutput(DeadLetters.TAG);
 * }</pre>
 */
public class BatchingInferenceOperator extends AbstractStreamOperator<FraudScore>
        implements OneInputStreamOperator<EnrichedTransaction, FraudScore>, BoundedOneInput {

    private static final long serialVersionUID = 2L;

    /** Operator (union list) state of accepted and not yet emitted transactions. */
    static final String PENDING_STATE = "batching-inference-pending";

    /** Prefix of the inference threads' names. */
    static final String THREAD_NAME_PREFIX = "streamscore-inference";

    /** How long close waits for a model call still running before giving up on the session. */
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    private static final SingleObjectCodec<Transaction> TRANSACTIONS =
            SingleObjectCodec.of(Transaction.class);

    /** A monotonic clock in nanoseconds: arrival times, queue times and model call durations. */
    @FunctionalInterface
    interface Ticker extends Serializable {
        long nanoTime();
    }

    private final InferenceSettings settings;
    private final BatchScorer.Factory scorers;
    private final Ticker ticker;

    /**
     * The task's mailbox at this operator's position in the chain. The runtime hands it to every
     * {@link org.apache.flink.streaming.api.operators.YieldingOperator} (as {@link
     * AbstractStreamOperator} is) right after creating it, also when the job passes an operator
     * instance to {@code transform}: no operator factory is needed.
     */
    private transient MailboxExecutor mailbox;

    private transient KeySelector<EnrichedTransaction, ?> keySelector;
    private transient TypeSerializer<EnrichedTransaction> elementSerializer;
    private transient boolean copyInputs;
    private boolean inputsOwned;
    private transient ListState<StreamElement> pendingState;
    private transient List<StreamRecord<EnrichedTransaction>> restored;
    private transient ScoreCache cache;

    /**
     * The model new batches are scored with. Written only by the task thread and only between
     * batches (each {@link Batch} keeps the scorer it opened with); volatile for the metric gauges.
     */
    private transient volatile BatchScorer scorer;

    private transient int columns;
    private transient ExecutorService inferenceThreads;
    private transient InferenceMetrics metrics;
    private transient AdaptiveBatchSizer sizer;

    /** Accepted transactions and held watermarks until they are emitted. */
    private transient ResultQueue results;

    /** Rows buffered or being scored, by card, model and vector: what new misses attach to. */
    private transient Map<RowKey, PendingRow> pendingRows;

    /** The batch new rows join, if one is open. */
    private transient Batch open;

    private transient ArrayDeque<Slot> freeSlots;

    /** Batches in flight that need an input buffer to go on (theirs was kept by a hung call). */
    private transient ArrayDeque<Batch> waitingForSlot;

    /** Batches waiting for a retry's backoff timer. */
    private transient LinkedHashSet<Batch> backingOff;

    /** Buffers of timed-out calls that were replaced and are still held by those calls. */
    private transient int replacedSlots;

    private transient int inFlight;
    private transient int callsAwaited;
    private transient int pendingCapacity;
    private transient int chosenBatchSize;
    private transient long chosenWaitNanos;
    private transient long nextSeq;
    private transient long nextBatchId;
    private transient StreamRecord<FraudScore> reusableOutput;
    private transient boolean draining;
    private transient boolean closed;

    public BatchingInferenceOperator(InferenceSettings settings) {
        this(settings, OnnxBatchScorer::open, System::nanoTime);
    }

    /**
     * Skips the copy of each input this operator otherwise makes when object reuse is on. Only for
     * an upstream that emits a new object per element and never touches it again, as {@code
     * CardFeatureEnricher} does: the copy (a deep copy of the Avro transaction) is then pure cost.
     *
     * @return this operator
     */
    public BatchingInferenceOperator withInputsOwned() {
        this.inputsOwned = true;
        return this;
    }

    /** With another model or clock: the seams the tests use. */
    BatchingInferenceOperator(
            InferenceSettings settings, BatchScorer.Factory scorers, Ticker ticker) {
        Preconditions.checkArgument(settings != null, "inference settings must be set, found none");
        Preconditions.checkArgument(scorers != null, "scorer factory must be set, found none");
        Preconditions.checkArgument(ticker != null, "ticker must be set, found none");
        this.settings = settings;
        this.scorers = scorers;
        this.ticker = ticker;
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
        keySelector = (KeySelector<EnrichedTransaction, ?>) getStateKeySelector1();
        if (keySelector == null) {
            throw new IllegalStateException(
                    "BatchingInferenceOperator caches scores per card and must run on a keyed"
                            + " stream (keyed by card id), found a non-keyed input");
        }
        elementSerializer =
                TypeInformation.of(EnrichedTransaction.class)
                        .createSerializer(getExecutionConfig().getSerializerConfig());
        // Union state: after a rescale each subtask sees every pending transaction and keeps those
        // whose card it now owns, so each is scored once and its cache write hits its own state.
        pendingState =
                context.getOperatorStateStore()
                        .getUnionListState(
                                new ListStateDescriptor<>(
                                        PENDING_STATE,
                                        new StreamElementSerializer<>(elementSerializer)));
        if (context.isRestored()) {
            restored = new ArrayList<>();
            KeyGroupRange owned = ownedKeyGroups();
            int maxParallelism = getRuntimeContext().getTaskInfo().getMaxNumberOfParallelSubtasks();
            for (StreamElement element : pendingState.get()) {
                StreamRecord<EnrichedTransaction> record = element.asRecord();
                Object key = keySelector.getKey(record.getValue());
                if (owned.contains(KeyGroupRangeAssignment.assignToKeyGroup(key, maxParallelism))) {
                    restored.add(record);
                }
            }
        }
        if (settings.cacheEnabled()) {
            cache = ScoreCache.create(getKeyedStateStore(), settings.cacheTtl());
        }
    }

    @Override
    public void open() throws Exception {
        super.open();
        if (mailbox == null) {
            throw new IllegalStateException(
                    "expected the runtime to hand BatchingInferenceOperator a MailboxExecutor"
                            + " before open, found none");
        }
        copyInputs = getExecutionConfig().isObjectReuseEnabled() && !inputsOwned;
        reusableOutput = new StreamRecord<>(null);
        results = ResultQueue.create(settings.outputMode(), new Emitter());
        pendingRows = new HashMap<>();
        waitingForSlot = new ArrayDeque<>();
        backingOff = new LinkedHashSet<>();
        pendingCapacity = 2 * settings.maxBatchSize() * (settings.maxInFlight() + 1);

        BatchScorer opened = scorers.open(settings);
        try {
            checkFeatures(opened.descriptor());
        } catch (IllegalArgumentException e) {
            opened.close();
            throw e;
        }
        scorer = opened;
        columns = opened.descriptor().featureCount();
        freeSlots = new ArrayDeque<>(settings.maxInFlight());
        for (int i = 0; i < settings.maxInFlight(); i++) {
            freeSlots.add(newSlot(opened));
        }
        // Twice maxInFlight: a call that timed out keeps its thread until it returns.
        inferenceThreads =
                Executors.newFixedThreadPool(
                        2 * settings.maxInFlight(),
                        new InferenceThreadFactory(
                                getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks()));
        if (settings.adaptiveBatching()) {
            sizer =
                    new AdaptiveBatchSizer(
                            settings.latencyTarget(), settings.maxBatchSize(), settings.maxWait());
        }
        chosenBatchSize = settings.maxBatchSize();
        chosenWaitNanos = settings.maxWait().toNanos();
        metrics =
                new InferenceMetrics(
                        getMetricGroup(),
                        () -> inFlight,
                        () -> chosenBatchSize,
                        () -> chosenWaitNanos / 1_000,
                        () -> {
                            BatchScorer current = scorer;
                            return current == null ? "none" : current.descriptor().id();
                        },
                        () -> {
                            BatchScorer current = scorer;
                            return current == null ? "none" : current.executionProvider();
                        });

        if (restored != null) {
            for (StreamRecord<EnrichedTransaction> record : restored) {
                setCurrentKey(keySelector.getKey(record.getValue()));
                accept(record.getValue(), record.hasTimestamp(), record.getTimestamp());
            }
            restored = null;
        }
    }

    private void checkFeatures(ModelDescriptor d) {
        if (d.features().equals(CardFeatures.NAMES)) {
            return;
        }
        int i = 0;
        while (i < Math.min(d.features().size(), CardFeatures.COUNT)
                && d.features().get(i).equals(CardFeatures.NAMES.get(i))) {
            i++;
        }
        throw new IllegalArgumentException(
                "model "
                        + d.id()
                        + " at "
                        + settings.modelLocation()
                        + " must take the features this job computes, in order: expected "
                        + CardFeatures.NAMES
                        + ", found "
                        + d.features()
                        + " (first difference at index "
                        + i
                        + ": expected "
                        + (i < CardFeatures.COUNT
                                ? "'" + CardFeatures.NAMES.get(i) + "'"
                                : "no more")
                        + ", found "
                        + (i < d.features().size() ? "'" + d.features().get(i) + "'" : "no more")
                        + ")");
    }

    @Override
    public void processElement(StreamRecord<EnrichedTransaction> record) throws Exception {
        // With object reuse the upstream may overwrite the object after this call returns, but
        // this operator keeps it in a batch (and the cache keeps its feature array).
        EnrichedTransaction element =
                copyInputs ? elementSerializer.copy(record.getValue()) : record.getValue();
        if (results.size() >= pendingCapacity) {
            waitForCapacity();
        }
        accept(element, record.hasTimestamp(), record.getTimestamp());
    }

    /**
     * Back-pressure for what batching alone does not bound: cache hits waiting behind earlier
     * transactions (ordered output, or behind a watermark) and transactions attached to a row.
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
    private void accept(EnrichedTransaction element, boolean hasTimestamp, long timestamp)
            throws Exception {
        PendingElement pending = new PendingElement(nextSeq++, element, hasTimestamp, timestamp);
        results.add(pending);
        if (element.features == null || element.features.length != CardFeatures.COUNT) {
            pending.deadLetter =
                    deadLetterOf(
                            element,
                            IllegalArgumentException.class.getName(),
                            "expected "
                                    + CardFeatures.COUNT
                                    + " features, found "
                                    + (element.features == null
                                            ? "none"
                                            : element.features.length));
            metrics.deadLetters.inc();
            results.completed(pending);
            return;
        }
        BatchScorer current = scorer;
        ModelDescriptor descriptor = current.descriptor();
        RowKey rowKey = null;
        long featureHash = 0;
        if (cache != null) {
            featureHash = element.featureHash();
            long lookupStart = ticker.nanoTime();
            CachedScore hit = cache.lookup(featureHash, element.features, descriptor.id());
            metrics.cacheTimeNanos.inc(ticker.nanoTime() - lookupStart);
            if (hit != null) {
                metrics.cacheHits.inc();
                pending.score = scoreOf(element, descriptor, hit.score, true, false);
                results.completed(pending);
                return;
            }
            metrics.cacheMisses.inc();
            rowKey = new RowKey(getCurrentKey(), descriptor.id(), featureHash, element.features);
            PendingRow row = pendingRows.get(rowKey);
            if (row != null) {
                metrics.coalesced.inc();
                row.waiting.add(pending);
                return;
            }
        }
        PendingRow row =
                new PendingRow(
                        rowKey, getCurrentKey(), element.features, featureHash, ticker.nanoTime());
        row.waiting.add(pending);
        if (rowKey != null) {
            pendingRows.put(rowKey, row);
        }
        if (sizer != null) {
            sizer.onArrival(row.arrivalNanos);
        }
        if (open == null) {
            openBatch(current);
        }
        open.add(row);
        if (open.size >= open.limit
                || (sizer != null
                        && row.arrivalNanos - open.rows[0].arrivalNanos >= open.waitNanos)) {
            closeOpenBatch();
        }
    }

    private void openBatch(BatchScorer current) {
        if (sizer != null) {
            sizer.choose();
            chosenBatchSize = sizer.batchSize();
            chosenWaitNanos = sizer.waitNanos();
        }
        Batch batch =
                new Batch(
                        nextBatchId++,
                        current,
                        settings.maxBatchSize(),
                        chosenBatchSize,
                        chosenWaitNanos);
        if (batch.limit > 1) {
            // Rounded up: an adaptive wait below 1 ms is checked on arrivals; this timer only
            // closes the batch when rows stop coming.
            long waitMillis = (chosenWaitNanos + 999_999) / 1_000_000;
            long deadline = getProcessingTimeService().getCurrentProcessingTime() + waitMillis;
            batch.maxWaitTimer =
                    getProcessingTimeService().registerTimer(deadline, time -> onMaxWait(batch));
        }
        open = batch;
    }

    private void onMaxWait(Batch batch) throws Exception {
        if (!closed && open == batch) {
            closeOpenBatch();
        }
    }

    /**
     * Starts the open batch on an inference thread, first waiting (running other mails, among them
     * the completions that free a buffer) while {@code maxInFlight} batches are being scored.
     */
    private void closeOpenBatch() throws Exception {
        Batch batch = open;
        if (batch == null) {
            return;
        }
        open = null;
        if (batch.maxWaitTimer != null) {
            batch.maxWaitTimer.cancel(false);
        }
        metrics.batchSize.update(batch.size);
        if (freeSlots.isEmpty()) {
            // A completion that runs while we yield writes the cache under its own key.
            Object key = getCurrentKey();
            while (freeSlots.isEmpty()) {
                mailbox.yield();
            }
            if (key != null) {
                setCurrentKey(key);
            }
        }
        batch.slot = freeSlots.poll();
        inFlight++;
        fillSlot(batch);
        long start = ticker.nanoTime();
        for (int i = 0; i < batch.size; i++) {
            metrics.queueTimeMicros.update((start - batch.rows[i].arrivalNanos) / 1_000);
        }
        batch.work.push(new Range(0, batch.size, true));
        proceed(batch);
    }

    private void fillSlot(Batch batch) {
        for (int i = 0; i < batch.size; i++) {
            batch.slot.rows.put(i * columns, batch.rows[i].features);
        }
    }

    /** Starts the batch's next call, or waits for a buffer, or finishes the batch. */
    private void proceed(Batch batch) throws Exception {
        if (batch.work.isEmpty()) {
            finish(batch);
        } else if (batch.slot == null) {
            // A buffer may have come free (a timed-out call returned) while this batch backed off.
            batch.slot = freeSlots.poll();
            if (batch.slot == null) {
                waitingForSlot.add(batch);
            } else {
                fillSlot(batch);
                call(batch, batch.work.pop());
            }
        } else {
            call(batch, batch.work.pop());
        }
    }

    private void call(Batch batch, Range range) {
        Attempt attempt =
                new Attempt(
                        batch,
                        range,
                        batch.slot,
                        range.from == 0 ? batch.slot.scores : new float[range.size()]);
        callsAwaited++;
        if (!draining) {
            long deadline =
                    getProcessingTimeService().getCurrentProcessingTime()
                            + settings.modelCallTimeout().toMillis();
            attempt.timeoutTimer =
                    getProcessingTimeService().registerTimer(deadline, t -> onTimeout(attempt));
        }
        inferenceThreads.execute(() -> callOffTaskThread(attempt));
    }

    /** Runs on an inference thread: one model call, then the outcome goes back via the mailbox. */
    private void callOffTaskThread(Attempt attempt) {
        int n = attempt.range.size();
        FloatBuffer rows;
        if (attempt.range.from == 0 && n == attempt.batch.size) {
            // The whole batch: the slot has room for padding rows past it (see OnnxOptions).
            rows = attempt.slot.rows;
        } else {
            // Part of a split batch: a copy of its own, so that padding written past the part
            // cannot overwrite the rows of the other half.
            rows = attempt.batch.scorer.newInputBuffer(n);
            rows.put(attempt.slot.rows.slice(attempt.range.from * columns, n * columns));
            rows.clear();
        }
        long start = ticker.nanoTime();
        try {
            attempt.batch.scorer.score(rows, n, attempt.out);
        } catch (Throwable t) {
            // Not handled here: the task thread retries, splits or gives up, or fails on an Error.
            attempt.failure = t;
        }
        attempt.nanos = ticker.nanoTime() - start;
        attempt.returned = true;
        try {
            mailbox.execute(
                    () -> onCallReturned(attempt),
                    "model call on %s rows of batch %s",
                    n,
                    attempt.batch.id);
        } catch (RejectedExecutionException e) {
            // The task is shutting down; the batch is restored from the last checkpoint.
            LOG.debug("Dropped the result of batch {}: the mailbox is closed", attempt.batch.id, e);
        }
    }

    private void onCallReturned(Attempt attempt) throws Exception {
        if (closed) {
            return;
        }
        metrics.inferenceTimeMicros.update(attempt.nanos / 1_000);
        metrics.modelTimeNanos.inc(attempt.nanos);
        if (attempt.timedOut) {
            // Already failed and moved on; only its buffer was waiting for this.
            if (attempt.slotReplaced) {
                replacedSlots--;
            } else {
                releaseSlot(attempt.slot);
            }
            return;
        }
        callsAwaited--;
        if (attempt.timeoutTimer != null) {
            attempt.timeoutTimer.cancel(false);
        }
        Batch batch = attempt.batch;
        if (attempt.failure instanceof Error error) {
            throw error;
        }
        if (attempt.failure != null) {
            failed(batch, attempt.range, attempt.failure);
            return;
        }
        int n = attempt.range.size();
        metrics.inferenceTimePerRowNanos.update(attempt.nanos / n);
        if (sizer != null) {
            sizer.onCall(n, attempt.nanos);
        }
        for (int i = 0; i < n; i++) {
            scored(batch, batch.rows[attempt.range.from + i], attempt.out[i]);
        }
        metrics.rowsScored.inc(n);
        proceed(batch);
    }

    private void onTimeout(Attempt attempt) throws Exception {
        if (closed || attempt.returned || attempt.timedOut) {
            return; // returned in time: its outcome is already in the mailbox
        }
        attempt.timedOut = true;
        callsAwaited--;
        metrics.modelCallTimeouts.inc();
        Batch batch = attempt.batch;
        // The call still reads its buffer and ONNX Runtime cannot cancel it: the buffer stays
        // with the call until it returns, and the batch goes on with another.
        if (replacedSlots < settings.maxInFlight()) {
            replacedSlots++;
            attempt.slotReplaced = true;
            batch.slot = newSlot(batch.scorer);
            fillSlot(batch);
        } else {
            batch.slot = null;
        }
        failed(
                batch,
                attempt.range,
                new TimeoutException(
                        "model call on "
                                + attempt.range.size()
                                + " rows did not return within "
                                + settings.modelCallTimeout()));
    }

    /** Retries the range, splits it, or gives its row up. */
    private void failed(Batch batch, Range range, Throwable failure) throws Exception {
        metrics.modelCallFailures.inc();
        range.failures++;
        if (batch.firstFailure == null) {
            batch.firstFailure = failure;
        }
        if (range.retriable && range.failures <= settings.maxRetries()) {
            metrics.retries.inc();
            batch.work.push(range);
            long backoff = settings.initialBackoff().toMillis() << (range.failures - 1);
            if (draining) {
                proceed(batch);
            } else {
                backingOff.add(batch);
                batch.retryTimer =
                        getProcessingTimeService()
                                .registerTimer(
                                        getProcessingTimeService().getCurrentProcessingTime()
                                                + backoff,
                                        t -> onBackoffElapsed(batch));
            }
            return;
        }
        if (range.size() > 1) {
            metrics.batchSplits.inc();
            int middle = range.from + range.size() / 2;
            // A stack: the first half is scored first, then the second.
            batch.work.push(new Range(middle, range.to, middle + 1 == range.to));
            batch.work.push(new Range(range.from, middle, range.from + 1 == middle));
        } else {
            givenUp(batch, batch.rows[range.from], failure);
        }
        proceed(batch);
    }

    private void onBackoffElapsed(Batch batch) throws Exception {
        if (closed || !backingOff.remove(batch)) {
            return;
        }
        batch.retryTimer = null;
        proceed(batch);
    }

    private void scored(Batch batch, PendingRow row, float score) throws Exception {
        ModelDescriptor descriptor = batch.scorer.descriptor();
        if (row.key != null) {
            pendingRows.remove(row.key);
        }
        if (cache != null) {
            setCurrentKey(row.cardKey);
            long putStart = ticker.nanoTime();
            cache.put(row.featureHash, row.features, descriptor.id(), score);
            metrics.cacheTimeNanos.inc(ticker.nanoTime() - putStart);
        }
        for (int i = 0; i < row.waiting.size(); i++) {
            PendingElement pending = row.waiting.get(i);
            // Only the first transaction cost the row; those attached to it count as hits.
            pending.score = scoreOf(pending.element, descriptor, score, i > 0, false);
            results.completed(pending);
        }
    }

    private void givenUp(Batch batch, PendingRow row, Throwable failure) throws Exception {
        ModelDescriptor descriptor = batch.scorer.descriptor();
        batch.givenUp++;
        if (row.key != null) {
            pendingRows.remove(row.key);
        }
        Double fallback = settings.fallbackScore();
        for (int i = 0; i < row.waiting.size(); i++) {
            PendingElement pending = row.waiting.get(i);
            if (fallback != null) {
                pending.score = scoreOf(pending.element, descriptor, fallback, i > 0, true);
                metrics.fallbacks.inc();
            } else {
                pending.deadLetter =
                        deadLetterOf(
                                pending.element,
                                failure.getClass().getName(),
                                String.valueOf(failure.getMessage()));
                metrics.deadLetters.inc();
            }
            results.completed(pending);
        }
    }

    private void finish(Batch batch) throws Exception {
        if (batch.givenUp > 0) {
            LOG.warn(
                    "Model {} could not score {} of the {} rows of batch {} after retries and"
                            + " splits; they got {}",
                    batch.scorer.descriptor().id(),
                    batch.givenUp,
                    batch.size,
                    batch.id,
                    settings.fallbackScore() == null
                            ? "dead letters"
                            : "the fallback score " + settings.fallbackScore(),
                    batch.firstFailure);
        }
        Slot slot = batch.slot;
        batch.slot = null;
        inFlight--;
        if (slot != null) { // null: its last call timed out and still holds the buffer
            releaseSlot(slot);
        }
    }

    private void releaseSlot(Slot slot) throws Exception {
        Batch waiting = waitingForSlot.poll();
        if (waiting == null) {
            freeSlots.add(slot);
        } else {
            waiting.slot = slot;
            fillSlot(waiting);
            proceed(waiting);
        }
    }

    private Slot newSlot(BatchScorer model) {
        return new Slot(
                model.newInputBuffer(settings.maxBatchSize()), new float[settings.maxBatchSize()]);
    }

    private FraudScore scoreOf(
            EnrichedTransaction element,
            ModelDescriptor descriptor,
            double score,
            boolean cacheHit,
            boolean fallback) {
        return FraudScores.of(
                element.transaction,
                descriptor,
                score,
                cacheHit,
                fallback,
                getProcessingTimeService().getCurrentProcessingTime());
    }

    private static DeadLetter deadLetterOf(
            EnrichedTransaction element, String errorClass, String errorMessage) {
        Transaction txn = element.transaction;
        return DeadLetters.of(
                TRANSACTIONS.encode(txn),
                element.sourceTopic,
                element.sourcePartition,
                element.sourceOffset,
                Stage.INFERENCE,
                errorClass,
                errorMessage,
                txn.getTransactionId());
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        results.addWatermark(mark);
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<StreamElement> elements = new ArrayList<>();
        for (PendingElement pending : results.unemitted()) {
            elements.add(
                    pending.hasTimestamp
                            ? new StreamRecord<>(pending.element, pending.timestamp)
                            : new StreamRecord<>(pending.element));
        }
        pendingState.update(elements);
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

    /** Scores the partial batch and waits until everything accepted has been emitted. */
    private void flushAndWait() throws Exception {
        if (results == null || closed) {
            return; // open() failed, or the operator was closed (cancelled): nothing to wait for
        }
        // Processing-time timers may stop firing while the task finishes: retry without backoff.
        draining = true;
        List<Batch> waiting = new ArrayList<>(backingOff);
        backingOff.clear();
        for (Batch batch : waiting) {
            batch.retryTimer.cancel(false);
            batch.retryTimer = null;
            proceed(batch);
        }
        closeOpenBatch();
        while (!results.isEmpty()) {
            mailbox.yield();
        }
    }

    @Override
    public void close() throws Exception {
        closed = true;
        try {
            if (inferenceThreads != null) {
                // Queued calls are not needed any more: their rows are in the last checkpoint.
                inferenceThreads.shutdownNow();
                boolean terminated;
                try {
                    terminated =
                            inferenceThreads.awaitTermination(
                                    SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    // Cancellation interrupts the task thread; calls may still be running.
                    Thread.currentThread().interrupt();
                    terminated = inferenceThreads.isTerminated();
                }
                if (!terminated) {
                    // Closing a session under a running call could crash the JVM; leak it instead.
                    LOG.error(
                            "A model call of {} was still running when the operator closed;"
                                    + " leaving its session open",
                            settings.modelLocation());
                    scorer = null;
                }
                inferenceThreads = null;
            }
        } finally {
            freeSlots = null;
            try {
                BatchScorer current = scorer;
                if (current != null) {
                    scorer = null;
                    current.close();
                }
            } finally {
                super.close();
            }
        }
    }

    /** This operator's metrics; for tests. */
    InferenceMetrics metrics() {
        return metrics;
    }

    /** Model calls started whose outcome the operator still waits for; for tests. */
    int callsAwaited() {
        return callsAwaited;
    }

    private KeyGroupRange ownedKeyGroups() {
        TaskInfo task = getRuntimeContext().getTaskInfo();
        return KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                task.getMaxNumberOfParallelSubtasks(),
                task.getNumberOfParallelSubtasks(),
                task.getIndexOfThisSubtask());
    }

    /** Emits on the task thread what {@link #results} lets go. */
    private final class Emitter implements ResultQueue.Sink {
        @Override
        public void emit(PendingElement pending) {
            if (pending.score != null) {
                if (pending.hasTimestamp) {
                    reusableOutput.replace(pending.score, pending.timestamp);
                } else {
                    reusableOutput.replace(pending.score);
                    reusableOutput.eraseTimestamp();
                }
                output.collect(reusableOutput);
            } else {
                output.collect(
                        DeadLetters.TAG,
                        pending.hasTimestamp
                                ? new StreamRecord<>(pending.deadLetter, pending.timestamp)
                                : new StreamRecord<>(pending.deadLetter));
            }
        }

        @Override
        public void emitWatermark(Watermark watermark) throws Exception {
            BatchingInferenceOperator.super.processWatermark(watermark);
        }
    }

    /** What makes two pending rows the same model input: card, model version, exact vector. */
    private static final class RowKey {
        final Object cardKey;
        final String modelId;
        final long featureHash;
        final float[] features;

        RowKey(Object cardKey, String modelId, long featureHash, float[] features) {
            this.cardKey = cardKey;
            this.modelId = modelId;
            this.featureHash = featureHash;
            this.features = features;
        }

        @Override
        public boolean equals(Object o) {
            // Bit for bit, as the cache compares vectors.
            return o instanceof RowKey that
                    && featureHash == that.featureHash
                    && cardKey.equals(that.cardKey)
                    && modelId.equals(that.modelId)
                    && Arrays.equals(features, that.features);
        }

        @Override
        public int hashCode() {
            return 31 * Long.hashCode(featureHash) + cardKey.hashCode();
        }
    }

    /** One model input row and the transactions waiting for its score (the first one owns it). */
    private static final class PendingRow {
        final RowKey key;
        final Object cardKey;
        final float[] features;
        final long featureHash;
        final long arrivalNanos;
        final List<PendingElement> waiting = new ArrayList<>(1);

        PendingRow(
                RowKey key, Object cardKey, float[] features, long featureHash, long arrivalNanos) {
            this.key = key;
            this.cardKey = cardKey;
            this.features = features;
            this.featureHash = featureHash;
            this.arrivalNanos = arrivalNanos;
        }
    }

    /**
     * A micro-batch: rows filled on the task thread while open, then scored by calls on inference
     * threads, one call at a time, whose outcomes come back to the task thread via the mailbox.
     */
    private static final class Batch {
        final long id;

        /** The model this batch is scored with from its first call to its last. */
        final BatchScorer scorer;

        final PendingRow[] rows;

        /** Rows at which it closes. */
        final int limit;

        /** How long its oldest row may wait. */
        final long waitNanos;

        int size;
        ScheduledFuture<?> maxWaitTimer;
        Slot slot;

        /** Row ranges still to score, first on top: the whole batch, then halves of failures. */
        final ArrayDeque<Range> work = new ArrayDeque<>();

        ScheduledFuture<?> retryTimer;
        int givenUp;
        Throwable firstFailure;

        Batch(long id, BatchScorer scorer, int capacity, int limit, long waitNanos) {
            this.id = id;
            this.scorer = scorer;
            this.rows = new PendingRow[capacity];
            this.limit = limit;
            this.waitNanos = waitNanos;
        }

        void add(PendingRow row) {
            rows[size++] = row;
        }
    }

    /**
     * Rows {@code [from, to)} of a batch. Only the whole batch and single rows are retried: a
     * failing half is split at once, which costs no more than a retry and isolates faster.
     */
    private static final class Range {
        final int from;
        final int to;
        final boolean retriable;
        int failures;

        Range(int from, int to, boolean retriable) {
            this.from = from;
            this.to = to;
            this.retriable = retriable;
        }

        int size() {
            return to - from;
        }
    }

    /** One model call on a range of a batch. */
    private static final class Attempt {
        final Batch batch;
        final Range range;
        final Slot slot;
        final float[] out;

        /** Written by the inference thread before {@link #returned}. */
        Throwable failure;

        long nanos;
        volatile boolean returned;

        ScheduledFuture<?> timeoutTimer;
        boolean timedOut;
        boolean slotReplaced;

        Attempt(Batch batch, Range range, Slot slot, float[] out) {
            this.batch = batch;
            this.range = range;
            this.slot = slot;
            this.out = out;
        }
    }

    /** The reusable model input and output of one in-flight batch. */
    private record Slot(FloatBuffer rows, float[] scores) {}

    /** Named daemon threads, so a stuck model call neither hides in a dump nor blocks JVM exit. */
    private static final class InferenceThreadFactory implements ThreadFactory {
        private final String prefix;
        private final AtomicInteger count = new AtomicInteger();

        InferenceThreadFactory(String taskName) {
            this.prefix = THREAD_NAME_PREFIX + " (" + taskName + ") #";
        }

        @Override
        public Thread newThread(Runnable runnable) {
            Thread thread = new Thread(runnable, prefix + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        }
    }
}
