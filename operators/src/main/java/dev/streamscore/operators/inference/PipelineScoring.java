package dev.streamscore.operators.inference;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchFunction;
import dev.streamscore.operators.batching.Outcome;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FeatureLogEntry;
import dev.streamscore.schemas.Stage;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.metrics.Counter;

/**
 * The pipeline side of {@link BatchingInferenceOperator}: an event's row is its feature row; a
 * score becomes a {@link Score} with the model's decision; an event the model cannot score gets the
 * configured fallback score or goes to the dead letters with stage {@code INFERENCE}; one without a
 * valid feature row always goes to the dead letters. A model must take exactly the pipeline's
 * features, in order.
 */
final class PipelineScoring implements BatchFunction<PipelineEvent, Score> {

    private static final long serialVersionUID = 2L;

    /** Events sent to the dead-letter output with stage INFERENCE. */
    static final String DEAD_LETTERS = "deadLetters";

    /** Events given the configured fallback score because the model failed on them. */
    static final String FALLBACKS = "fallbacks";

    private List<String> features;
    private final Double fallbackScore;
    private final int reasons;

    private transient Context context;
    transient Counter deadLetters;
    transient Counter fallbacks;

    PipelineScoring(InferenceSettings settings) {
        this.fallbackScore = settings.fallbackScore();
        this.reasons = settings.reasons();
    }

    /** The features a model must take, in order; {@code null}: any. */
    void features(List<String> features) {
        this.features = features == null ? null : List.copyOf(features);
    }

    @Override
    public void open(Context context) {
        this.context = context;
        deadLetters = context.metricGroup().counter(DEAD_LETTERS);
        fallbacks = context.metricGroup().counter(FALLBACKS);
    }

    @Override
    public void checkModel(ModelDescriptor d) {
        if (features == null || d.features().equals(features)) {
            return;
        }
        int i = 0;
        while (i < Math.min(d.features().size(), features.size())
                && d.features().get(i).equals(features.get(i))) {
            i++;
        }
        throw new IllegalArgumentException(
                "model "
                        + d.id()
                        + " must take the features the pipeline computes, in order: expected "
                        + features
                        + ", found "
                        + d.features()
                        + " (first difference at index "
                        + i
                        + ": expected "
                        + (i < features.size() ? "'" + features.get(i) + "'" : "no more")
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
        return Scores.decide(champion, championScore)
                .equals(Scores.decide(challenger, challengerScore));
    }

    @Override
    public float[] row(PipelineEvent element) {
        return element.features;
    }

    /** REVIEW and DECLINE scores, unless reasons are off. Thread-safe: it reads no state. */
    @Override
    public boolean explains(ModelDescriptor model, float score) {
        return reasons > 0 && !Scores.decide(model, score).equals(Scores.APPROVE);
    }

    @Override
    public Score scored(PipelineEvent element, ModelDescriptor model, float score, boolean reused) {
        return scored(element, model, score, reused, null);
    }

    @Override
    public Score scored(
            PipelineEvent element,
            ModelDescriptor model,
            float score,
            boolean reused,
            float[] contributions) {
        return Scores.of(
                element,
                model,
                score,
                reused,
                false,
                context.currentProcessingTime(),
                element.features,
                contributions,
                reasons);
    }

    /** The feature log's entry of a score: the row the model saw, its score and decision. */
    @Override
    public Object logged(PipelineEvent element, ModelDescriptor model, float[] row, Score score) {
        if (score.fallback) {
            return null; // not what a model made of the row
        }
        List<Float> values = new ArrayList<>(row.length);
        for (float v : row) {
            values.add(v);
        }
        return FeatureLogEntry.newBuilder()
                .setTransactionId(score.id)
                .setCardId(score.key)
                .setEventTime(Instant.ofEpochMilli(score.eventTime))
                .setScoredAt(Instant.ofEpochMilli(score.scoredAt))
                .setModelName(score.modelName)
                .setModelVersion(score.modelVersion)
                .setModelSha256(model.sha256())
                .setFeatures(values)
                .setScore(score.score)
                .setDecision(dev.streamscore.schemas.Decision.valueOf(score.decision))
                .setCacheHit(score.cacheHit)
                .build();
    }

    @Override
    public Outcome<Score> failed(
            PipelineEvent element, ModelDescriptor model, Throwable cause, boolean reused) {
        if (fallbackScore != null) {
            fallbacks.inc();
            return Outcome.output(
                    Scores.of(
                            element,
                            model,
                            fallbackScore,
                            reused,
                            true,
                            context.currentProcessingTime()));
        }
        deadLetters.inc();
        return Outcome.sideOutput(DeadLetters.TAG, deadLetterOf(element, cause));
    }

    /** An event without a valid feature row is always a dead letter, fallback or not. */
    @Override
    public Outcome<Score> rejected(
            PipelineEvent element, ModelDescriptor model, IllegalArgumentException cause) {
        deadLetters.inc();
        return Outcome.sideOutput(DeadLetters.TAG, deadLetterOf(element, cause));
    }

    private static DeadLetter deadLetterOf(PipelineEvent element, Throwable cause) {
        return DeadLetters.of(
                element.raw == null ? new byte[0] : element.raw,
                element.sourceTopic,
                element.sourcePartition,
                element.sourceOffset,
                Stage.INFERENCE,
                cause.getClass().getName(),
                String.valueOf(cause.getMessage()),
                element.id);
    }
}
