package dev.streamscore.operators.batching;

import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.function.IntFunction;
import org.apache.flink.util.Preconditions;

/**
 * The reusable model inputs (direct buffers) and outputs of the batches in flight: one slot per
 * in-flight batch, so a batch costs no allocation, and a task waits for a slot rather than growing
 * memory. ONNX Runtime cannot cancel a call: a call that timed out still reads its slot until it
 * returns, so its batch goes on with a replacement, of which there are at most as many as slots;
 * beyond that, the batch waits here for a slot to come free. Touched only by the task thread.
 *
 * <pre>{@code
 * InputBufferPool pool = new InputBufferPool(2, 256, model::newInputBuffer);
 * InputBufferPool.Slot slot = pool.poll();     // null: all in use
 * Batch next = pool.release(slot);             // non-null: that waiting batch gets the slot
 * }</pre>
 */
final class InputBufferPool {

    /** The input and output of one in-flight batch. */
    record Slot(FloatBuffer rows, float[] scores) {}

    private final int rowsPerSlot;
    private final int limit;
    private final ArrayDeque<Slot> free;
    private final ArrayDeque<Batch> waiting = new ArrayDeque<>();

    /** Slots of timed-out calls that were replaced and are still held by those calls. */
    private int replaced;

    /**
     * @param slots how many batches may be in flight
     * @param rowsPerSlot rows of the largest batch
     * @param newBuffer the model's buffer for that many rows
     */
    InputBufferPool(int slots, int rowsPerSlot, IntFunction<FloatBuffer> newBuffer) {
        Preconditions.checkArgument(slots >= 1, "slots must be at least 1, found %s", slots);
        this.rowsPerSlot = rowsPerSlot;
        this.limit = slots;
        this.free = new ArrayDeque<>(slots);
        for (int i = 0; i < slots; i++) {
            free.add(new Slot(newBuffer.apply(rowsPerSlot), new float[rowsPerSlot]));
        }
    }

    boolean hasFree() {
        return !free.isEmpty();
    }

    /** A free slot, or {@code null} when every slot is in use. */
    Slot poll() {
        return free.poll();
    }

    /** {@code batch} needs a slot; {@link #release} hands it the next one that comes free. */
    void await(Batch batch) {
        waiting.add(batch);
    }

    /**
     * Gives {@code slot} to the batch waiting longest, which is returned (it must fill the slot and
     * go on), or keeps it free and returns {@code null}.
     */
    Batch release(Slot slot) {
        Batch next = waiting.poll();
        if (next == null) {
            free.add(slot);
        } else {
            next.slot = slot;
        }
        return next;
    }

    /**
     * A fresh slot, from {@code newBuffer} (the batch's model), for a batch whose call timed out
     * holding its slot, or {@code null} when as many slots as the pool holds are already out with
     * hung calls.
     */
    Slot replaceHeld(IntFunction<FloatBuffer> newBuffer) {
        if (replaced >= limit) {
            return null;
        }
        replaced++;
        return new Slot(newBuffer.apply(rowsPerSlot), new float[rowsPerSlot]);
    }

    /**
     * A timed-out call returned its {@code slot}: dropped if the batch got a replacement (the pool
     * holds its number of slots again), otherwise released.
     *
     * @return the batch that now gets the slot, as for {@link #release}
     */
    Batch heldReturned(Slot slot, boolean wasReplaced) {
        if (wasReplaced) {
            replaced--;
            return null;
        }
        return release(slot);
    }

    int waitingBatches() {
        return waiting.size();
    }
}
