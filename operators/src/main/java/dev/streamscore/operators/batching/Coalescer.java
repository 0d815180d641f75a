package dev.streamscore.operators.batching;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The rows buffered or being scored, by stream key, model and exact row: an element whose row
 * equals one of them (a cache miss for a row already on its way to the model) attaches to it
 * instead of costing the model a row of its own. Touched only by the task thread.
 *
 * <pre>{@code
 * Coalescer.RowKey key = new Coalescer.RowKey(key, model.id(), hash, features);
 * PendingRow row = coalescer.pending(key);
 * if (row == null) { row = new PendingRow(key, ...); coalescer.register(row); }
 * row.waiting.add(element);
 * // ... when the row is scored or given up:
 * coalescer.completed(row);
 * }</pre>
 */
final class Coalescer {

    private final Map<RowKey, PendingRow> pending = new HashMap<>();

    /** The pending row equal to {@code key}, or {@code null}. */
    PendingRow pending(RowKey key) {
        return pending.get(key);
    }

    /** Makes {@code row} (which has a key) the one later equal rows attach to. */
    void register(PendingRow row) {
        pending.put(row.key, row);
    }

    /** {@code row} is scored or given up: later equal rows are cache hits or rows of their own. */
    void completed(PendingRow row) {
        if (row.key != null) {
            pending.remove(row.key);
        }
    }

    int size() {
        return pending.size();
    }

    /** What makes two pending rows the same model input: stream key, model, exact row. */
    static final class RowKey {
        final Object streamKey;
        final String modelId;
        final long featureHash;
        final float[] features;

        RowKey(Object streamKey, String modelId, long featureHash, float[] features) {
            this.streamKey = streamKey;
            this.modelId = modelId;
            this.featureHash = featureHash;
            this.features = features;
        }

        @Override
        public boolean equals(Object o) {
            // Bit for bit, as the cache compares rows.
            return o instanceof RowKey that
                    && featureHash == that.featureHash
                    && streamKey.equals(that.streamKey)
                    && modelId.equals(that.modelId)
                    && Arrays.equals(features, that.features);
        }

        @Override
        public int hashCode() {
            return 31 * Long.hashCode(featureHash) + streamKey.hashCode();
        }
    }
}
