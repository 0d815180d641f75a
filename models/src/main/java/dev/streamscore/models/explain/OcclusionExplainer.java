package dev.streamscore.models.explain;

import dev.streamscore.models.OnnxModel;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Occlusion against the model's baseline row (its descriptor's {@code baseline}, the mean training
 * row): a feature's contribution is how much the row's log-odds fall when that feature alone takes
 * its baseline value. For {@code F} features it costs {@code F} extra model rows per explained row,
 * all in one call. Unlike SHAP values the contributions need not sum to anything; they are
 * comparable to each other, which is what a reason code needs.
 */
final class OcclusionExplainer implements Explainer {

    private final OnnxModel model;
    private final float[] baseline;

    /** Input buffers and score arrays not in use, kept so that calls do not allocate them. */
    private final ConcurrentLinkedQueue<Buffers> idle = new ConcurrentLinkedQueue<>();

    private record Buffers(FloatBuffer rows, float[] scores, int capacity) {}

    OcclusionExplainer(OnnxModel model, List<Double> baseline) {
        this.model = model;
        this.baseline = new float[baseline.size()];
        for (int i = 0; i < this.baseline.length; i++) {
            this.baseline[i] = baseline.get(i).floatValue();
        }
    }

    @Override
    public String method() {
        return "occlusion";
    }

    @Override
    public void explain(FloatBuffer rows, int[] which, int count, float[] scores, float[][] out)
            throws Exception {
        int columns = baseline.length;
        int n = count * columns;
        Buffers buffers = idle.poll();
        if (buffers == null || buffers.capacity() < n) {
            // Room for a few more rows than asked, so that the next calls fit.
            int capacity = Math.max(n, buffers == null ? 4 * columns : 2 * buffers.capacity());
            buffers = new Buffers(model.newInputBuffer(capacity), new float[capacity], capacity);
        }
        try {
            explain(rows, which, count, scores, out, buffers);
        } finally {
            idle.offer(buffers);
        }
    }

    private void explain(
            FloatBuffer rows,
            int[] which,
            int count,
            float[] scores,
            float[][] out,
            Buffers buffers)
            throws Exception {
        int columns = baseline.length;
        int n = count * columns;
        FloatBuffer occluded = buffers.rows();
        float[] row = new float[columns];
        for (int k = 0; k < count; k++) {
            rows.get(which[k] * columns, row);
            for (int f = 0; f < columns; f++) {
                int at = (k * columns + f) * columns;
                occluded.put(at, row);
                occluded.put(at + f, baseline[f]);
            }
        }
        float[] occludedScores = buffers.scores();
        model.score(occluded, n, occludedScores);
        for (int k = 0; k < count; k++) {
            double logOdds = Explainer.logit(scores[which[k]]);
            for (int f = 0; f < columns; f++) {
                out[k][f] = (float) (logOdds - Explainer.logit(occludedScores[k * columns + f]));
            }
        }
    }
}
