package dev.streamscore.jobs;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.operators.inference.Score;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.ModelCommand;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * How {@link ScoringJob} turns enriched events (keyed by the pipeline's key) into scores. The job's
 * own is {@link #BATCHED_ONNX}; {@code streamscore bench} swaps in its baselines (a constant score,
 * one model call per event) to measure the rest of the same job around them.
 *
 * <p>Dead letters of the stage go to the operator's {@link
 * dev.streamscore.operators.deadletter.DeadLetters#TAG} side output; a stage that takes model
 * commands writes its status records to {@link
 * dev.streamscore.operators.lifecycle.ModelStatuses#TAG} and a challenger's scores to {@link
 * BatchingInferenceOperator#CHALLENGER_SCORES}.
 */
@FunctionalInterface
public interface ScoringStage {

    /**
     * Micro-batched, cached ONNX inference: {@link BatchingInferenceOperator}, its models changed
     * by {@code commands} when there are any.
     */
    ScoringStage BATCHED_ONNX = new BatchedOnnx();

    /**
     * @param commands the control stream of model commands, broadcast to every subtask; {@code
     *     null} when the job has none (its models change only by restart)
     */
    SingleOutputStreamOperator<Score> score(
            KeyedStream<PipelineEvent, String> enriched,
            DataStream<ModelCommand> commands,
            ScoringConfig config);

    /** Whether this stage reads model commands: if not, the job has no control stream. */
    default boolean takesModelCommands() {
        return false;
    }

    /** {@link #BATCHED_ONNX}. */
    final class BatchedOnnx implements ScoringStage {
        private BatchedOnnx() {}

        @Override
        public SingleOutputStreamOperator<Score> score(
                KeyedStream<PipelineEvent, String> enriched,
                DataStream<ModelCommand> commands,
                ScoringConfig config) {
            BatchingInferenceOperator operator =
                    new BatchingInferenceOperator(config.inference())
                            .withFeatures(config.features())
                            .withChallenger(config.challengerModel())
                            // The enricher emits a fresh object per element.
                            .withInputsOwned();
            if (config.featureLog()) {
                operator.withFeatureLog();
            }
            String name = "score: batched ONNX inference";
            TypeInformation<Score> type = TypeInformation.of(Score.class);
            if (commands == null) {
                return enriched.transform(name, type, operator).uid("batching-inference");
            }
            // A second input: the operator no longer chains to the enricher (a forward exchange
            // between them instead), the price of models that change without a restart.
            return enriched.connect(commands.broadcast())
                    .transform(name, type, operator)
                    .uid("batching-inference");
        }

        @Override
        public boolean takesModelCommands() {
            return true;
        }
    }
}
