package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.serde.PipelineEvent;
import java.util.List;

/**
 * The one way a model's score of an event becomes a {@link Score}: the decision from the model's
 * thresholds, its name, version and SHA-256, the reasons. Shared by {@link
 * BatchingInferenceOperator} and the benchmark's per-record baselines, so that every path writes
 * the same record.
 */
public final class Scores {

    public static final String APPROVE = "APPROVE";
    public static final String REVIEW = "REVIEW";
    public static final String DECLINE = "DECLINE";

    private Scores() {}

    public static Score of(
            PipelineEvent event,
            ModelDescriptor descriptor,
            double score,
            boolean cacheHit,
            boolean fallback,
            long scoredAtMillis) {
        return of(event, descriptor, score, cacheHit, fallback, scoredAtMillis, null, null, 0);
    }

    /**
     * As {@link #of(PipelineEvent, ModelDescriptor, double, boolean, boolean, long)}, with the
     * reasons of {@code row}'s {@code contributions} (at most {@code maxReasons}; none when {@code
     * contributions} is null).
     */
    public static Score of(
            PipelineEvent event,
            ModelDescriptor descriptor,
            double score,
            boolean cacheHit,
            boolean fallback,
            long scoredAtMillis,
            float[] row,
            float[] contributions,
            int maxReasons) {
        Score s = new Score();
        s.id = event.id;
        s.key = event.key;
        s.eventTime = event.time;
        s.body = event.body;
        s.score = score;
        s.decision = decide(descriptor, score);
        s.modelName = descriptor.name();
        s.modelVersion = descriptor.version();
        s.modelSha256 = descriptor.sha256();
        s.cacheHit = cacheHit;
        s.fallback = fallback;
        s.scoredAt = scoredAtMillis;
        if (contributions != null && maxReasons > 0) {
            reasons(s, descriptor.features(), row, contributions, maxReasons);
        }
        return s;
    }

    /**
     * The reasons of a row: the features with the largest positive contributions, largest first, at
     * most {@code max} of them; ties keep feature order. Features with no contribution or a
     * negative one are never reasons.
     */
    static void reasons(Score s, List<String> names, float[] row, float[] contributions, int max) {
        int n = Math.min(contributions.length, Math.min(row.length, names.size()));
        int[] top = new int[max];
        int count = 0;
        for (int f = 0; f < n; f++) {
            float c = contributions[f];
            if (!(c > 0f)) {
                continue; // NaN included
            }
            int at = count;
            while (at > 0 && contributions[top[at - 1]] < c) {
                at--;
            }
            if (at >= max) {
                continue;
            }
            int last = Math.min(count, max - 1);
            System.arraycopy(top, at, top, at + 1, last - at);
            top[at] = f;
            count = Math.min(count + 1, max);
        }
        s.reasonFeatures = new String[count];
        s.reasonValues = new double[count];
        s.reasonContributions = new double[count];
        for (int k = 0; k < count; k++) {
            int f = top[k];
            s.reasonFeatures[k] = names.get(f);
            s.reasonValues[k] = row[f];
            s.reasonContributions[k] = contributions[f];
        }
    }

    /** DECLINE at or above the decline threshold, REVIEW at or above review, else APPROVE. */
    public static String decide(ModelDescriptor descriptor, double score) {
        ModelDescriptor.Thresholds thresholds = descriptor.thresholds();
        if (score >= thresholds.decline()) {
            return DECLINE;
        }
        return score >= thresholds.review() ? REVIEW : APPROVE;
    }
}
