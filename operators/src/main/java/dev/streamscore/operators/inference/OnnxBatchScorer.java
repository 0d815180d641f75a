package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import java.nio.FloatBuffer;

/** The {@link BatchScorer} of a model in ONNX Runtime: one shared {@link OnnxModel} session. */
final class OnnxBatchScorer implements BatchScorer {

    private final OnnxModel model;

    private OnnxBatchScorer(OnnxModel model) {
        this.model = model;
    }

    /** Opens (or shares) the ONNX Runtime session of {@code settings.modelLocation()}. */
    static BatchScorer open(InferenceSettings settings) throws Exception {
        return new OnnxBatchScorer(OnnxModel.open(settings.modelLocation(), settings.onnx()));
    }

    @Override
    public ModelDescriptor descriptor() {
        return model.descriptor();
    }

    /** The provider the session actually runs on (never {@code auto}). */
    @Override
    public String executionProvider() {
        return model.executionProvider().id();
    }

    @Override
    public FloatBuffer newInputBuffer(int rows) {
        return model.newInputBuffer(rows);
    }

    @Override
    public void score(FloatBuffer rows, int n, float[] out) throws Exception {
        model.score(rows, n, out);
    }

    @Override
    public void close() throws Exception {
        model.close();
    }
}
