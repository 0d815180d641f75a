package dev.streamscore.operators.batching;

import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.flink.util.Preconditions;

/**
 * The model new batches are scored with, and the seam where it can be replaced between batches: a
 * batch {@link #acquire}s the current model when it opens and {@link #release}s it when its last
 * row is done, each model call {@link #hold}s its batch's model until it returns (a call that timed
 * out may outlive its batch), and a model that was {@link #replace}d is closed when the last hold
 * on it is released. So no batch ever mixes two models, and no model is closed under a running
 * call. Touched only by the task thread, but for {@link #current}, which metric gauges read.
 *
 * <pre>{@code
 * ModelHolder models = new ModelHolder(champion);
 * BatchScorer batchModel = models.acquire();   // when a batch opens
 * models.replace(challengerTurnedChampion);    // batches opened from now on use it
 * models.release(batchModel);                  // when the batch is done: closes the old model
 * }</pre>
 */
public final class ModelHolder implements AutoCloseable {

    private volatile BatchScorer current;

    /** Holds (batches and calls) on each model that is still open, the current one included. */
    private final Map<BatchScorer, Integer> holders = new IdentityHashMap<>();

    public ModelHolder(BatchScorer initial) {
        Preconditions.checkArgument(initial != null, "a model must be set, found none");
        this.current = initial;
        holders.put(initial, 0);
    }

    /** The model a batch opened now would get; {@code null} once closed. */
    public BatchScorer current() {
        return current;
    }

    /** The current model, held until {@link #release}d. */
    public BatchScorer acquire() {
        Preconditions.checkState(current != null, "the model holder is closed");
        holders.merge(current, 1, Integer::sum);
        return current;
    }

    /** Another hold on {@code model}, which a batch holds: a call on it, until it returns. */
    public void hold(BatchScorer model) {
        Integer held = holders.get(model);
        Preconditions.checkState(
                held != null && held > 0, "held a model no batch holds: %s", model);
        holders.put(model, held + 1);
    }

    /** A hold on {@code model} ends; closes a replaced model that nothing holds now. */
    public void release(BatchScorer model) throws Exception {
        Integer held = holders.get(model);
        Preconditions.checkState(
                held != null && held > 0, "released a model nothing holds: %s", model);
        holders.put(model, held - 1);
        if (held == 1 && model != current) {
            holders.remove(model);
            model.close();
        }
    }

    /**
     * Makes {@code next} the model of batches opened from now on; the previous one is closed at
     * once when nothing holds it, else when the last hold is released. The caller has checked that
     * {@code next} takes the same rows (see {@link BatchingOperator#replaceModel}).
     */
    public void replace(BatchScorer next) throws Exception {
        Preconditions.checkArgument(next != null, "a model must be set, found none");
        Preconditions.checkState(current != null, "the model holder is closed");
        BatchScorer previous = current;
        if (next == previous) {
            return;
        }
        holders.putIfAbsent(next, 0);
        current = next;
        if (holders.get(previous) == 0) {
            holders.remove(previous);
            previous.close();
        }
    }

    /** Models still open, the current one included. */
    public int openModels() {
        return holders.size();
    }

    /** Closes every model still open; no call may be running on any. */
    @Override
    public void close() throws Exception {
        current = null;
        Exception first = null;
        for (BatchScorer model : holders.keySet()) {
            try {
                model.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        holders.clear();
        if (first != null) {
            throw first;
        }
    }

    /**
     * Forgets every model without closing it: a call may still run on one, and closing a session
     * under a running call could crash the JVM.
     */
    public void abandon() {
        current = null;
        holders.clear();
    }
}
