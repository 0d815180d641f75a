package dev.streamscore.operators.feedback;

import dev.streamscore.operators.inference.Score;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.ModelRole;

/**
 * What the label join keeps of one model's score of an event until its label arrives. A Flink POJO,
 * kept in keyed state: its field names stay as they are so that savepoints restore ({@code
 * transactionId}: the event's id).
 */
public class ScoreForLabel {

    public String transactionId;
    public ModelRole role;
    public String modelName;
    public String modelVersion;
    public double score;
    public Decision decision;

    public ScoreForLabel() {}

    public ScoreForLabel(
            String transactionId,
            ModelRole role,
            String modelName,
            String modelVersion,
            double score,
            Decision decision) {
        this.transactionId = transactionId;
        this.role = role;
        this.modelName = modelName;
        this.modelVersion = modelVersion;
        this.score = score;
        this.decision = decision;
    }

    /**
     * A champion's or challenger's score; null for a fallback score (not the model's) and for a
     * score that is not a probability (NaN), which no quality measure can rank.
     */
    public static ScoreForLabel of(Score score, ModelRole role) {
        if (score.fallback || !(score.score >= 0 && score.score <= 1)) {
            return null;
        }
        return new ScoreForLabel(
                score.id,
                role,
                score.modelName,
                score.modelVersion,
                score.score,
                Decision.valueOf(score.decision));
    }
}
