package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** Models without ONNX Runtime, for the tests of the generic batching parts. */
final class TestScorers {

    private TestScorers() {}

    static ModelDescriptor descriptorOf(String name, String version, int columns) {
        List<String> features =
                java.util.stream.IntStream.range(0, columns).mapToObj(i -> "x" + i).toList();
        return new ModelDescriptor(
                name,
                version,
                "none.onnx",
                "0".repeat(63) + version.length(),
                "input",
                "output",
                features,
                new ModelDescriptor.Thresholds(0.5, 0.8),
                null,
                Map.of());
    }

    /**
     * Scores each row with the sum of its values times {@code factor}; counts its calls and rows;
     * fails every call holding a row whose first value is negative; knows whether it was closed.
     */
    static final class SumScorer implements BatchScorer {
        final ModelDescriptor descriptor;
        final float factor;
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger rows = new AtomicInteger();
        volatile boolean closed;

        /** When set, the first call waits until it is counted down. */
        volatile CountDownLatch firstCallGate;

        /** Counted down when the first call has reached {@link #firstCallGate}. */
        final CountDownLatch firstCallWaiting = new CountDownLatch(1);

        /**
         * How many more input buffers of fewer than {@link #smallBufferRows} rows (those of a split
         * batch's parts) fail to allocate, with an {@link OutOfMemoryError}.
         */
        final AtomicInteger smallBufferErrors = new AtomicInteger();

        volatile int smallBufferRows;

        SumScorer(String version, int columns, float factor) {
            this.descriptor = descriptorOf("sum", version, columns);
            this.factor = factor;
        }

        @Override
        public ModelDescriptor descriptor() {
            return descriptor;
        }

        @Override
        public String executionProvider() {
            return "java";
        }

        @Override
        public FloatBuffer newInputBuffer(int rows) {
            if (rows < smallBufferRows && smallBufferErrors.getAndDecrement() > 0) {
                throw new OutOfMemoryError("Cannot reserve " + rows + " rows of direct memory");
            }
            return ByteBuffer.allocateDirect(rows * descriptor.featureCount() * Float.BYTES)
                    .order(ByteOrder.nativeOrder())
                    .asFloatBuffer();
        }

        @Override
        public void score(FloatBuffer input, int n, float[] out) throws InterruptedException {
            if (calls.incrementAndGet() == 1 && firstCallGate != null) {
                firstCallWaiting.countDown();
                firstCallGate.await();
            }
            int columns = descriptor.featureCount();
            for (int r = 0; r < n; r++) {
                if (input.get(r * columns) < 0) {
                    throw new IllegalStateException("negative first value in row " + r);
                }
            }
            for (int r = 0; r < n; r++) {
                float sum = 0;
                for (int c = 0; c < columns; c++) {
                    sum += input.get(r * columns + c);
                }
                out[r] = sum * factor;
            }
            rows.addAndGet(n);
        }

        @Override
        public void close() {
            if (closed) {
                throw new IllegalStateException("closed twice");
            }
            closed = true;
        }
    }
}
