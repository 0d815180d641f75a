package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;

/**
 * One element the batching operator has accepted and not yet emitted, and, once known, its outcome:
 * an output, or a record for a side output. Touched only by the task thread.
 */
final class PendingElement<IN, OUT> {

    /** Arrival order within the operator; restored elements are re-accepted in this order. */
    final long seq;

    final IN element;
    final boolean hasTimestamp;
    final long timestamp;

    /**
     * Set when the outcome is known: {@link #output}, or {@link #side} when it is not an output.
     */
    OUT output;

    Outcome<OUT> side;

    /** Its model input row, once computed; what a challenger scores. */
    float[] row;

    /** The model that scored its output, and the score; {@code null} and NaN when not scored. */
    ModelDescriptor model;

    float score = Float.NaN;

    /** Bookkeeping of the {@link ResultQueue} holding this element. */
    Object queueSlot;

    PendingElement(long seq, IN element, boolean hasTimestamp, long timestamp) {
        this.seq = seq;
        this.element = element;
        this.hasTimestamp = hasTimestamp;
        this.timestamp = timestamp;
    }

    /** Records what the function made of the element. */
    void complete(Outcome<OUT> outcome) {
        if (outcome.output != null) {
            output = outcome.output;
        } else {
            side = outcome;
        }
    }

    boolean isDone() {
        return output != null || side != null;
    }
}
