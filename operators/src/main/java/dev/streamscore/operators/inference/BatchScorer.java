package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import java.io.Serializable;
import java.nio.FloatBuffer;

/**
 * What {@link BatchingInferenceOperator} scores with: a model that turns rows of features into
 * fraud probabilities, one call per batch. The operator reads its scorer once per batch, on the
 * task thread, and keeps that reference for every call of the batch (retries and halves included),
 * so a scorer can later be replaced between two batches without a batch ever mixing two models.
 *
 * <p>{@link #score} is called from the operator's inference threads, possibly for several batches
 * at once; every other method from the task thread.
 *
 * <pre>{@code
 * BatchScorer.Factory onnx = settings -> ...; // the operator opens ONNX Runtime by default
 * try (BatchScorer scorer = onnx.open(settings)) {
 *     FloatBuffer rows = scorer.newInputBuffer(256);
 *     // ... put n rows of scorer.descriptor().featureCount() floats ...
 *     float[] scores = new float[256];
 *     scorer.score(rows, n, scores);
 * }
 * }</pre>
 */
public interface BatchScorer extends AutoCloseable {

    /** The model's identity, feature list and decision thresholds. */
    ModelDescriptor descriptor();

    /** The execution provider running the model, as reported in the operator's metrics. */
    String executionProvider();

    /** A buffer for {@code rows} input rows in the form {@link #score} reads without a copy. */
    FloatBuffer newInputBuffer(int rows);

    /**
     * Scores {@code n} rows held row-major from position 0 of {@code rows} and writes their fraud
     * probabilities into {@code out[0..n)}. Thread-safe. May block; the operator times it out.
     */
    void score(FloatBuffer rows, int n, float[] out) throws Exception;

    /** Releases the model; called once, after the last {@link #score} call has returned. */
    @Override
    void close() throws Exception;

    /** Opens the scorer an operator uses; part of the job graph, so serializable. */
    @FunctionalInterface
    interface Factory extends Serializable {
        BatchScorer open(InferenceSettings settings) throws Exception;
    }
}
