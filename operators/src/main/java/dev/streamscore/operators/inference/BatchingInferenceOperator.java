package dev.streamscore.operators.inference;

import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.operators.batching.BatchingOperator;
import dev.streamscore.operators.batching.OnnxBatchScorer;
import dev.streamscore.operators.batching.Ticker;
import dev.streamscore.operators.features.EnrichedTransaction;
import dev.streamscore.schemas.FraudScore;
import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Preconditions;

/**
 * Scores card transactions with a fraud model: the generic {@link BatchingOperator} (micro-batches
 * off the task thread, a per-card score cache in keyed state, coalescing, retries and bisection,
 * ordered or unordered output, checkpointed pending elements) with {@link FraudScoring} as its
 * function. A transaction's row is its card features; its output a {@link FraudScore} with the
 * model's decision ({@code cache_hit = true} when the score cost it no model row); a transaction
 * the model cannot score gets {@link InferenceSettings#fallbackScore()} or a dead letter on {@link
 * dev.streamscore.operators.deadletter.DeadLetters#TAG} with stage {@code INFERENCE}. The model's
 * descriptor must list exactly {@link dev.streamscore.operators.features.CardFeatures#NAMES}, or
 * {@code open} fails.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<FraudScore> scores =
 *         DataStreamUtils.reinterpretAsKeyedStream(enriched, e -> e.transaction.getCardId())
 *                 .transform(
 *                         "score: batched ONNX inference",
 *                         TypeInformation.of(FraudScore.class),
 *                         new BatchingInferenceOperator(InferenceSettings.defaults("bundled:gbdt")))
 *                 .uid("batching-inference");
 * DataStream<DeadLetter> deadLetters = scores.getSideOutput(DeadLetters.TAG);
 * }</pre>
 */
public class BatchingInferenceOperator extends BatchingOperator<EnrichedTransaction, FraudScore> {

    private static final long serialVersionUID = 3L;

    /** Transactions sent to the dead-letter output with stage INFERENCE. */
    public static final String DEAD_LETTERS = FraudScoring.DEAD_LETTERS;

    /** Transactions given the configured fallback score because the model failed on them. */
    public static final String FALLBACKS = FraudScoring.FALLBACKS;

    private final FraudScoring scoring;

    public BatchingInferenceOperator(InferenceSettings settings) {
        this(
                settings,
                OnnxBatchScorer.factory(required(settings).modelLocation(), settings.onnx()),
                Ticker.SYSTEM);
    }

    /**
     * Scoring with models from {@code scorers} instead of the settings' model location: for system
     * tests and benchmarks that wrap ONNX Runtime (a model made slow on purpose, say).
     */
    public static BatchingInferenceOperator withScorers(
            InferenceSettings settings, BatchScorer.Factory scorers) {
        return new BatchingInferenceOperator(settings, scorers, Ticker.SYSTEM);
    }

    /** With another model or clock: the seams the tests use. */
    BatchingInferenceOperator(
            InferenceSettings settings, BatchScorer.Factory scorers, Ticker ticker) {
        this(settings, new FraudScoring(required(settings)), scorers, ticker);
    }

    private BatchingInferenceOperator(
            InferenceSettings settings,
            FraudScoring scoring,
            BatchScorer.Factory scorers,
            Ticker ticker) {
        super(
                settings.batching(),
                scoring,
                scorers,
                TypeInformation.of(EnrichedTransaction.class),
                ticker);
        this.scoring = scoring;
    }

    private static InferenceSettings required(InferenceSettings settings) {
        Preconditions.checkArgument(settings != null, "inference settings must be set, found none");
        return settings;
    }

    @Override
    public BatchingInferenceOperator withInputsOwned() {
        super.withInputsOwned();
        return this;
    }

    /** Transactions dead-lettered by this operator. */
    @VisibleForTesting
    Counter deadLetters() {
        return scoring.deadLetters;
    }

    /** Transactions given the fallback score by this operator. */
    @VisibleForTesting
    Counter fallbacks() {
        return scoring.fallbacks;
    }
}
