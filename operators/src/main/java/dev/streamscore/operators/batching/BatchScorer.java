package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.explain.Explainer;
import java.io.Serializable;
import java.nio.FloatBuffer;

/**
 * What {@link BatchingOperator} scores with: a model that turns rows of floats into one float per
 * row, one call per batch. The operator takes the scorer a batch is scored with from its {@link
 * ModelHolder} when the batch opens and keeps it for every call of that batch (retries and halves
 * included), so a scorer can be replaced between two batches without a batch ever mixing two
 * models.
 *
 * <p>{@link #score} is called from the operator's inference threads, possibly for several batches
 * at once; every other method from the task thread.
 *
 * <pre>{@code
 * BatchScorer.Factory onnx = OnnxBatchScorer.factory("bundled:gbdt", OnnxOptions.DEFAULT);
 * try (BatchScorer scorer = onnx.open()) {
 *     FloatBuffer rows = scorer.newInputBuffer(256);
 *     // ... put n rows of scorer.descriptor().featureCount() floats ...
 *     float[] scores = new float[256];
 *     scorer.score(rows, n, scores);
 * }
 * }</pre>
 */
public interface BatchScorer extends AutoCloseable {

    /** The model's identity (cache entries and coalescing are per identity) and its inputs. */
    ModelDescriptor descriptor();

    /** The execution provider running the model, as reported in the operator's metrics. */
    String executionProvider();

    /** A buffer for {@code rows} input rows in the form {@link #score} reads without a copy. */
    FloatBuffer newInputBuffer(int rows);

    /**
     * Scores {@code n} rows held row-major from position 0 of {@code rows} and writes one value per
     * row into {@code out[0..n)}. Thread-safe. May block; the operator times it out.
     */
    void score(FloatBuffer rows, int n, float[] out) throws Exception;

    /**
     * What explains this model's scores (the reasons of the rows the operator's function asks for),
     * called right after {@link #score} on the same inference thread; {@code null} when it has
     * none.
     */
    default Explainer explainer() {
        return null;
    }

    /** Releases the model; called once, after the last {@link #score} call has returned. */
    @Override
    void close() throws Exception;

    /** Opens the scorer an operator uses; part of the job graph, so serializable. */
    @FunctionalInterface
    interface Factory extends Serializable {
        BatchScorer open() throws Exception;
    }
}
