package dev.streamscore.operators.feedback;

import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.ModelRole;

/**
 * One model's score of an event whose label has arrived. A Flink POJO, kept in keyed state: its
 * field names stay as they are so that savepoints restore ({@code fraud}: the label is the positive
 * class).
 */
public class LabelledScore {

    public ModelRole role;
    public String modelName;
    public String modelVersion;
    public double score;
    public Decision decision;
    public boolean fraud;

    public LabelledScore() {}

    public LabelledScore(ScoreForLabel scored, boolean fraud) {
        this.role = scored.role;
        this.modelName = scored.modelName;
        this.modelVersion = scored.modelVersion;
        this.score = scored.score;
        this.decision = scored.decision;
        this.fraud = fraud;
    }

    /** What quality is kept per: the role, the model's name and its version. */
    public String qualityKey() {
        return role + "|" + modelName + "|" + modelVersion;
    }
}
