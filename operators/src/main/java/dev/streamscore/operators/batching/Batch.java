package dev.streamscore.operators.batching;

import java.util.ArrayDeque;
import java.util.concurrent.ScheduledFuture;

/**
 * A micro-batch: rows filled on the task thread while it is open ({@link BatchAssembler}), then
 * scored by calls on inference threads, one call at a time, whose outcomes come back to the task
 * thread through the mailbox ({@link InFlightBatches}). Touched only by the task thread.
 */
final class Batch {
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

    /** Its input buffer; {@code null} while it waits for one (its own was kept by a hung call). */
    InputBufferPool.Slot slot;

    /** Row ranges still to score, next on top: the whole batch, then halves of failures. */
    final ArrayDeque<RowRange> work = new ArrayDeque<>();

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

    boolean isFull() {
        return size >= limit;
    }
}
