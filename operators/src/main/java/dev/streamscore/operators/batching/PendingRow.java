package dev.streamscore.operators.batching;

import java.util.ArrayList;
import java.util.List;

/**
 * One model input row and the elements waiting for its score: the first one owns the row, the
 * others were coalesced onto it. Touched only by the task thread.
 */
final class PendingRow {

    /** What it is coalesced under, or {@code null} when the cache (and coalescing) is off. */
    final Coalescer.RowKey key;

    /** The key of the keyed stream its elements belong to: whose cache the score is put in. */
    final Object streamKey;

    final float[] features;
    final long featureHash;
    final long arrivalNanos;
    final List<PendingElement<?, ?>> waiting = new ArrayList<>(1);

    PendingRow(
            Coalescer.RowKey key,
            Object streamKey,
            float[] features,
            long featureHash,
            long arrivalNanos) {
        this.key = key;
        this.streamKey = streamKey;
        this.features = features;
        this.featureHash = featureHash;
        this.arrivalNanos = arrivalNanos;
    }
}
