package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.explain.Explainer;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.streaming.runtime.tasks.ProcessingTimeService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The batches being scored: each model call runs on an inference thread and its outcome comes back
 * to the task thread through the mailbox; a call that throws or outlives {@link
 * BatchingSettings#modelCallTimeout()} is handled by the {@link BisectingRetryPolicy} (backoffs are
 * processing-time timers, so the task thread keeps working meanwhile), until every row of the batch
 * is scored or given up. The {@link Listener} hears of each row and of each finished batch.
 *
 * <p>ONNX Runtime cannot cancel a call: a timed-out call keeps its input buffer until it returns,
 * and the batch goes on with a replacement from the {@link InputBufferPool}. A bad batch never
 * fails the job; an {@link Error} thrown by the model does. Everything but the model call itself
 * runs on the task thread.
 *
 * <pre>{@code
 * InFlightBatches inFlight = new InFlightBatches(settings, pool, mailbox, timers, metrics, ...);
 * while (!pool.hasFree()) mailbox.yield();
 * inFlight.start(assembler.take());
 * }</pre>
 */
final class InFlightBatches {

    private static final Logger LOG = LoggerFactory.getLogger(InFlightBatches.class);

    /** Which scores the function wants explained: {@link BatchFunction#explains}. */
    @FunctionalInterface
    interface Explains {
        boolean explains(ModelDescriptor model, float score);
    }

    /** Prefix of the inference threads' names. */
    static final String THREAD_NAME_PREFIX = "streamscore-inference";

    /** What becomes of the rows. Called on the task thread. */
    interface Listener {
        /**
         * @param contributions the row's contributions, or {@code null} when it was not explained
         */
        void scored(Batch batch, PendingRow row, float score, float[] contributions)
                throws Exception;

        void givenUp(Batch batch, PendingRow row, Throwable failure) throws Exception;
    }

    private final BatchingSettings settings;
    private final InputBufferPool pool;
    private final ModelHolder models;
    private final BisectingRetryPolicy policy;
    private final ExecutorService threads;
    private final MailboxExecutor mailbox;
    private final ProcessingTimeService timers;
    private final BatchingMetrics metrics;
    private final BatchAssembler assembler;
    private final Ticker ticker;
    private final int columns;
    private final Explains explains;
    private final Listener listener;

    /** Batches waiting for a retry's backoff timer. */
    private final LinkedHashSet<Batch> backingOff = new LinkedHashSet<>();

    private int inFlight;
    private int callsAwaited;
    private boolean draining;
    private boolean closed;

    InFlightBatches(
            BatchingSettings settings,
            InputBufferPool pool,
            ModelHolder models,
            MailboxExecutor mailbox,
            ProcessingTimeService timers,
            BatchingMetrics metrics,
            BatchAssembler assembler,
            Ticker ticker,
            int columns,
            String taskName,
            Explains explains,
            Listener listener) {
        this.settings = settings;
        this.pool = pool;
        this.models = models;
        this.policy = new BisectingRetryPolicy(settings.maxRetries(), settings.initialBackoff());
        this.mailbox = mailbox;
        this.timers = timers;
        this.metrics = metrics;
        this.assembler = assembler;
        this.ticker = ticker;
        this.columns = columns;
        this.explains = explains;
        this.listener = listener;
        // Twice maxInFlight: a call that timed out keeps its thread until it returns.
        this.threads =
                Executors.newFixedThreadPool(
                        2 * settings.maxInFlight(), new InferenceThreadFactory(taskName));
    }

    /** Starts scoring {@code batch}; the pool must have a free slot. */
    void start(Batch batch) throws Exception {
        batch.slot = pool.poll();
        if (batch.slot == null) {
            throw new IllegalStateException(
                    "batch " + batch.id + " started without a free input buffer");
        }
        inFlight++;
        fill(batch);
        long start = ticker.nanoTime();
        for (int i = 0; i < batch.size; i++) {
            metrics.queueTimeMicros.update((start - batch.rows[i].arrivalNanos) / 1_000);
        }
        batch.work.push(RowRange.whole(batch.size));
        proceed(batch);
    }

