package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchScorer;
import java.nio.FloatBuffer;

/**
 * A test scorer in front of a real one: every call goes to {@link #model}, which a subclass sets
 * (at construction, or when its factory opens it) and overrides what it scripts. It has no
 * explainer unless the subclass gives one.
 */
abstract class ForwardingScorer implements BatchScorer {

    protected BatchScorer model;

    ForwardingScorer(BatchScorer model) {
        this.model = model;
    }

    @Override
    public ModelDescriptor descriptor() {
        return model.descriptor();
    }

    @Override
    public String executionProvider() {
        return model.executionProvider();
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
