package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A challenger model scoring in shadow what the champion scored: each element whose champion output
 * was emitted is queued here with its row, and scored by the challenger on a thread of its own, one
 * call at a time, the rows that queued up meanwhile making its batch. Its outcomes come back
 * through the mailbox, where the {@link Sink} writes them (to a side output) and the metrics
 * compare the two models.
 *
 * <p>It never slows the champion beyond the CPU its calls take: the champion's elements never wait
 * for it, and when it falls behind by more than {@link #MAX_QUEUED_BATCHES} batches, newly emitted
 * elements are skipped (the {@code rowsSkipped} metric) instead of back-pressuring the stream. A
 * failed call is counted, not retried. Elements queued and not yet written are part of the
 * checkpoint ({@link #unwritten}), so that after a restore each gets its challenger output exactly
 * once, like the champion's. Touched by the task thread only, but for the call itself.
 *
 * @param <IN> the elements
 * @param <OUT> the outputs the function makes of a challenger's score
 */
final class ChallengerScoring<IN, OUT> implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ChallengerScoring.class);

    /** Prefix of the challenger thread's name. */
    static final String THREAD_NAME_PREFIX = "streamscore-challenger";

    /** Batches of rows that may wait for the challenger before rows are skipped. */
    static final int MAX_QUEUED_BATCHES = 8;

    /** Metric group of the challenger's metrics, under the operator's. */
    public static final String GROUP = "challenger";

    /** Where outputs go. */
    interface Sink<IN, OUT> {
        void challengerScored(Entry<IN> entry, ModelDescriptor challenger, float score)
                throws Exception;

        /** The first call of a challenger returned: it is serving. */
        void firstScored(BatchScorer challenger) throws Exception;

        /** Whether the two scores lead to the same decision. */
        boolean sameDecision(
                ModelDescriptor champion,
                float championScore,
                ModelDescriptor challenger,
                float challengerScore);
    }

    /** One element waiting for the challenger. */
    static final class Entry<IN> {
        final IN element;
        final float[] row;
        final boolean hasTimestamp;
        final long timestamp;

        /** The champion and its score; {@code null} and NaN for an element restored. */
        final ModelDescriptor champion;

        final float championScore;

        Entry(
                IN element,
                float[] row,
                boolean hasTimestamp,
                long timestamp,
                ModelDescriptor champion,
                float championScore) {
            this.element = element;
            this.row = row;
            this.hasTimestamp = hasTimestamp;
            this.timestamp = timestamp;
            this.champion = champion;
            this.championScore = championScore;
        }
    }

    private final int maxBatchSize;
    private final int columns;
    private final MailboxExecutor mailbox;
    private final Sink<IN, OUT> sink;
    private final String taskName;

    /** Runs the current challenger's calls; replaced when a challenger goes with a call running. */
    private ExecutorService thread;

    private final ArrayDeque<Entry<IN>> queued = new ArrayDeque<>();

    /** The entries of the call running, in row order; empty when none runs. */
    private final List<Entry<IN>> calling = new ArrayList<>();

    private BatchScorer challenger;
    private FloatBuffer input;
    private float[] scores;

    /**
     * Challengers replaced or retired while a call of theirs ran, with the thread running it: each
     * is closed when its call returns (or at close, once its thread stopped).
     */
    private final Map<BatchScorer, ExecutorService> retiring = new IdentityHashMap<>();

    /** The model of the call running, {@code null} when none. */
    private BatchScorer callingModel;

    /** Whether the first call of the current challenger is yet to return. */
    private boolean firstCallAwaited;

    private boolean closed;

    private final Counter rowsScored;
    private final Counter rowsSkipped;
    private final Counter failures;
    private final Counter agreements;
    private final Counter disagreements;
    private final Histogram batchLatencyMicros;
    private final Histogram scoreDifferenceMicros;
    private long agreementsNow;
    private long comparedNow;

    ChallengerScoring(
            int maxBatchSize,
            int columns,
            MailboxExecutor mailbox,
            MetricGroup operatorGroup,
            String taskName,
            Sink<IN, OUT> sink) {
        this.maxBatchSize = maxBatchSize;
        this.columns = columns;
        this.mailbox = mailbox;
        this.sink = sink;
        this.taskName = taskName;
        this.thread = newThread();
        MetricGroup group = operatorGroup.addGroup(GROUP);
        rowsScored = group.counter("rowsScored");
        rowsSkipped = group.counter("rowsSkipped");
        failures = group.counter("modelCallFailures");
        agreements = group.counter("agreements");
        disagreements = group.counter("disagreements");
        batchLatencyMicros =
                group.histogram(
                        "inferenceTimeMicros",
                        new DescriptiveStatisticsHistogram(BatchingMetrics.HISTOGRAM_WINDOW));
        scoreDifferenceMicros =
                group.histogram(
                        "scoreDifferenceMicros",
                        new DescriptiveStatisticsHistogram(BatchingMetrics.HISTOGRAM_WINDOW));
        group.gauge(
                "agreementRate",
                (Gauge<Double>)
                        () -> comparedNow == 0 ? Double.NaN : (double) agreementsNow / comparedNow);
        group.gauge(
                BatchingMetrics.MODEL_VERSION,
                (Gauge<String>)
                        () -> {
                            BatchScorer current = challenger;
                            return current == null ? "none" : current.descriptor().id();
                        });
    }

    /** The challenger scoring now; {@code null} when none. */
    BatchScorer current() {
        return challenger;
    }

    /**
     * Makes {@code next} the challenger of elements queued from now on ({@code null}: none). The
     * one it replaces is closed now, or when its running call returns. Queued entries stay and are
     * scored by {@code next}; with none, they are dropped (counted as skipped).
     */
    void replace(BatchScorer next) throws Exception {
        if (next == challenger) {
            return;
        }
        BatchScorer previous = challenger;
        challenger = next;
        input = next == null ? null : next.newInputBuffer(maxBatchSize);
        scores = next == null ? null : new float[maxBatchSize];
        firstCallAwaited = next != null;
        agreementsNow = 0;
        comparedNow = 0;
        if (!calling.isEmpty()) {
            // Its call may never return (a hung model): the new challenger gets a thread of its
            // own and scores the call's rows again; the old call's outcome is ignored.
            for (int i = calling.size() - 1; i >= 0; i--) {
                queued.addFirst(calling.get(i));
            }
            calling.clear();
            retiring.put(callingModel, thread);
            thread.shutdown();
            thread = newThread();
            callingModel = null;
        }
        if (previous != null && !retiring.containsKey(previous)) {
            closeQuietly(previous);
        }
        if (next == null) {
            rowsSkipped.inc(queued.size());
            queued.clear();
        } else {
            startNext();
        }
    }

    /** Queues an element whose champion output was just emitted; a no-op without a challenger. */
    void offer(Entry<IN> entry) throws Exception {
        if (challenger == null || closed) {
            return;
        }
        if (queued.size() >= MAX_QUEUED_BATCHES * maxBatchSize && entry.champion != null) {
            // Restored entries (no champion) always queue: they were accepted before the restore.
            rowsSkipped.inc();
            return;
        }
        queued.add(entry);
        startNext();
    }

    /** Entries accepted and not yet written, for the checkpoint. */
    List<Entry<IN>> unwritten() {
        List<Entry<IN>> all = new ArrayList<>(calling.size() + queued.size());
        all.addAll(calling);
        all.addAll(queued);
        return all;
    }

    private void startNext() {
        if (!calling.isEmpty() || queued.isEmpty() || challenger == null || closed) {
            return;
        }
        int n = Math.min(maxBatchSize, queued.size());
        input.clear();
        for (int i = 0; i < n; i++) {
            Entry<IN> entry = queued.poll();
            calling.add(entry);
            input.put(entry.row, 0, columns);
        }
        input.clear();
        BatchScorer model = challenger;
        callingModel = model;
        FloatBuffer rows = input;
        float[] out = scores;
        try {
            thread.execute(() -> call(model, rows, n, out));
        } catch (RejectedExecutionException e) {
            // Closing: the entries are in the last checkpoint.
            LOG.debug("Challenger call not started: the operator is closing", e);
        }
    }

    /** On the challenger's thread. */
    private void call(BatchScorer model, FloatBuffer rows, int n, float[] out) {
        long start = System.nanoTime();
        Throwable failure = null;
        try {
            model.score(rows, n, out);
        } catch (Throwable t) {
            failure = t;
        }
        long nanos = System.nanoTime() - start;
        Throwable failed = failure;
        try {
            mailbox.execute(
                    () -> returned(model, n, out, failed, nanos), "challenger call on %s rows", n);
        } catch (RejectedExecutionException e) {
            LOG.debug("Dropped a challenger result: the mailbox is closed", e);
        }
    }

    /** On the task thread. */
    private void returned(BatchScorer model, int n, float[] out, Throwable failure, long nanos)
            throws Exception {
        if (closed) {
            return;
        }
        if (retiring.remove(model) != null) {
            // A call of a challenger since replaced: its rows went to the next one.
            closeQuietly(model);
            return;
        }
        List<Entry<IN>> done = new ArrayList<>(calling);
        calling.clear();
        callingModel = null;
        if (failure != null) {
            failures.inc();
            rowsSkipped.inc(n);
            LOG.warn(
                    "Challenger {} failed on {} rows; they get no challenger score",
                    model.descriptor().id(),
                    n,
                    failure);
        } else {
            batchLatencyMicros.update(nanos / 1_000);
            rowsScored.inc(n);
            ModelDescriptor descriptor = model.descriptor();
            for (int i = 0; i < n; i++) {
                Entry<IN> entry = done.get(i);
                sink.challengerScored(entry, descriptor, out[i]);
                if (entry.champion != null) {
                    compare(entry, descriptor, out[i]);
                }
            }
            if (firstCallAwaited) {
                firstCallAwaited = false;
                sink.firstScored(model);
            }
        }
        startNext();
    }

    private void compare(Entry<IN> entry, ModelDescriptor descriptor, float score) {
        comparedNow++;
        if (sink.sameDecision(entry.champion, entry.championScore, descriptor, score)) {
            agreements.inc();
            agreementsNow++;
        } else {
            disagreements.inc();
        }
        scoreDifferenceMicros.update(Math.round((score - entry.championScore) * 1_000_000.0));
    }

    /**
     * Stops the thread and closes the challenger unless a call still runs on it after {@code
     * timeout} (closing a session under a call could crash the JVM).
     */
    @Override
    public void close() throws Exception {
        closed = true;
        Exception first = null;
        if (stop(thread) && challenger != null) {
            first = closeCollecting(challenger, first);
        } else if (challenger != null) {
            LOG.error("A challenger call was still running at close; leaving its session open");
        }
        for (Map.Entry<BatchScorer, ExecutorService> old : retiring.entrySet()) {
            if (stop(old.getValue())) {
                first = closeCollecting(old.getKey(), first);
            } else {
                LOG.error(
                        "A call of replaced challenger {} never returned; leaving its session open",
                        old.getKey().descriptor().id());
            }
        }
        challenger = null;
        retiring.clear();
        if (first != null) {
            throw first;
        }
    }

    private static boolean stop(ExecutorService executor) {
        executor.shutdownNow();
        try {
            return executor.awaitTermination(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return executor.isTerminated();
        }
    }

    private static Exception closeCollecting(BatchScorer model, Exception first) {
        try {
            model.close();
            return first;
        } catch (Exception e) {
            return first == null ? e : addSuppressed(first, e);
        }
    }

    private ExecutorService newThread() {
        return Executors.newSingleThreadExecutor(
                runnable -> {
                    Thread t = new Thread(runnable, THREAD_NAME_PREFIX + " (" + taskName + ")");
                    t.setDaemon(true);
                    return t;
                });
    }

    /** A challenger that cannot be closed is no reason to stop scoring with the champion. */
    private static void closeQuietly(BatchScorer model) {
        try {
            model.close();
        } catch (Exception e) {
            LOG.warn("Could not close challenger {}", model.descriptor().id(), e);
        }
    }

    private static Exception addSuppressed(Exception first, Exception next) {
        first.addSuppressed(next);
        return first;
    }

    /** How long close waits for a running challenger call. */
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    @Override
    public String toString() {
        return "challenger " + (challenger == null ? "none" : challenger.descriptor().id());
    }

    static <IN> Entry<IN> restoredEntry(
            IN element, float[] row, boolean hasTimestamp, long timestamp) {
        return new Entry<>(
                element, Objects.requireNonNull(row), hasTimestamp, timestamp, null, Float.NaN);
    }
}
