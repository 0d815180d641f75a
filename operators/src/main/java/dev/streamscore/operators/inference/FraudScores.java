package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Reason;
import dev.streamscore.schemas.Transaction;
import java.time.Instant;
import java.util.List;

/**
 * The one way a model's probability becomes a {@link FraudScore}: the decision from the model's
 * thresholds, its name and version. Shared by {@link BatchingInferenceOperator} and the benchmark's
 * per-record baselines, so that every path writes the same record.
 */
public final class FraudScores {

    private FraudScores() {}

    public static FraudScore of(
            Transaction txn,
            ModelDescriptor descriptor,
            double score,
            boolean cacheHit,
            boolean fallback,
            long scoredAtMillis) {
        return of(txn, descriptor, score, cacheHit, fallback, scoredAtMillis, List.of());
    }

    /**
     * As {@link #of(Transaction, ModelDescriptor, double, boolean, boolean, long)}, with reasons.
     */
    public static FraudScore of(
            Transaction txn,
            ModelDescriptor descriptor,
            double score,
            boolean cacheHit,
            boolean fallback,
            long scoredAtMillis,
            List<Reason> reasons) {
        return FraudScore.newBuilder()
                .setTransactionId(txn.getTransactionId())
                .setCardId(txn.getCardId())
                .setScore(score)
                .setDecision(decide(descriptor, score))
                .setModelName(descriptor.name())
                .setModelVersion(descriptor.version())
                .setCacheHit(cacheHit)
                .setEventTime(txn.getEventTime())
                .setScoredAt(Instant.ofEpochMilli(scoredAtMillis))
                .setFallback(fallback)
                .setReasons(reasons)
                .build();
    }

    /**
     * The reasons of a row: the features with the largest positive contributions, largest first, at
     * most {@code max} of them; ties keep feature order. Features with no contribution or a
     * negative one are never reasons.
     */
    public static List<Reason> reasons(
            ModelDescriptor descriptor, float[] row, float[] contributions, int max) {
        if (contributions == null || max == 0) {
            return List.of();
        }
        List<String> names = descriptor.features();
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
        Reason[] reasons = new Reason[count];
        for (int k = 0; k < count; k++) {
            int f = top[k];
            reasons[k] = new Reason(names.get(f), (double) row[f], (double) contributions[f]);
        }
        return List.of(reasons);
    }

    /** DECLINE at or above the decline threshold, REVIEW at or above review, else APPROVE. */
    public static Decision decide(ModelDescriptor descriptor, double score) {
        ModelDescriptor.Thresholds thresholds = descriptor.thresholds();
        if (score >= thresholds.decline()) {
            return Decision.DECLINE;
        }
        return score >= thresholds.review() ? Decision.REVIEW : Decision.APPROVE;
    }
}
