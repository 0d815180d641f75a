package dev.streamscore.operators.batching;

import org.apache.flink.streaming.runtime.tasks.ProcessingTimeService;

/**
 * Assembles micro-batches on the task thread: the batch new rows join, closed when it holds its
 * limit of rows or when its oldest row has waited its time (a processing-time timer, or, with
 * adaptive batching, also checked on each arrival to the nanosecond). Without a latency target
 * every batch is {@link BatchingSettings#maxBatchSize()} rows and {@link
 * BatchingSettings#maxWait()}; with one, an {@link AdaptiveBatchSizer} chooses both per batch.
 *
 * <p>A batch takes its model from the {@link ModelHolder} when it opens and keeps it to the end.
 *
 * <pre>{@code
 * BatchAssembler assembler = new BatchAssembler(settings, models, timers, ticker, onDeadline);
 * if (assembler.add(row)) {           // full, or its oldest row waited long enough
 *     Batch batch = assembler.take(); // now score it
 * }
 * }</pre>
 */
final class BatchAssembler {

    /** What happens when an open batch's wait is over before it filled. */
    @FunctionalInterface
    interface DeadlineListener {
        void deadlineReached(Batch batch) throws Exception;
    }

    private final BatchingSettings settings;
    private final ModelHolder models;
    private final ProcessingTimeService timers;
    private final DeadlineListener onDeadline;
    private final AdaptiveBatchSizer sizer;

    private Batch open;
    private long nextBatchId;
    private int chosenBatchSize;
    private long chosenWaitNanos;

    BatchAssembler(
            BatchingSettings settings,
            ModelHolder models,
            ProcessingTimeService timers,
            DeadlineListener onDeadline) {
        this.settings = settings;
        this.models = models;
        this.timers = timers;
        this.onDeadline = onDeadline;
        this.sizer =
                settings.adaptiveBatching()
                        ? new AdaptiveBatchSizer(
                                settings.latencyTarget(),
                                settings.maxBatchSize(),
                                settings.maxWait())
                        : null;
        this.chosenBatchSize = settings.maxBatchSize();
        this.chosenWaitNanos = settings.maxWait().toNanos();
    }

    /**
     * Adds {@code row} to the open batch, opening one first if none is open.
     *
     * @return whether the batch must close now
     */
    boolean add(PendingRow row) {
        if (sizer != null) {
            sizer.onArrival(row.arrivalNanos);
        }
        if (open == null) {
            open = openBatch();
        }
        open.add(row);
        return open.isFull()
                || (sizer != null
                        && row.arrivalNanos - open.rows[0].arrivalNanos >= open.waitNanos);
    }

    /** The model of the open batch, or {@code null} when none is open. */
    BatchScorer openModel() {
        return open == null ? null : open.scorer;
    }

    /** The open batch, closed to new rows (its deadline timer cancelled), or {@code null}. */
    Batch take() {
        Batch batch = open;
        if (batch != null) {
            open = null;
            if (batch.maxWaitTimer != null) {
                batch.maxWaitTimer.cancel(false);
            }
        }
        return batch;
    }

    /** A model call on {@code rows} rows succeeded after {@code nanos}: what adaptive sizes use. */
    void onCall(int rows, long nanos) {
        if (sizer != null) {
            sizer.onCall(rows, nanos);
        }
    }

    /** Rows at which the batch opened last closes. */
    int chosenBatchSize() {
        return chosenBatchSize;
    }

    /** How long the oldest row of the batch opened last may wait. */
    long chosenWaitNanos() {
        return chosenWaitNanos;
    }

    private Batch openBatch() {
        if (sizer != null) {
            sizer.choose();
            chosenBatchSize = sizer.batchSize();
            chosenWaitNanos = sizer.waitNanos();
        }
        Batch batch =
                new Batch(
                        nextBatchId++,
                        models.acquire(),
                        settings.maxBatchSize(),
                        chosenBatchSize,
                        chosenWaitNanos);
        if (batch.limit > 1) {
            // Rounded up: an adaptive wait below 1 ms is checked on arrivals; this timer only
            // closes the batch when rows stop coming.
            long waitMillis = (chosenWaitNanos + 999_999) / 1_000_000;
            long deadline = timers.getCurrentProcessingTime() + waitMillis;
            batch.maxWaitTimer =
                    timers.registerTimer(
                            deadline,
                            time -> {
                                if (open == batch) {
                                    onDeadline.deadlineReached(batch);
                                }
                            });
        }
        return batch;
    }
}
