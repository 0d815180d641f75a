package dev.streamscore.models.explain;

import java.nio.FloatBuffer;

/**
 * What makes a model's reason codes: each feature's contribution to the log-odds of fraud of a
 * scored row. Thread-safe: the operator's inference threads explain the flagged rows of their
 * batches right after scoring them.
 *
 * <pre>{@code
 * Explainer explainer = Explainers.of(artifact, model); // null when the model has no method
 * float[][] contributions = new float[count][featureCount];
 * explainer.explain(rows, which, count, scores, contributions);
 * }</pre>
 */
public interface Explainer {

    /** {@code tree-shap} or {@code occlusion}: what the contributions mean (see the README). */
    String method();

    /**
     * Writes into {@code out[k]} (one value per feature) the contributions of row {@code which[k]},
     * for {@code k < count}: rows are held row-major from index 0 of {@code rows}, and {@code
     * scores[which[k]]} is the probability the model gave the row. The buffer's position and limit
     * are ignored and left as they are.
     */
    void explain(FloatBuffer rows, int[] which, int count, float[] scores, float[][] out)
            throws Exception;

    /** The log-odds of a probability, clamped away from 0 and 1 so that it stays finite. */
    static double logit(double p) {
        double q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
        return Math.log(q / (1 - q));
    }
}
