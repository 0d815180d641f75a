package dev.streamscore.operators.batching;

import dev.streamscore.models.ModelDescriptor;
import java.io.Serializable;
import org.apache.flink.metrics.MetricGroup;

/**
 * The domain side of a {@link BatchingOperator}, as an {@code AsyncFunction} is the domain side of
 * Flink's {@code AsyncWaitOperator}: what the model input row of an element is, and what an element
 * becomes once its row is scored or once the model has given up on it. The operator does the rest
 * (batching, the cache, coalescing, calls off the task thread, retries, ordering, checkpoints) and
 * knows nothing of the types.
 *
 * <p>Every method is called on the task thread. The function is serialized with the job graph;
 * {@link #open} is where it creates what it needs at run time.
 *
 * <pre>{@code
 * final class Doubling implements BatchFunction<Integer, String> {
 *     public float[] row(Integer element) {
 *         return new float[] {element};
 *     }
 *
 *     public String scored(Integer element, ModelDescriptor model, float score, boolean reused) {
 *         return element + " -> " + score;
 *     }
 *
 *     public Outcome<String> failed(
 *             Integer element, ModelDescriptor model, Throwable cause, boolean reused) {
 *         return Outcome.output(element + " failed: " + cause.getMessage());
 *     }
 *
 *     public Outcome<String> rejected(
 *             Integer element, ModelDescriptor model, IllegalArgumentException cause) {
 *         return Outcome.sideOutput(REJECTED, element + ": " + cause.getMessage());
 *     }
 * }
 * }</pre>
 *
 * @param <IN> the operator's input
 * @param <OUT> the operator's main output
 */
public interface BatchFunction<IN, OUT> extends Serializable {

    /** Called once, in the operator's {@code open}, before any other method. */
    default void open(Context context) throws Exception {}

    /**
     * Checks that {@code model} takes this function's rows, for every model before it scores (in
     * {@code open}, and in {@link BatchingOperator#replaceModel}).
     *
     * @throws IllegalArgumentException saying what was expected and what the model has
     */
    default void checkModel(ModelDescriptor model) {}

    /**
     * The model input of {@code element}: {@code model.featureCount()} floats, which the operator
     * keeps (and caches) and nobody may change afterwards; {@code null} when the element has none.
     * A row of another length, or none, is {@link #rejected}.
     */
    float[] row(IN element);

    /**
     * The output of {@code element} whose row scored {@code score}; never {@code null}.
     *
     * @param reused whether the score cost this element no model row: a cache hit, or the row of an
     *     equal element ahead of it that was pending at the same time
     */
    OUT scored(IN element, ModelDescriptor model, float score, boolean reused);

    /**
     * Whether a row that scored {@code score} needs its contributions (its reasons); only asked
     * when the model has an {@link BatchScorer#explainer()}. Called on the inference threads: it
     * must be thread-safe and depend on its arguments alone. None by default.
     */
    default boolean explains(ModelDescriptor model, float score) {
        return false;
    }

    /**
     * As {@link #scored(Object, ModelDescriptor, float, boolean)}, with the row's contributions
     * when {@link #explains} asked for them: one value per feature, in log-odds; {@code null} when
     * none were asked for or the explanation failed (counted in the operator's {@code
     * explanationFailures}). An element answered from the cache is never explained: an element
     * whose cached score needs an explanation is scored again.
     */
    default OUT scored(
            IN element, ModelDescriptor model, float score, boolean reused, float[] contributions) {
        return scored(element, model, score, reused);
    }

    /**
     * The record written beside {@code output} to the operator's log output when it has one (see
     * {@link BatchingOperator#withLogOutput}), or {@code null} for none; on the task thread. By
     * default none.
     *
     * @param row the row the model scored (or whose cached score it got)
     */
    default Object logged(IN element, ModelDescriptor model, float[] row, OUT output) {
        return null;
    }

    /**
     * What {@code element} becomes when the model failed on its row alone after every retry.
     *
     * @param reused whether the row was that of an equal element ahead of this one
     */
    Outcome<OUT> failed(IN element, ModelDescriptor model, Throwable cause, boolean reused);

    /**
     * What {@code element} becomes when it has no valid row ({@link #row} gave none, or one of
     * another length than the model takes): it never reaches the model.
     *
     * @param cause says what was expected and what was found
     */
    Outcome<OUT> rejected(IN element, ModelDescriptor model, IllegalArgumentException cause);

    /**
     * Whether a champion's and a challenger's scores of the same row lead to the same decision: the
     * agreement the challenger's metrics report. By default, whether both are on the same side of
     * 0.5.
     */
    default boolean sameDecision(
            ModelDescriptor champion,
            float championScore,
            ModelDescriptor challenger,
            float challengerScore) {
        return (championScore >= 0.5f) == (challengerScore >= 0.5f);
    }

    /** What the operator offers its function at run time. */
    interface Context {

        /** The operator's metric group, for the function's own metrics. */
        MetricGroup metricGroup();

        /** The task's processing time, in epoch milliseconds. */
        long currentProcessingTime();
    }
}
