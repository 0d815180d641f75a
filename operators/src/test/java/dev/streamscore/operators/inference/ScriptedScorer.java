package dev.streamscore.operators.inference;

import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.operators.batching.OnnxBatchScorer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntToLongFunction;

/**
 * The ONNX Runtime model the settings name (a fixture) behind a script saying what each call does
 * before it scores: throw, or hang until {@link #release()}. Optionally advances a fake clock by a
 * service time per call. Records the input of each call. For the tests of failures, timeouts,
 * output order and adaptive batching, which need a model call to fail or to finish at a chosen
 * moment.
 */
final class ScriptedScorer extends ForwardingScorer {

    /** What a call does before it scores. */
    enum Step {
        SCORE,
        THROW,
        HANG
    }

    /** The input rows a call was given, copied when it started. */
    record Call(int rows, float[] input, FloatBuffer buffer) {}

    private final Queue<Step> script = new ConcurrentLinkedQueue<>();
    private final CountDownLatch released = new CountDownLatch(1);
    private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger hanging = new AtomicInteger();
    private AtomicLong clock;
    private IntToLongFunction serviceNanos;

    ScriptedScorer(Step... steps) {
        super(null); // opened by the factory
        script.addAll(List.of(steps));
    }

    /** Each call advances {@code clock} by {@code serviceNanos(rows)} before it returns. */
    ScriptedScorer taking(AtomicLong clock, IntToLongFunction serviceNanos) {
        this.clock = clock;
        this.serviceNanos = serviceNanos;
        return this;
    }

    /** The operator's seam: opens the model {@code settings} name, behind this script. */
    BatchScorer.Factory factory(InferenceSettings settings) {
        return () -> {
            model = OnnxBatchScorer.open(settings.modelLocation(), settings.onnx());
            return this;
        };
    }

    /** Lets every hanging call (and every later HANG step) go on. */
    void release() {
        released.countDown();
    }

    int hanging() {
        return hanging.get();
    }

    List<Call> calls() {
        synchronized (calls) {
            return List.copyOf(calls);
        }
    }

    @Override
    public void score(FloatBuffer rows, int n, float[] out) throws Exception {
        float[] input = new float[n * descriptor().featureCount()];
        rows.duplicate().position(0).get(input);
        calls.add(new Call(n, input, rows));
        Step step = script.poll();
        if (step == Step.THROW) {
            throw new IllegalStateException("scripted failure of call " + calls.size());
        }
        if (step == Step.HANG) {
            hanging.incrementAndGet();
            try {
                if (!released.await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("a hanging call was never released");
                }
            } finally {
                hanging.decrementAndGet();
            }
        }
        if (clock != null) {
            clock.addAndGet(serviceNanos.applyAsLong(n));
        }
        super.score(rows, n, out);
    }
}
