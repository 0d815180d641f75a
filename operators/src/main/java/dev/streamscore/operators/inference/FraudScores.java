package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import java.time.Instant;

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
                .build();
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
