package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InputBufferPoolTest {

    private final AtomicInteger buffersMade = new AtomicInteger();

    private InputBufferPool pool(int slots) {
        return new InputBufferPool(slots, 4, this::buffer);
    }

    private FloatBuffer buffer(int rows) {
        buffersMade.incrementAndGet();
        return ByteBuffer.allocateDirect(rows * 3 * Float.BYTES)
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    private static Batch batch(long id) {
        return new Batch(id, null, 4, 4, 0);
    }

    @Test
    void holdsOneReusedSlotPerBatchInFlight() {
        InputBufferPool pool = pool(2);
        InputBufferPool.Slot first = pool.poll();
        InputBufferPool.Slot second = pool.poll();

        assertThat(first).isNotSameAs(second);
        assertThat(first.scores()).hasSize(4);
        assertThat(first.rows().capacity()).isEqualTo(4 * 3);
        assertThat(pool.hasFree()).isFalse();
        assertThat(pool.poll()).isNull();

        assertThat(pool.release(first)).isNull();
        assertThat(pool.poll()).isSameAs(first);
        assertThat(buffersMade).hasValue(2);
    }

    @Test
    void aReleasedSlotGoesToTheBatchThatWaitedLongest() {
        InputBufferPool pool = pool(1);
        InputBufferPool.Slot slot = pool.poll();
        Batch waitedFirst = batch(1);
        Batch waitedSecond = batch(2);
        pool.await(waitedFirst);
        pool.await(waitedSecond);

        assertThat(pool.release(slot)).isSameAs(waitedFirst);
        assertThat(waitedFirst.slot).isSameAs(slot);
        assertThat(pool.hasFree()).isFalse();
        assertThat(pool.waitingBatches()).isEqualTo(1);
    }

    @Test
    void replacesTheSlotsOfHungCallsUpToThePoolsSizeThenDropsThemWhenTheyReturn() {
        InputBufferPool pool = pool(2);
        InputBufferPool.Slot heldA = pool.poll();
        InputBufferPool.Slot heldB = pool.poll();

        InputBufferPool.Slot forA = pool.replaceHeld(this::buffer);
        InputBufferPool.Slot forB = pool.replaceHeld(this::buffer);
        assertThat(forA).isNotNull().isNotSameAs(heldA);
        assertThat(forB).isNotNull();
        assertThat(pool.replaceHeld(this::buffer))
                .as("no more than the pool's size out with hung calls")
                .isNull();

        // A replaced slot's hung call returns: the slot is dropped, a replacement is possible
        // again.
        assertThat(pool.heldReturned(heldA, true)).isNull();
        assertThat(pool.hasFree()).isFalse();
        assertThat(pool.replaceHeld(this::buffer)).isNotNull();

        // A hung call whose batch got no replacement returns its slot to the pool.
        assertThat(pool.heldReturned(heldB, false)).isNull();
        assertThat(pool.poll()).isSameAs(heldB);
        assertThat(buffersMade).hasValue(5);
    }
}
