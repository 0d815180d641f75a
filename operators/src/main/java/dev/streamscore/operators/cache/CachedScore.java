package dev.streamscore.operators.cache;

import java.util.Arrays;

/**
 * One entry of the {@link ScoreCache}: the score a model version gave one exact feature vector.
 *
 * <p>The entry keeps the whole vector, not only its hash, so that two vectors whose 64-bit hashes
 * collide can never be served each other's score. A Flink POJO, so it is stored without Kryo.
 */
public class CachedScore {

    /** {@link dev.streamscore.models.ModelDescriptor#id()} of the model that produced the score. */
    public String modelId;

    /** The model's score, as it returned it. */
    public float score;

    /** The exact model input that was scored. */
    public float[] features;

    public CachedScore() {}

    public CachedScore(String modelId, float score, float[] features) {
        this.modelId = modelId;
        this.score = score;
        this.features = features;
    }

    /**
     * Whether this entry is the score of exactly {@code features} under model {@code modelId}.
     * Vectors compare bit for bit, like {@link dev.streamscore.operators.batching.RowHash} hashes
     * them.
     */
    public boolean matches(String modelId, float[] features) {
        return this.modelId != null
                && this.modelId.equals(modelId)
                && Arrays.equals(this.features, features);
    }

    @Override
    public String toString() {
        return "CachedScore{"
                + modelId
                + " score="
                + score
                + " features="
                + Arrays.toString(features)
                + "}";
    }
}
