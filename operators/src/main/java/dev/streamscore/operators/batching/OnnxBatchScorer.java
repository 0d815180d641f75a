package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.models.explain.Explainer;
import dev.streamscore.models.explain.Explainers;
import java.nio.FloatBuffer;

/** The {@link BatchScorer} of a model in ONNX Runtime: one shared {@link OnnxModel} session. */
public final class OnnxBatchScorer implements BatchScorer {

    private final OnnxModel model;
    private final Explainer explainer;

    private OnnxBatchScorer(ModelArtifact artifact, OnnxModel model) {
        this.model = model;
        this.explainer = Explainers.of(artifact, model);
    }

    /**
     * Opens (or shares) the ONNX Runtime session of the model at {@code location}.
     *
     * @param location {@code bundled:<id>} or a folder with {@code descriptor.json} and the model
     *     (see {@link dev.streamscore.models.ModelArtifact})
     */
    public static BatchScorer open(String location, OnnxOptions options) throws Exception {
        return open(ModelArtifact.load(location), options);
    }

    /** Opens (or shares) the session of a model already loaded and verified. */
    public static BatchScorer open(ModelArtifact artifact, OnnxOptions options) throws Exception {
        OnnxModel model = OnnxModel.open(artifact, options);
        try {
            return new OnnxBatchScorer(artifact, model);
        } catch (RuntimeException | Error e) {
            model.close();
            throw e;
        }
    }

    /** What an operator opens its scorer with, in {@code open}, on the TaskManager. */
    public static BatchScorer.Factory factory(String location, OnnxOptions options) {
        return () -> open(location, options);
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

    /** TreeSHAP, occlusion, or none: see {@link Explainers#of}. */
    @Override
    public Explainer explainer() {
        return explainer;
    }

    @Override
    public void close() throws Exception {
        model.close();
    }
}
