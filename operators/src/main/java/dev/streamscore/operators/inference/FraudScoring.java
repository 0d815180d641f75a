package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchFunction;
import dev.streamscore.operators.batching.Outcome;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.features.CardFeatures;
import dev.streamscore.operators.features.EnrichedTransaction;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FeatureLogEntry;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.metrics.Counter;

/**
 * The fraud side of {@link BatchingInferenceOperator}: a transaction's row is its card features; a
 * score becomes a {@link FraudScore} with the model's decision; a transaction the model cannot
 * score gets the configured fallback score or goes to the dead letters with stage {@code
 * INFERENCE}; one without a valid feature row always goes to the dead letters. A model must take
 * exactly {@link CardFeatures#NAMES}, in that order.
 */
final class FraudScoring implements BatchFunction<EnrichedTransaction, FraudScore> {

    private static final long serialVersionUID = 1L;

    /** Transactions sent to the dead-letter output with stage INFERENCE. */
    static final String DEAD_LETTERS = "deadLetters";

    /** Transactions given the configured fallback score because the model failed on them. */
    static final String FALLBACKS = "fallbacks";

    private static final SingleObjectCodec<Transaction> TRANSACTIONS =
            SingleObjectCodec.of(Transaction.class);

    private final Double fallbackScore;
    private final int reasons;

    private transient Context context;
    transient Counter deadLetters;
    transient Counter fallbacks;

    FraudScoring(InferenceSettings settings) {
        this.fallbackScore = settings.fallbackScore();
        this.reasons = settings.reasons();
    }

    @Override
    public void open(Context context) {
        this.context = context;
        deadLetters = context.metricGroup().counter(DEAD_LETTERS);
        fallbacks = context.metricGroup().counter(FALLBACKS);
    }

    @Override
    public void checkModel(ModelDescriptor d) {
        if (d.features().equals(CardFeatures.NAMES)) {
            return;
        }
        int i = 0;
        while (i < Math.min(d.features().size(), CardFeatures.COUNT)
                && d.features().get(i).equals(CardFeatures.NAMES.get(i))) {
            i++;
        }
        throw new IllegalArgumentException(
                "model "
                        + d.id()
                        + " must take the features this job computes, in order: expected "
                        + CardFeatures.NAMES
                        + ", found "
                        + d.features()
                        + " (first difference at index "
                        + i
                        + ": expected "
                        + (i < CardFeatures.COUNT
                                ? "'" + CardFeatures.NAMES.get(i) + "'"
                                : "no more")
                        + ", found "
                        + (i < d.features().size() ? "'" + d.features().get(i) + "'" : "no more")
                        + ")");
    }

    /** The same decision: APPROVE, REVIEW or DECLINE, each by its own model's thresholds. */
    @Override
    public boolean sameDecision(
            ModelDescriptor champion,
            float championScore,
            ModelDescriptor challenger,
            float challengerScore) {
        return FraudScores.decide(champion, championScore)
                == FraudScores.decide(challenger, challengerScore);
    }

    @Override
    public float[] row(EnrichedTransaction element) {
        return element.features;
    }

    /** REVIEW and DECLINE scores, unless reasons are off. Thread-safe: it reads no state. */
    @Override
    public boolean explains(ModelDescriptor model, float score) {
        return reasons > 0 && FraudScores.decide(model, score) != Decision.APPROVE;
    }

    @Override
    public FraudScore scored(
            EnrichedTransaction element, ModelDescriptor model, float score, boolean reused) {
        return scored(element, model, score, reused, null);
    }

    @Override
    public FraudScore scored(
            EnrichedTransaction element,
            ModelDescriptor model,
            float score,
            boolean reused,
            float[] contributions) {
        return FraudScores.of(
                element.transaction,
                model,
                score,
                reused,
                false,
                context.currentProcessingTime(),
                FraudScores.reasons(model, element.features, contributions, reasons));
    }

    /** The feature log's entry of a score: the row the model saw, its score and decision. */
    @Override
    public Object logged(
            EnrichedTransaction element, ModelDescriptor model, float[] row, FraudScore score) {
        if (score.getFallback()) {
            return null; // not what a model made of the row
        }
        List<Float> features = new ArrayList<>(row.length);
        for (float v : row) {
            features.add(v);
        }
        return FeatureLogEntry.newBuilder()
                .setTransactionId(score.getTransactionId())
                .setCardId(score.getCardId())
                .setEventTime(score.getEventTime())
                .setScoredAt(score.getScoredAt())
                .setModelName(score.getModelName())
                .setModelVersion(score.getModelVersion())
                .setModelSha256(model.sha256())
                .setFeatures(features)
                .setScore(score.getScore())
                .setDecision(score.getDecision())
                .setCacheHit(score.getCacheHit())
                .build();
    }

    @Override
    public Outcome<FraudScore> failed(
            EnrichedTransaction element, ModelDescriptor model, Throwable cause, boolean reused) {
        if (fallbackScore != null) {
            fallbacks.inc();
            return Outcome.output(
                    FraudScores.of(
                            element.transaction,
                            model,
                            fallbackScore,
                            reused,
                            true,
                            context.currentProcessingTime()));
        }
        deadLetters.inc();
        return Outcome.sideOutput(DeadLetters.TAG, deadLetterOf(element, cause));
    }

    /** A transaction without a valid feature row is always a dead letter, fallback or not. */
    @Override
    public Outcome<FraudScore> rejected(
            EnrichedTransaction element, ModelDescriptor model, IllegalArgumentException cause) {
        deadLetters.inc();
        return Outcome.sideOutput(DeadLetters.TAG, deadLetterOf(element, cause));
    }

    private static DeadLetter deadLetterOf(EnrichedTransaction element, Throwable cause) {
        Transaction txn = element.transaction;
        return DeadLetters.of(
                TRANSACTIONS.encode(txn),
                element.sourceTopic,
                element.sourcePartition,
                element.sourceOffset,
                Stage.INFERENCE,
                cause.getClass().getName(),
                String.valueOf(cause.getMessage()),
                txn.getTransactionId());
    }
}
