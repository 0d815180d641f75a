package dev.streamscore.tools.bench;

import dev.streamscore.jobs.ScoringStage;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.BatchingMetrics;
import dev.streamscore.operators.inference.Score;
import dev.streamscore.operators.inference.Scores;
import dev.streamscore.operators.serde.PipelineEvent;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

/**
 * The scoring stages {@code streamscore bench} measures streamscore against, each dropped into the
 * same job in place of the batching operator (see {@link ScoringStage}).
 */
public final class Baselines {

    private Baselines() {}

    /** The batching operator's name for the wall time of model calls, which these count too. */
    static final String MODEL_TIME_NANOS = BatchingMetrics.MODEL_TIME_NANOS;

    /** Requests in flight per subtask for {@link #perRecordAsync}: Flink's default capacity. */
    static final int ASYNC_CAPACITY = 100;

    /**
     * No model at all: every transaction gets a constant score. What Kafka, Flink, Avro and the
     * feature state cost on their own: the job's ceiling.
     */
    public static ScoringStage ceiling() {
        return (enriched, commands, config) ->
                enriched.map(new ConstantScore(config.inference().modelLocation()))
                        .returns(TypeInformation.of(Score.class))
                        .name("score: constant (ceiling)")
                        .uid("constant-score");
    }

    /** One ONNX Runtime call per transaction in a plain map function, as most tutorials do. */
    public static ScoringStage perRecordMap() {
        return (enriched, commands, config) ->
                enriched.map(
                                new PerRecordScorer(
                                        config.inference().modelLocation(),
                                        config.inference().onnx()))
                        .returns(TypeInformation.of(Score.class))
                        .name("score: one ONNX call per event (map)")
                        .uid("per-record-map");
    }

    /**
     * One ONNX Runtime call per transaction through Flink's async I/O ({@link AsyncDataStream},
     * unordered, capacity 100), on as many threads per subtask as streamscore has batches in
     * flight: the standard Flink way to call a model.
     */
    public static ScoringStage perRecordAsync() {
        return (enriched, commands, config) ->
                AsyncDataStream.unorderedWait(
                                enriched,
                                new AsyncPerRecordScorer(
                                        config.inference().modelLocation(),
                                        config.inference().onnx(),
                                        config.inference().batching().maxInFlight()),
                                config.inference().batching().modelCallTimeout().toMillis(),
                                TimeUnit.MILLISECONDS,
                                ASYNC_CAPACITY)
                        .returns(TypeInformation.of(Score.class))
                        .name("score: one ONNX call per event (async I/O)")
                        .uid("per-record-async");
    }

    /** One ONNX Runtime call for one transaction, timed into {@code modelTimeNanos}. */
    private static Score scoreOne(OnnxModel model, Counter modelTimeNanos, PipelineEvent e)
            throws Exception {
        long start = System.nanoTime();
        float score = model.score(new float[][] {e.features})[0];
        modelTimeNanos.inc(System.nanoTime() - start);
        return Scores.of(e, model.descriptor(), score, false, false, System.currentTimeMillis());
    }

    private static final class ConstantScore extends RichMapFunction<PipelineEvent, Score> {
        private static final long serialVersionUID = 1L;
        private final String modelLocation;
        private transient ModelDescriptor descriptor;

        ConstantScore(String modelLocation) {
            this.modelLocation = modelLocation;
        }

        @Override
        public void open(OpenContext context) {
            descriptor = ModelArtifact.load(modelLocation).descriptor();
        }

        @Override
        public Score map(PipelineEvent e) {
            return Scores.of(e, descriptor, 0.0, false, false, System.currentTimeMillis());
        }
    }

    private static final class PerRecordScorer extends RichMapFunction<PipelineEvent, Score> {
        private static final long serialVersionUID = 1L;
        private final String modelLocation;
        private final OnnxOptions options;
        private transient OnnxModel model;
        private transient Counter modelTimeNanos;

        PerRecordScorer(String modelLocation, OnnxOptions options) {
            this.modelLocation = modelLocation;
            this.options = options;
        }

        @Override
        public void open(OpenContext context) throws Exception {
            model = OnnxModel.open(modelLocation, options);
            modelTimeNanos = getRuntimeContext().getMetricGroup().counter(MODEL_TIME_NANOS);
        }

        @Override
        public Score map(PipelineEvent e) throws Exception {
            return scoreOne(model, modelTimeNanos, e);
        }

        @Override
        public void close() throws Exception {
            if (model != null) {
                model.close();
            }
        }
    }

    private static final class AsyncPerRecordScorer
            extends RichAsyncFunction<PipelineEvent, Score> {
        private static final long serialVersionUID = 1L;
        private final String modelLocation;
        private final OnnxOptions options;
        private final int threads;
        private transient OnnxModel model;
        private transient ExecutorService executor;
        private transient Counter modelTimeNanos;

        AsyncPerRecordScorer(String modelLocation, OnnxOptions options, int threads) {
            this.modelLocation = modelLocation;
            this.options = options;
            this.threads = threads;
        }

        @Override
        public void open(OpenContext context) throws Exception {
            model = OnnxModel.open(modelLocation, options);
            executor = Executors.newFixedThreadPool(threads);
            modelTimeNanos =
                    getRuntimeContext()
                            .getMetricGroup()
                            .counter(MODEL_TIME_NANOS, new ThreadSafeSimpleCounter());
        }

        @Override
        public void asyncInvoke(PipelineEvent e, ResultFuture<Score> result) {
            executor.execute(
                    () -> {
                        try {
                            result.complete(List.of(scoreOne(model, modelTimeNanos, e)));
                        } catch (Throwable failure) {
                            result.completeExceptionally(failure);
                        }
                    });
        }

        @Override
        public void close() throws Exception {
            boolean idle = true;
            if (executor != null) {
                executor.shutdownNow();
                idle = executor.awaitTermination(10, TimeUnit.SECONDS);
            }
            // Closing a session under a running call can crash the JVM: leave it to the GC then.
            if (model != null && idle) {
                model.close();
            }
        }
    }
}