    /** Batches being scored. */
    int inFlight() {
        return inFlight;
    }

    /** Model calls started whose outcome is still awaited (not returned, not timed out). */
    int callsAwaited() {
        return callsAwaited;
    }

    /**
     * From now on, failed calls are retried without backoff and calls are not timed out, and
     * retries waiting for their backoff start now: the task may stop firing processing-time timers
     * while it finishes.
     */
    void drain() throws Exception {
        draining = true;
        List<Batch> waiting = new ArrayList<>(backingOff);
        backingOff.clear();
        for (Batch batch : waiting) {
            batch.retryTimer.cancel(false);
            batch.retryTimer = null;
            proceed(batch);
        }
    }

    /**
     * Stops handling outcomes and stops the inference threads, dropping queued calls (their rows
     * are in the last checkpoint).
     *
     * @return whether every call has returned within {@code timeout}; if not, a model session is
     *     still in use and must not be closed
     */
    boolean shutdown(Duration timeout) {
        closed = true;
        threads.shutdownNow();
        try {
            return threads.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            // Cancellation interrupts the task thread; calls may still be running.
            Thread.currentThread().interrupt();
            return threads.isTerminated();
        }
    }

    private void fill(Batch batch) {
        for (int i = 0; i < batch.size; i++) {
            batch.slot.rows().put(i * columns, batch.rows[i].features);
        }
    }

    /** Starts the batch's next call, or waits for a buffer, or finishes the batch. */
    private void proceed(Batch batch) throws Exception {
        if (batch.work.isEmpty()) {
            finish(batch);
        } else if (batch.slot == null) {
            // A buffer may have come free (a timed-out call returned) while this batch backed off.
            batch.slot = pool.poll();
            if (batch.slot == null) {
                pool.await(batch);
            } else {
                fill(batch);
                call(batch, batch.work.pop());
            }
        } else {
            call(batch, batch.work.pop());
        }
    }

    private void call(Batch batch, RowRange range) {
        Attempt attempt =
                new Attempt(
                        batch,
                        range,
                        batch.slot,
                        range.from == 0 ? batch.slot.scores() : new float[range.size()]);
        callsAwaited++;
        // A call that times out may outlive its batch: it holds the model until it returns.
        models.hold(batch.scorer);
        if (!draining) {
            long deadline =
                    timers.getCurrentProcessingTime() + settings.modelCallTimeout().toMillis();
            attempt.timeoutTimer = timers.registerTimer(deadline, t -> onTimeout(attempt));
        }
        threads.execute(() -> callOffTaskThread(attempt));
    }

