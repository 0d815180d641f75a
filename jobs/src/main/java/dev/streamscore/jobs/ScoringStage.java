package dev.streamscore.jobs;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.operators.features.EnrichedTransaction;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.schemas.FraudScore;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * How {@link FraudScoringJob} turns enriched transactions (keyed by card) into scores. The job's
 * own is {@link #BATCHED_ONNX}; {@code streamscore bench} swaps in its baselines (a constant score,
 * one model call per event) to measure the rest of the same job around them.
 *
 * <p>Dead letters of the stage go to the operator's {@link
 * dev.streamscore.operators.deadletter.DeadLetters#TAG} side output.
 */
@FunctionalInterface
public interface ScoringStage {

    /** Micro-batched, cached ONNX inference: {@link BatchingInferenceOperator}. */
    ScoringStage BATCHED_ONNX =
            (enriched, config) ->
                    enriched.transform(
                                    "score: batched ONNX inference",
                                    TypeInformation.of(FraudScore.class),
                                    new BatchingInferenceOperator(config.inference())
                                            // The enricher emits a fresh object per element.
                                            .withInputsOwned())
                            .uid("batching-inference");

    SingleOutputStreamOperator<FraudScore> score(
            KeyedStream<EnrichedTransaction, String> enriched, ScoringConfig config);
}
