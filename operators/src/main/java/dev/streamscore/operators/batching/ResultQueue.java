package dev.streamscore.operators.batching;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;

/**
 * The elements and watermarks a {@link BatchingOperator} holds until they may be emitted, in one of
 * the two {@link OutputMode}s. A watermark leaves only after every element that arrived before it,
 * and a result never leaves before a watermark that arrived before its element: the two queues of
 * Flink's {@code AsyncWaitOperator} ({@code OrderedStreamElementQueue}, {@code
 * UnorderedStreamElementQueue}), for the same reasons. Touched only by the task thread.
 *
 * <pre>{@code
 * ResultQueue<IN, OUT> results = ResultQueue.create(OutputMode.UNORDERED, sink);
 * results.add(pending);            // when accepted
 * results.addWatermark(watermark); // held behind what is pending
 * pending.output = ...;
 * results.completed(pending);      // emits whatever may now leave, through the sink
 * }</pre>
 */
abstract class ResultQueue<IN, OUT> {

    /** Where results and watermarks leave the queue. */
    interface Sink<IN, OUT> {
        void emit(PendingElement<IN, OUT> element) throws Exception;

        void emitWatermark(Watermark watermark) throws Exception;
    }

    private final Sink<IN, OUT> sink;
    private int elements;

    ResultQueue(Sink<IN, OUT> sink) {
        this.sink = sink;
    }

    static <IN, OUT> ResultQueue<IN, OUT> create(OutputMode mode, Sink<IN, OUT> sink) {
        return mode == OutputMode.ORDERED ? new Ordered<>(sink) : new Unordered<>(sink);
    }

    /** Holds a newly accepted element, whose result is not known yet. */
    final void add(PendingElement<IN, OUT> element) {
        elements++;
        doAdd(element);
    }

    /** Emits {@code watermark} now if nothing is held, else holds it behind what is. */
    abstract void addWatermark(Watermark watermark) throws Exception;

    /** {@code element}'s result is now set: emits whatever may now leave. */
    abstract void completed(PendingElement<IN, OUT> element) throws Exception;

    /** Elements accepted and not yet emitted. */
    final int size() {
        return elements;
    }

    /** Whether nothing, neither element nor watermark, is held. */
    abstract boolean isEmpty();

    /** Every element not yet emitted, in arrival order: what a checkpoint must hold. */
    final List<PendingElement<IN, OUT>> unemitted() {
        List<PendingElement<IN, OUT>> all = new ArrayList<>(elements);
        collect(all);
        all.sort(Comparator.comparingLong(e -> e.seq));
        return all;
    }

    abstract void doAdd(PendingElement<IN, OUT> element);

    abstract void collect(List<PendingElement<IN, OUT>> into);

    final void emit(PendingElement<IN, OUT> element) throws Exception {
        elements--;
        sink.emit(element);
    }

    final void emitWatermark(Watermark watermark) throws Exception {
        sink.emitWatermark(watermark);
    }

    @SuppressWarnings("unchecked")
    static <IN, OUT> PendingElement<IN, OUT> cast(Object entry) {
        return (PendingElement<IN, OUT>) entry;
    }

    /** One queue in arrival order; its head leaves when done. */
    private static final class Ordered<IN, OUT> extends ResultQueue<IN, OUT> {
        private final ArrayDeque<Object> queue = new ArrayDeque<>();

        Ordered(Sink<IN, OUT> sink) {
            super(sink);
        }

        @Override
        void doAdd(PendingElement<IN, OUT> element) {
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
        void completed(PendingElement<IN, OUT> element) throws Exception {
            while (!queue.isEmpty()) {
                Object head = queue.peek();
                if (head instanceof Watermark watermark) {
                    queue.poll();
                    emitWatermark(watermark);
                } else if (((PendingElement<?, ?>) head).isDone()) {
                    queue.poll();
                    emit(cast(head));
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
        void collect(List<PendingElement<IN, OUT>> into) {
            for (Object entry : queue) {
                if (entry instanceof PendingElement<?, ?>) {
                    into.add(cast(entry));
                }
            }
        }
    }

    /**
     * Segments of elements separated by watermarks. Within the first segment a done element leaves
     * at once; a later segment's done elements wait until the segments before it and their closing
     * watermarks have left.
     */
    private static final class Unordered<IN, OUT> extends ResultQueue<IN, OUT> {
        private final ArrayDeque<Segment<IN, OUT>> segments = new ArrayDeque<>();

        Unordered(Sink<IN, OUT> sink) {
            super(sink);
        }

        @Override
        void doAdd(PendingElement<IN, OUT> element) {
            Segment<IN, OUT> last = segments.peekLast();
            if (last == null || last.closedBy != null) {
                last = new Segment<>();
                segments.add(last);
            }
            last.incomplete.add(element);
            element.queueSlot = last;
        }

        @Override
        void addWatermark(Watermark watermark) throws Exception {
            Segment<IN, OUT> last = segments.peekLast();
            if (last == null) {
                emitWatermark(watermark);
                return;
            }
            if (last.closedBy != null) {
                last = new Segment<>(); // a watermark right after a watermark: keep both
                segments.add(last);
            }
            last.closedBy = watermark;
            drain();
        }

        @Override
        void completed(PendingElement<IN, OUT> element) throws Exception {
            @SuppressWarnings("unchecked")
            Segment<IN, OUT> segment = (Segment<IN, OUT>) element.queueSlot;
            segment.incomplete.remove(element);
            segment.done.add(element);
            drain();
        }

        private void drain() throws Exception {
            while (!segments.isEmpty()) {
                Segment<IN, OUT> first = segments.peek();
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
        void collect(List<PendingElement<IN, OUT>> into) {
            for (Segment<IN, OUT> segment : segments) {
                into.addAll(segment.incomplete);
                into.addAll(segment.done);
            }
        }

        private static final class Segment<IN, OUT> {
            final LinkedHashSet<PendingElement<IN, OUT>> incomplete = new LinkedHashSet<>();
            final ArrayDeque<PendingElement<IN, OUT>> done = new ArrayDeque<>();
            Watermark closedBy;
        }
    }
}
