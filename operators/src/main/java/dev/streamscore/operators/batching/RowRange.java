package dev.streamscore.operators.batching;

/**
 * Rows {@code [from, to)} of a batch, and how often a call on exactly them has failed. Only the
 * whole batch and single rows are retriable: a failing half is split at once, which costs no more
 * than a retry and isolates the bad rows faster (see {@link BisectingRetryPolicy}).
 */
final class RowRange {
    final int from;
    final int to;
    final boolean retriable;
    int failures;

    RowRange(int from, int to, boolean retriable) {
        this.from = from;
        this.to = to;
        this.retriable = retriable;
    }

    /** The whole batch of {@code size} rows. */
    static RowRange whole(int size) {
        return new RowRange(0, size, true);
    }

    int size() {
        return to - from;
    }

    @Override
    public String toString() {
        return "[" + from + ", " + to + ")";
    }
}
