package dev.streamscore.operators.inference;

import java.util.Arrays;
import java.util.Objects;

/**
 * A model's verdict on one event of a pipeline, as a Flink POJO: what the output record is filled
 * with ({@code dev.streamscore.pipeline.OutputFields}), the event's id, key and time, and its body
 * to copy input fields from.
 */
public class Score {

    public String id;
    public String key;
    public long eventTime;

    /** The event in the reader schema's Avro binary encoding, for the output's copied fields. */
    public byte[] body;

    public double score;

    /** APPROVE, REVIEW or DECLINE, by the model's thresholds. */
    public String decision;

    public String modelName;
    public String modelVersion;
    public String modelSha256;
    public boolean cacheHit;
    public boolean fallback;
    public long scoredAt;

    /** The reasons' features, values and contributions, largest contribution first. */
    public String[] reasonFeatures = new String[0];

    public double[] reasonValues = new double[0];
    public double[] reasonContributions = new double[0];

    public Score() {}

    public String getId() {
        return id;
    }

    public String getKey() {
        return key;
    }

    public double getScore() {
        return score;
    }

    public String getDecision() {
        return decision;
    }

    public String getModelName() {
        return modelName;
    }

    public String getModelVersion() {
        return modelVersion;
    }

    public boolean getCacheHit() {
        return cacheHit;
    }

    public boolean getFallback() {
        return fallback;
    }

    public long getEventTime() {
        return eventTime;
    }

    public long getScoredAt() {
        return scoredAt;
    }

    /** How many reasons the score carries. */
    public int reasonCount() {
        return reasonFeatures.length;
    }

    /** One feature's push towards a flagged decision. */
    public record Reason(String feature, double value, double contribution) {
        public String getFeature() {
            return feature;
        }

        public double getValue() {
            return value;
        }

        public double getContribution() {
            return contribution;
        }
    }

    /** The reasons, largest contribution first. */
    public java.util.List<Reason> getReasons() {
        Reason[] reasons = new Reason[reasonFeatures.length];
        for (int i = 0; i < reasons.length; i++) {
            reasons[i] = new Reason(reasonFeatures[i], reasonValues[i], reasonContributions[i]);
        }
        return java.util.List.of(reasons);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Score)) {
            return false;
        }
        Score s = (Score) o;
        return eventTime == s.eventTime
                && Double.compare(score, s.score) == 0
                && cacheHit == s.cacheHit
                && fallback == s.fallback
                && scoredAt == s.scoredAt
                && Objects.equals(id, s.id)
                && Objects.equals(key, s.key)
                && Arrays.equals(body, s.body)
                && Objects.equals(decision, s.decision)
                && Objects.equals(modelName, s.modelName)
                && Objects.equals(modelVersion, s.modelVersion)
                && Objects.equals(modelSha256, s.modelSha256)
                && Arrays.equals(reasonFeatures, s.reasonFeatures)
                && Arrays.equals(reasonValues, s.reasonValues)
                && Arrays.equals(reasonContributions, s.reasonContributions);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, key, eventTime, score, decision, modelName, modelVersion, scoredAt);
    }

    @Override
    public String toString() {
        return "Score{"
                + id
                + " key="
                + key
                + " "
                + score
                + " "
                + decision
                + " by "
                + modelName
                + ":"
                + modelVersion
                + (cacheHit ? " cached" : "")
                + (fallback ? " fallback" : "")
                + (reasonFeatures.length == 0 ? "" : " because " + Arrays.toString(reasonFeatures))
                + "}";
    }
}
