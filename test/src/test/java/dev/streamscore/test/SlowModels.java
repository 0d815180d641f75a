package dev.streamscore.test;

import dev.streamscore.jobs.ScoringStage;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.operators.batching.OnnxBatchScorer;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.operators.inference.Score;
import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.api.common.typeinfo.TypeInformation;

/**
 * The job's ONNX Runtime scoring made slow on purpose for the fault tests: a pause of {@link
 * #DELAY_MILLIS} in each model call; counts the calls under way in this JVM (the MiniCluster runs
 * in it), and makes the next call fail as {@link #ARMED} says, once.
 */
final class SlowModels implements BatchScorer.Factory {
    private static final long serialVersionUID = 1L;

    /** What goes wrong once the first scores are committed. */
    enum Fault {
        /** TaskManager 0 is terminated while a model call is under way in each subtask. */
        TASK_MANAGER_LOSS,
        /** One model call throws an exception: the batch is retried. */
        MODEL_THROWS_ONCE,
        /** One model call throws an Error: the job fails and restores from its checkpoint. */
        MODEL_ERROR_ONCE,
        /** One model call hangs past the model call timeout: the batch is retried without it. */
        MODEL_HANGS_ONCE
    }

    /** Pause in each model call; tests change it while the job runs. */
    static volatile long DELAY_MILLIS = 50;

    /** The job's batched ONNX inference with these models. */
    static final ScoringStage STAGE =
            (enriched, commands, config) ->
                    enriched.transform(
                                    "score: slow batched ONNX inference",
                                    TypeInformation.of(Score.class),
                                    BatchingInferenceOperator.withScorers(
                                                    config.inference(),
                                                    new SlowModels(
                                                            OnnxBatchScorer.factory(
                                                                    config.inference()
                                                                            .modelLocation(),
                                                                    config.inference().onnx())))
                                            .withFeatures(config.features())
                                            .withInputsOwned())
                            .uid("batching-inference");

    static final AtomicInteger CALLS_UNDER_WAY = new AtomicInteger();
    static final AtomicReference<Fault> ARMED = new AtomicReference<>();
    static final AtomicInteger FAULTS_DONE = new AtomicInteger();

    private final BatchScorer.Factory onnx;

    SlowModels(BatchScorer.Factory onnx) {
        this.onnx = onnx;
    }

    @Override
    public BatchScorer open() throws Exception {
        BatchScorer inner = onnx.open();
        return new BatchScorer() {
            @Override
            public ModelDescriptor descriptor() {
                return inner.descriptor();
            }

            @Override
            public String executionProvider() {
                return inner.executionProvider();
            }

            @Override
            public FloatBuffer newInputBuffer(int rows) {
                return inner.newInputBuffer(rows);
            }

            @Override
            public void score(FloatBuffer rows, int n, float[] out) throws Exception {
                CALLS_UNDER_WAY.incrementAndGet();
                try {
                    Fault fault = ARMED.getAndSet(null);
                    if (fault != null) {
                        FAULTS_DONE.incrementAndGet();
                        switch (fault) {
                            case MODEL_THROWS_ONCE ->
                                    throw new IllegalStateException("the model failed once");
                            case MODEL_ERROR_ONCE ->
                                    throw new AssertionError("the model broke once");
                            case MODEL_HANGS_ONCE -> Thread.sleep(6_000);
                            default -> {}
                        }
                    }
                    Thread.sleep(50);
                    inner.score(rows, n, out);
                } finally {
                    CALLS_UNDER_WAY.decrementAndGet();
                }
            }

            @Override
            public void close() throws Exception {
                inner.close();
            }
        };
    }
}
