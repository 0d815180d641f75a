package dev.streamscore.operators.inference;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;

/**
 * The transactions and watermarks the inference operator holds until they may be emitted, in one of
 * the two {@link OutputMode}s. A watermark leaves only after every transaction that arrived before
 * it, and a result never leaves before a watermark that arrived before its transaction: the two
 * queues of Flink's {@code AsyncWaitOperator}, for the same reasons. Touched only by the task
 * thread.
 */
abstract class ResultQueue {

    /** Where results and watermarks leave the queue. */
    interface Sink {
        void emit(PendingElement element) throws Exception;

        void emitWatermark(Watermark watermark) throws Exception;
    }

    private final Sink sink;
    private int elements;

    ResultQueue(Sink sink) {
        this.sink = sink;
    }

    static ResultQueue create(OutputMode mode, Sink sink) {
        return mode == OutputMode.ORDERED ? new Ordered(sink) : new Unordered(sink);
    }

    /** Holds a newly accepted element, whose result is not known yet. */
    final void add(PendingElement element) {
        elements++;
        doAdd(element);
    }

    /** Emits {@code watermark} now if nothing is held, else holds it behind what is. */
    abstract void addWatermark(Watermark watermark) throws Exception;

    /** {@code element}'s result is now set: emits whatever may now leave. */
    abstract void completed(PendingElement element) throws Exception;

    /** Elements accepted and not yet emitted. */
    final int size() {
        return elements;
    }

    /** Whether nothing, neither element nor watermark, is held. */
    abstract boolean isEmpty();

    /** Every element not yet emitted, in arrival order: what a checkpoint must hold. */
    final List<PendingElement> unemitted() {
        List<PendingElement> all = new ArrayList<>(elements);
        collect(all);
        all.sort(Comparator.comparingLong(e -> e.seq));
        return all;
    }

    abstract void doAdd(PendingElement element);

    abstract void collect(List<PendingElement> into);

    final void emit(PendingElement element) throws Exception {
        elements--;
        sink.emit(element);
    }

    final void emitWatermark(Watermark watermark) throws Exception {
        sink.emitWatermark(watermark);
    }

    /** One queue in arrival order; its head leaves when done. */
    private static final class Ordered extends ResultQueue {
        private final ArrayDeque<Object> queue = new ArrayDeque<>();

        Ordered(Sink sink) {
            super(sink);
        }

        @Override
        void doAdd(PendingElement element) {
            queue.add(element);
        }

        @Override
        void addWatermark(Watermark watermark) throws Exception {
            if (queue.isEmpty()) {
                emitWatermark(watermark);
            } else {
                queue.add(watermark);
            }
        }

        @Override
        void completed(PendingElement element) throws Exception {
            while (!queue.isEmpty()) {
                Object head = queue.peek();
                if (head instanceof Watermark watermark) {
                    queue.poll();
                    emitWatermark(watermark);
                } else if (((PendingElement) head).isDone()) {
                    queue.poll();
                    emit((PendingElement) head);
                } else {
                    return;
                }
            }
        }

        @Override
        boolean isEmpty() {
            return queue.isEmpty();
        }

        @Override
        void collect(List<PendingElement> into) {
            for (Object entry : queue) {
                if (entry instanceof PendingElement element) {
                    into.add(element);
                }
            }
        }
    }

    /**
     * Segments of elements separated by watermarks. Within the first segment a done element leaves
     * at once; a later segment's done elements wait until the segments before it and their closing
     * watermarks have left.
     */
    private static final class Unordered extends ResultQueue {
        private final ArrayDeque<Segment> segments = new ArrayDeque<>();

        Unordered(Sink sink) {
            super(sink);
        }

        @Override
        void doAdd(PendingElement element) {
            Segment last = segments.peekLast();
            if (last == null || last.closedBy != null) {
                last = new Segment();
                segments.add(last);
            }
            last.incomplete.add(element);
            element.queueSlot = last;
        }

        @Override
        void addWatermark(Watermark watermark) throws Exception {
            Segment last = segments.peekLast();
            if (last == null) {
                emitWatermark(watermark);
                return;
            }
            if (last.closedBy != null) {
                last = new Segment(); // a watermark right after a watermark: keep both
                segments.add(last);
            }
            last.closedBy = watermark;
            drain();
        }

        @Override
        void completed(PendingElement element) throws Exception {
            Segment segment = (Segment) element.queueSlot;
            segment.incomplete.remove(element);
            segment.done.add(element);
            drain();
        }

        private void drain() throws Exception {
            while (!segments.isEmpty()) {
                Segment first = segments.peek();
                while (!first.done.isEmpty()) {
                    emit(first.done.poll());
                }
                if (!first.incomplete.isEmpty()) {
                    return;
                }
                segments.poll();
                if (first.closedBy != null) {
                    emitWatermark(first.closedBy);
                }
            }
        }

        @Override
        boolean isEmpty() {
            return segments.isEmpty();
        }

        @Override
        void collect(List<PendingElement> into) {
            for (Segment segment : segments) {
                into.addAll(segment.incomplete);
                into.addAll(segment.done);
            }
        }

        private static final class Segment {
            final LinkedHashSet<PendingElement> incomplete = new LinkedHashSet<>();
            final ArrayDeque<PendingElement> done = new ArrayDeque<>();
            Watermark closedBy;
        }
    }
}