    /** Runs on an inference thread: one model call, then the outcome goes back via the mailbox. */
    private void callOffTaskThread(Attempt attempt) {
        int n = attempt.range.size();
        long start = ticker.nanoTime();
        FloatBuffer rows = null;
        try {
            rows = inputOf(attempt);
        } catch (Throwable t) {
            // Not the model's failure (no memory for a split batch's buffer, a bug): the batch
            // retries, splits or gives up as for a failed call. Were it left to escape, the batch
            // would wait for an outcome that never comes and its buffer would never come back.
            attempt.failure =
                    new IllegalStateException(
                            "could not prepare the model call on " + n + " rows: " + t, t);
        }
        if (rows != null) {
            start = ticker.nanoTime();
            try {
                attempt.batch.scorer.score(rows, n, attempt.out);
            } catch (Throwable t) {
                // Not handled here: the task thread retries, splits or gives up, or fails on an
                // Error.
                attempt.failure = t;
            }
        }
        attempt.nanos = ticker.nanoTime() - start;
        if (rows != null && attempt.failure == null) {
            // The scores are in: a timeout from now on gives the explanation its own budget
            // instead of failing a call whose model answered (see onTimeout).
            attempt.modelReturned = true;
            explain(attempt, rows, n);
        }
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

    /**
     * On the inference thread, right after a successful call: the contributions of the rows the
     * function asks to explain. Whatever goes wrong here (an Error included: reasons are an extra,
     * and the same rows would fail again after a restart) leaves the scores as they are, without
     * contributions, and is counted.
     */
    private void explain(Attempt attempt, FloatBuffer rows, int n) {
        long start = cpuNanos();
        int count = 0;
        try {
            Explainer explainer = attempt.batch.scorer.explainer();
            if (explainer == null) {
                return;
            }
            ModelDescriptor model = attempt.batch.scorer.descriptor();
            int[] which = null;
            for (int i = 0; i < n; i++) {
                if (explains.explains(model, attempt.out[i])) {
                    if (which == null) {
                        which = new int[n];
                    }
                    which[count++] = i;
                }
            }
            if (count == 0) {
                return;
            }
            float[][] contributions = new float[count][columns];
            explainer.explain(rows, which, count, attempt.out, contributions);
            float[][] byRow = new float[n][];
            for (int k = 0; k < count; k++) {
                byRow[which[k]] = contributions[k];
            }
            attempt.contributions = byRow;
            attempt.explained = count;
        } catch (Throwable t) {
            attempt.contributions = null;
            attempt.explanationFailure = t;
            attempt.explained = Math.max(count, 1);
        } finally {
            attempt.explanationNanos = cpuNanos() - start;
        }
    }

    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * This thread's CPU time, where the JVM measures it, else the wall clock: what explaining
     * costs, not how long the thread waited for a core meanwhile.
     */
    private long cpuNanos() {
        return THREADS.isCurrentThreadCpuTimeSupported()
                ? THREADS.getCurrentThreadCpuTime()
                : ticker.nanoTime();
    }

    /** The rows of the attempt's range, in the buffer the model call reads. */
    private FloatBuffer inputOf(Attempt attempt) {
        int n = attempt.range.size();
        if (attempt.range.from == 0 && n == attempt.batch.size) {
            // The whole batch: the slot has room for padding rows past it (see OnnxOptions).
            return attempt.slot.rows();
        }
        // Part of a split batch: a copy of its own, so that padding written past the part cannot
        // overwrite the rows of the other half.
        FloatBuffer rows = attempt.batch.scorer.newInputBuffer(n);
        rows.put(attempt.slot.rows().slice(attempt.range.from * columns, n * columns));
        rows.clear();
        return rows;
    }

    private void onCallReturned(Attempt attempt) throws Exception {
        if (closed) {
            return;
        }
        models.release(attempt.batch.scorer);
        metrics.inferenceTimeMicros.update(attempt.nanos / 1_000);
        metrics.modelTimeNanos.inc(attempt.nanos);
        if (attempt.timedOut) {
            // Already failed and moved on; only its buffer was waiting for this.
            resume(pool.heldReturned(attempt.slot, attempt.slotReplaced));
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
        assembler.onCall(n, attempt.nanos);
        metrics.explanationTimeNanos.inc(attempt.explanationNanos);
        if (attempt.explanationFailure != null) {
            metrics.explanationFailures.inc(attempt.explained);
            LOG.warn(
                    "Could not explain {} scores of batch {} (model {}); they go out without"
                            + " reasons",
                    attempt.explained,
                    batch.id,
                    batch.scorer.descriptor().id(),
                    attempt.explanationFailure);
        } else {
            metrics.rowsExplained.inc(attempt.explained);
        }
        float[][] contributions = attempt.contributions;
        for (int i = 0; i < n; i++) {
            listener.scored(
                    batch,
                    batch.rows[attempt.range.from + i],
                    attempt.out[i],
                    contributions == null ? null : contributions[i]);
        }
        metrics.rowsScored.inc(n);
        proceed(batch);
    }

    private void onTimeout(Attempt attempt) throws Exception {
        if (closed || attempt.returned || attempt.timedOut) {
            return; // returned in time: its outcome is already in the mailbox
        }
        if (attempt.modelReturned && !attempt.explanationExtended) {
            // The model answered in time and its rows are being explained: the explanation gets
            // one more model-call timeout before the call counts as timed out.
            attempt.explanationExtended = true;
            long deadline =
                    timers.getCurrentProcessingTime() + settings.modelCallTimeout().toMillis();
            attempt.timeoutTimer = timers.registerTimer(deadline, t -> onTimeout(attempt));
            return;
        }
        attempt.timedOut = true;
        callsAwaited--;
        metrics.modelCallTimeouts.inc();
        Batch batch = attempt.batch;
        // The call still reads its buffer: it stays with the call, and the batch goes on with
        // another one, or waits for one.
        batch.slot = pool.replaceHeld(batch.scorer::newInputBuffer);
        if (batch.slot != null) {
            attempt.slotReplaced = true;
            fill(batch);
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
    private void failed(Batch batch, RowRange range, Throwable failure) throws Exception {
        metrics.modelCallFailures.inc();
        if (batch.firstFailure == null) {
            batch.firstFailure = failure;
        }
        switch (policy.onFailure(range)) {
            case RETRY -> {
                metrics.retries.inc();
                batch.work.push(range);
                if (draining) {
                    proceed(batch);
                } else {
                    backingOff.add(batch);
                    batch.retryTimer =
                            timers.registerTimer(
                                    timers.getCurrentProcessingTime() + policy.backoffMillis(range),
                                    t -> onBackoffElapsed(batch));
                }
            }
            case SPLIT -> {
                metrics.batchSplits.inc();
                RowRange[] halves = policy.halves(range);
                // A stack: the first half is scored first, then the second.
                batch.work.push(halves[1]);
                batch.work.push(halves[0]);
                proceed(batch);
            }
            case GIVE_UP -> {
                batch.givenUp++;
                listener.givenUp(batch, batch.rows[range.from], failure);
                proceed(batch);
            }
        }
    }

    private void onBackoffElapsed(Batch batch) throws Exception {
        if (closed || !backingOff.remove(batch)) {
            return;
        }
        batch.retryTimer = null;
        proceed(batch);
    }

    private void finish(Batch batch) throws Exception {
        if (batch.givenUp > 0) {
            LOG.warn(
                    "Model {} could not score {} of the {} rows of batch {} after retries and"
                            + " splits; their elements got the function's failure outcome",
                    batch.scorer.descriptor().id(),
                    batch.givenUp,
                    batch.size,
                    batch.id,
                    batch.firstFailure);
        }
        InputBufferPool.Slot slot = batch.slot;
        batch.slot = null;
        inFlight--;
        models.release(batch.scorer);
        if (slot != null) { // null: its last call timed out and still holds the buffer
            resume(pool.release(slot));
        }
    }

    /** A batch that waited for a buffer got one: it goes on. */
    private void resume(Batch waiting) throws Exception {
        if (waiting != null) {
            fill(waiting);
            proceed(waiting);
        }
    }

    /** One model call on a range of a batch. */
    private static final class Attempt {
        final Batch batch;
        final RowRange range;
        final InputBufferPool.Slot slot;
        final float[] out;

        /** Written by the inference thread before {@link #returned}. */
        Throwable failure;

        long nanos;

        /** Set by the inference thread once the model call itself succeeded. */
        volatile boolean modelReturned;

        /** The timeout already gave the explanation its extra budget (task thread). */
        boolean explanationExtended;

        /** Written by the inference thread before {@link #returned}: per row, or null. */
        float[][] contributions;

        int explained;
        Throwable explanationFailure;
        long explanationNanos;

        volatile boolean returned;

        ScheduledFuture<?> timeoutTimer;
        boolean timedOut;
        boolean slotReplaced;

        Attempt(Batch batch, RowRange range, InputBufferPool.Slot slot, float[] out) {
            this.batch = batch;
            this.range = range;
            this.slot = slot;
            this.out = out;
        }
    }

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
