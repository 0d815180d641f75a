package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.junit.jupiter.api.Test;

class ResultQueueTest {

    /** What left the queue, in order: element values and "W<timestamp>" for watermarks. */
    private final List<String> emitted = new ArrayList<>();

    private final ResultQueue.Sink<String, String> sink =
            new ResultQueue.Sink<>() {
                @Override
                public void emit(PendingElement<String, String> element) {
                    emitted.add(element.output);
                }

                @Override
                public void emitWatermark(Watermark watermark) {
                    emitted.add("W" + watermark.getTimestamp());
                }
            };

    private long seq;

    private PendingElement<String, String> add(ResultQueue<String, String> queue, String id) {
        PendingElement<String, String> e = new PendingElement<>(seq++, id, false, 0);
        queue.add(e);
        return e;
    }

    private static void complete(
            ResultQueue<String, String> queue, PendingElement<String, String> e) throws Exception {
        e.output = e.element;
        queue.completed(e);
    }

    @Test
    void orderedEmitsInArrivalOrderWhateverTheOrderOfCompletion() throws Exception {
        ResultQueue<String, String> queue = ResultQueue.create(OutputMode.ORDERED, sink);
        var a = add(queue, "a");
        var b = add(queue, "b");
        var c = add(queue, "c");
        complete(queue, c);
        complete(queue, b);
        assertThat(emitted).isEmpty();
        assertThat(queue.size()).isEqualTo(3);

        complete(queue, a);

        assertThat(emitted).containsExactly("a", "b", "c");
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.size()).isZero();
    }

    @Test
    void unorderedEmitsEachResultAsSoonAsItIsKnown() throws Exception {
        ResultQueue<String, String> queue = ResultQueue.create(OutputMode.UNORDERED, sink);
        var a = add(queue, "a");
        var b = add(queue, "b");

        complete(queue, b);
        assertThat(emitted).containsExactly("b");
        complete(queue, a);
        assertThat(emitted).containsExactly("b", "a");
    }

    @Test
    void inBothModesAWatermarkWaitsForEveryEarlierElementAndNoLaterResultPassesIt()
            throws Exception {
        for (OutputMode mode : OutputMode.values()) {
            emitted.clear();
            ResultQueue<String, String> queue = ResultQueue.create(mode, sink);
            var a = add(queue, "a");
            queue.addWatermark(new Watermark(10));
            var b = add(queue, "b");
            queue.addWatermark(new Watermark(20));
            queue.addWatermark(new Watermark(30)); // right after another: both are kept
            var c = add(queue, "c");

            complete(queue, c);
            complete(queue, b);
            assertThat(emitted).as(mode.name()).isEmpty();

            complete(queue, a);
            assertThat(emitted).as(mode.name()).containsExactly("a", "W10", "b", "W20", "W30", "c");
            assertThat(queue.isEmpty()).isTrue();
        }
    }

    @Test
    void aWatermarkWithNothingHeldLeavesAtOnce() throws Exception {
        for (OutputMode mode : OutputMode.values()) {
            emitted.clear();
            ResultQueue<String, String> queue = ResultQueue.create(mode, sink);
            queue.addWatermark(new Watermark(5));
            assertThat(emitted).containsExactly("W5");
            assertThat(queue.isEmpty()).isTrue();
        }
    }

    @Test
    void unemittedListsEveryHeldElementInArrivalOrderForTheCheckpoint() throws Exception {
        for (OutputMode mode : OutputMode.values()) {
            ResultQueue<String, String> queue = ResultQueue.create(mode, sink);
            var a = add(queue, "a");
            var b = add(queue, "b");
            queue.addWatermark(new Watermark(10));
            var c = add(queue, "c");
            complete(queue, c); // done, but held behind the watermark
            assertThat(queue.unemitted()).as(mode.name()).containsExactly(a, b, c);
            complete(queue, a);
            assertThat(queue.unemitted()).as(mode.name()).containsExactly(b, c);
        }
    }
}
