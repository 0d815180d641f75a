package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.operators.cache.CachedScore;
import dev.streamscore.operators.cache.ScoreCache;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.features.CardFeatures;
import dev.streamscore.operators.features.EnrichedTransaction;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
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
 * Scores card transactions with an ONNX model in micro-batches, off the task thread, and answers
 * repeated feature vectors of a card from a score cache in keyed state.
 *
 * <p>It runs on a stream keyed by card id. A transaction whose exact feature vector the card was
 * recently scored for by the same model version is answered at once ({@code cache_hit = true}).
 * Every other transaction joins the current batch, which is scored by one {@link OnnxModel#score}
 * call when it holds {@link InferenceSettings#maxBatchSize()} rows, when its oldest row has waited
 * {@link InferenceSettings#maxWait()}, or when the input ends. Batches are scored on a small pool
 * of inference threads; at most {@link InferenceSettings#maxInFlight()} at once, beyond which the
 * task thread waits (which back-pressures the source). Results come back to the task thread through
 * the mailbox, where they are cached and emitted, batch by batch in the order the batches closed.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>A batch the model fails on is not retried: each of its transactions goes to the {@link
 *       DeadLetters#TAG} side output with stage {@code INFERENCE}; the job keeps running.
 *   <li>A watermark is held back until every transaction that arrived before it has been emitted.
 *       Cache hits are emitted at once, so output order is not input order.
 *   <li>Checkpoints hold every buffered and in-flight transaction; after a restore each is scored
 *       and emitted exactly once, by the subtask that owns its card's key group.
 *   <li>The output record keeps the input record's timestamp.
 * </ul>
 *
 * <p>The model's descriptor must list exactly {@link CardFeatures#NAMES}, or {@code open} fails.
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

    private static final long serialVersionUID = 1L;

    /** Operator (union list) state of buffered and in-flight transactions. */
    static final String PENDING_STATE = "batching-inference-pending";

    /** Prefix of the inference threads' names. */
    static final String THREAD_NAME_PREFIX = "streamscore-inference";

    /** How long close waits for a model call still running before giving up on the session. */
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    private static final SingleObjectCodec<Transaction> TRANSACTIONS =
            SingleObjectCodec.of(Transaction.class);

    private final InferenceSettings settings;

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
    private transient ListState<StreamElement> pendingState;
    private transient List<StreamRecord<EnrichedTransaction>> restored;
    private transient ScoreCache cache;

    private transient OnnxModel model;
    private transient ModelDescriptor descriptor;
    private transient ArrayDeque<Slot> freeSlots;
    private transient ExecutorService inferenceThreads;
    private transient InferenceMetrics metrics;

    /**
     * Batches (open, waiting for a slot, scoring, or scored) and held-back watermarks, in the order
     * they arrived. Only the task thread touches it.
     */
    private transient ArrayDeque<Object> pending;

    /** The batch new misses join; also the last batch in {@link #pending}. */
    private transient Batch open;

    private transient int inFlight;
    private transient long nextBatchId;
    private transient StreamRecord<FraudScore> reusableOutput;
    private transient boolean closed;

    public BatchingInferenceOperator(InferenceSettings settings) {
        Preconditions.checkArgument(settings != null, "inference settings must be set, found none");
        this.settings = settings;
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
        copyInputs = getExecutionConfig().isObjectReuseEnabled();
        pending = new ArrayDeque<>();
        reusableOutput = new StreamRecord<>(null);

        model = OnnxModel.open(settings.modelLocation(), settings.onnx());
        descriptor = model.descriptor();
        try {
            checkFeatures(descriptor);
        } catch (IllegalArgumentException e) {
            model.close();
            model = null;
            throw e;
        }
        freeSlots = new ArrayDeque<>(settings.maxInFlight());
        for (int i = 0; i < settings.maxInFlight(); i++) {
            freeSlots.add(
                    new Slot(
                            model.newInputBuffer(settings.maxBatchSize()),
                            new float[settings.maxBatchSize()]));
        }
        inferenceThreads =
                Executors.newFixedThreadPool(
                        settings.maxInFlight(),
                        new InferenceThreadFactory(
                                getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks()));
        metrics = new InferenceMetrics(getMetricGroup(), () -> inFlight);

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
        accept(element, record.hasTimestamp(), record.getTimestamp());
    }

    /** Answers from the cache or buffers; the element's key is the current key. */
    private void accept(EnrichedTransaction element, boolean hasTimestamp, long timestamp)
            throws Exception {
        if (element.features == null || element.features.length != CardFeatures.COUNT) {
            deadLetter(
                    element,
                    hasTimestamp,
                    timestamp,
                    IllegalArgumentException.class.getName(),
                    "expected "
                            + CardFeatures.COUNT
                            + " features, found "
                            + (element.features == null ? "none" : element.features.length));
            return;
        }
        if (cache != null) {
            CachedScore hit =
                    cache.lookup(element.featureHash(), element.features, descriptor.id());
            if (hit != null) {
                metrics.cacheHits.inc();
                emitScore(element, hasTimestamp, timestamp, hit.score, true);
                return;
            }
            metrics.cacheMisses.inc();
        }
        if (open == null) {
            Batch batch = new Batch(nextBatchId++, settings.maxBatchSize());
            long deadline =
                    getProcessingTimeService().getCurrentProcessingTime()
                            + settings.maxWait().toMillis();
            batch.maxWaitTimer =
                    getProcessingTimeService().registerTimer(deadline, time -> onMaxWait(batch));
            open = batch;
            pending.add(batch);
        }
        open.add(element, hasTimestamp, timestamp);
        if (open.size == settings.maxBatchSize()) {
            closeOpenBatch();
        }
    }

    private void onMaxWait(Batch batch) throws Exception {
        if (open == batch) {
            closeOpenBatch();
        }
    }

    /**
     * Hands the open batch to an inference thread, first waiting (running other mails, among them
     * the completions that free a slot) while {@code maxInFlight} batches are being scored.
     */
    private void closeOpenBatch() throws Exception {
        Batch batch = open;
        if (batch == null) {
            return;
        }
        open = null;
        batch.maxWaitTimer.cancel(false);
        metrics.batchSize.update(batch.size);
        if (freeSlots.isEmpty()) {
            // A completion that runs while we yield emits with its own keys; put ours back after.
            Object key = getCurrentKey();
            while (freeSlots.isEmpty()) {
                mailbox.yield();
            }
            if (key != null) {
                setCurrentKey(key);
            }
        }
        Slot slot = freeSlots.poll();
        for (int row = 0; row < batch.size; row++) {
            slot.rows.put(row * CardFeatures.COUNT, batch.elements[row].features);
        }
        batch.slot = slot;
        inFlight++;
        inferenceThreads.execute(() -> scoreOffTaskThread(batch));
    }

    /**
     * Runs on an inference thread: one model call, then the result goes back through the mailbox.
     */
    private void scoreOffTaskThread(Batch batch) {
        long start = System.nanoTime();
        try {
            model.score(batch.slot.rows, batch.size, batch.slot.scores);
        } catch (Throwable t) {
            // Not handled here: the task thread turns it into dead letters, or fails on an Error.
            batch.failure = t;
        }
        batch.inferenceNanos = System.nanoTime() - start;
        try {
            mailbox.execute(
                    () -> onBatchScored(batch), "scored batch %s of %s rows", batch.id, batch.size);
        } catch (RejectedExecutionException e) {
            // The task is shutting down; the batch is restored from the last checkpoint.
            LOG.debug("Dropped the result of batch {}: the mailbox is closed", batch.id, e);
        }
    }

    private void onBatchScored(Batch batch) throws Exception {
        if (closed) {
            return;
        }
        batch.scored = true;
        metrics.inferenceTimeMicros.update(TimeUnit.NANOSECONDS.toMicros(batch.inferenceNanos));
        if (batch.failure instanceof Error) {
            throw (Error) batch.failure;
        }
        emitCompleted();
    }

    /** Emits scored batches and held watermarks from the head of {@link #pending}, in order. */
    private void emitCompleted() throws Exception {
        while (!pending.isEmpty()) {
            Object head = pending.peek();
            if (head instanceof Watermark watermark) {
                pending.poll();
                super.processWatermark(watermark);
            } else if (((Batch) head).scored) {
                pending.poll();
                emitBatch((Batch) head);
            } else {
                return;
            }
        }
    }

    private void emitBatch(Batch batch) throws Exception {
        try {
            if (batch.failure == null) {
                for (int row = 0; row < batch.size; row++) {
                    EnrichedTransaction element = batch.elements[row];
                    float score = batch.slot.scores[row];
                    if (cache != null) {
                        setCurrentKey(keySelector.getKey(element));
                        cache.put(element.featureHash(), element.features, descriptor.id(), score);
                    }
                    emitScore(
                            element, batch.hasTimestamp[row], batch.timestamps[row], score, false);
                }
                metrics.rowsScored.inc(batch.size);
            } else {
                Throwable failure = batch.failure;
                LOG.warn(
                        "Model {} failed on a batch of {} rows; sending them to dead letters",
                        descriptor.id(),
                        batch.size,
                        failure);
                for (int row = 0; row < batch.size; row++) {
                    deadLetter(
                            batch.elements[row],
                            batch.hasTimestamp[row],
                            batch.timestamps[row],
                            failure.getClass().getName(),
                            String.valueOf(failure.getMessage()));
                }
            }
        } finally {
            freeSlots.add(batch.slot);
            batch.slot = null;
            inFlight--;
        }
    }

    private void emitScore(
            EnrichedTransaction element,
            boolean hasTimestamp,
            long timestamp,
            float score,
            boolean cacheHit) {
        Transaction txn = element.transaction;
        FraudScore result =
                FraudScore.newBuilder()
                        .setTransactionId(txn.getTransactionId())
                        .setCardId(txn.getCardId())
                        .setScore(score)
                        .setDecision(decide(score))
                        .setModelName(descriptor.name())
                        .setModelVersion(descriptor.version())
                        .setCacheHit(cacheHit)
                        .setEventTime(txn.getEventTime())
                        .setScoredAt(
                                Instant.ofEpochMilli(
                                        getProcessingTimeService().getCurrentProcessingTime()))
                        .build();
        if (hasTimestamp) {
            reusableOutput.replace(result, timestamp);
        } else {
            reusableOutput.replace(result);
            reusableOutput.eraseTimestamp();
        }
        output.collect(reusableOutput);
    }

    private Decision decide(double score) {
        ModelDescriptor.Thresholds thresholds = descriptor.thresholds();
        if (score >= thresholds.decline()) {
            return Decision.DECLINE;
        }
        return score >= thresholds.review() ? Decision.REVIEW : Decision.APPROVE;
    }

    private void deadLetter(
            EnrichedTransaction element,
            boolean hasTimestamp,
            long timestamp,
            String errorClass,
            String errorMessage) {
        Transaction txn = element.transaction;
        DeadLetter letter =
                DeadLetters.of(
                        TRANSACTIONS.encode(txn),
                        element.sourceTopic,
                        element.sourcePartition,
                        element.sourceOffset,
                        Stage.INFERENCE,
                        errorClass,
                        errorMessage,
                        txn.getTransactionId());
        output.collect(
                DeadLetters.TAG,
                hasTimestamp ? new StreamRecord<>(letter, timestamp) : new StreamRecord<>(letter));
        metrics.deadLetters.inc();
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        // Anything pending arrived before this watermark and may be older than it.
        if (pending.isEmpty()) {
            super.processWatermark(mark);
        } else {
            pending.add(mark);
        }
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<StreamElement> elements = new ArrayList<>();
        for (Object entry : pending) {
            if (entry instanceof Batch batch) {
                for (int row = 0; row < batch.size; row++) {
                    elements.add(
                            batch.hasTimestamp[row]
                                    ? new StreamRecord<>(batch.elements[row], batch.timestamps[row])
                                    : new StreamRecord<>(batch.elements[row]));
                }
            }
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

    /** Scores the partial batch and waits until everything pending has been emitted. */
    private void flushAndWait() throws Exception {
        if (pending == null || closed) {
            return; // open() failed, or the operator was closed (cancelled): nothing to wait for
        }
        closeOpenBatch();
        emitCompleted();
        while (!pending.isEmpty()) {
            mailbox.yield();
        }
    }

    @Override
    public void close() throws Exception {
        closed = true;
        try {
            if (inferenceThreads != null) {
                // Queued batches are not needed any more: they are in the last checkpoint.
                inferenceThreads.shutdownNow();
                if (!inferenceThreads.awaitTermination(
                        SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    // Closing a session under a running call could crash the JVM; leak it instead.
                    LOG.error(
                            "A model call of {} did not return within {}; leaving its session open",
                            settings.modelLocation(),
                            SHUTDOWN_TIMEOUT);
                    model = null;
                }
                inferenceThreads = null;
            }
        } finally {
            freeSlots = null;
            try {
                if (model != null) {
                    model.close();
                    model = null;
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

    private KeyGroupRange ownedKeyGroups() {
        TaskInfo task = getRuntimeContext().getTaskInfo();
        return KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                task.getMaxNumberOfParallelSubtasks(),
                task.getNumberOfParallelSubtasks(),
                task.getIndexOfThisSubtask());
    }

    /**
     * A micro-batch: filled on the task thread while open, then read by one inference thread, whose
     * results come back to the task thread through the mailbox (which orders the accesses).
     */
    private static final class Batch {
        final long id;
        final EnrichedTransaction[] elements;
        final long[] timestamps;
        final boolean[] hasTimestamp;
        int size;
        ScheduledFuture<?> maxWaitTimer;
        Slot slot;
        boolean scored;
        Throwable failure;
        long inferenceNanos;

        Batch(long id, int capacity) {
            this.id = id;
            this.elements = new EnrichedTransaction[capacity];
            this.timestamps = new long[capacity];
            this.hasTimestamp = new boolean[capacity];
        }

        void add(EnrichedTransaction element, boolean hasTimestamp, long timestamp) {
            elements[size] = element;
            this.hasTimestamp[size] = hasTimestamp;
            timestamps[size] = timestamp;
            size++;
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
