package dev.streamscore.models.explain;

import dev.streamscore.models.onnx.TreeShap;
import java.nio.FloatBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Exact path-dependent TreeSHAP of a tree ensemble's margin ({@link TreeShap}), in plain Java: no
 * model call. The contributions of a row sum to its log-odds minus the training rows' mean
 * log-odds.
 */
final class TreeShapExplainer implements Explainer {

    private final TreeShap prototype;
    private final int columns;

    /** TreeShap instances not in use; each explaining thread takes one (they reuse buffers). */
    private final ConcurrentLinkedQueue<TreeShap> idle = new ConcurrentLinkedQueue<>();

    TreeShapExplainer(TreeShap shap, int columns) {
        this.prototype = shap;
        this.columns = columns;
    }

    @Override
    public String method() {
        return "tree-shap";
    }

    @Override
    public void explain(FloatBuffer rows, int[] which, int count, float[] scores, float[][] out) {
        TreeShap shap = idle.poll();
        if (shap == null) {
            shap = prototype.copy();
        }
        try {
            float[] row = new float[columns];
            double[] phi = new double[Math.max(columns, shap.featureCount())];
            for (int k = 0; k < count; k++) {
                rows.get(which[k] * columns, row);
                shap.explain(row, phi);
                for (int f = 0; f < columns; f++) {
                    out[k][f] = (float) phi[f];
                }
            }
        } finally {
            idle.offer(shap);
        }
    }
}
