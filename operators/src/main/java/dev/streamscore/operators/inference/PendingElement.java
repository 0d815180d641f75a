package dev.streamscore.operators.inference;

import dev.streamscore.operators.features.EnrichedTransaction;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FraudScore;

/**
 * One transaction the inference operator has accepted and not yet emitted, and, once known, its
 * result: a score or a dead letter. Touched only by the task thread.
 */
final class PendingElement {

    /** Arrival order within the operator; restored elements are re-accepted in this order. */
    final long seq;

    final EnrichedTransaction element;
    final boolean hasTimestamp;
    final long timestamp;

    /** Set when the result is known; exactly one of the two is then non-null. */
    FraudScore score;

    DeadLetter deadLetter;

    /** Bookkeeping of the {@link ResultQueue} holding this element. */
    Object queueSlot;

    PendingElement(long seq, EnrichedTransaction element, boolean hasTimestamp, long timestamp) {
        this.seq = seq;
        this.element = element;
        this.hasTimestamp = hasTimestamp;
        this.timestamp = timestamp;
    }

    boolean isDone() {
        return score != null || deadLetter != null;
    }
}
