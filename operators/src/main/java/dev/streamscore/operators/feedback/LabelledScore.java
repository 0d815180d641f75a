package dev.streamscore.operators.feedback;

import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.ModelRole;

/** One model's score of a transaction whose label has arrived. A Flink POJO. */
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
