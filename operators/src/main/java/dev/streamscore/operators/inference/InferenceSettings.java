package dev.streamscore.operators.inference;

import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.BatchingSettings;
import java.io.Serializable;
import java.util.function.UnaryOperator;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.util.Preconditions;

/**
 * How {@link BatchingInferenceOperator} scores: which model, how ONNX Runtime runs it, how it
 * batches, caches and retries ({@link BatchingSettings}), and what an event the model cannot score
 * gets. Immutable and checked when built, so a bad setting fails the job at submission, not
 * mid-stream. The defaults are those of {@link InferenceOptions} and {@link
 * dev.streamscore.operators.batching.BatchingOptions}.
 *
 * <pre>{@code
 * InferenceSettings settings = InferenceSettings.defaults("bundled:gbdt")
 *         .withBatching(b -> b.maxBatchSize(512).latencyTarget(Duration.ofMillis(5)))
 *         .withFallbackScore(0.6); // instead of dead letters
 * }</pre>
 *
 * @param modelLocation {@code bundled:<id>} or a folder with {@code descriptor.json} and the model
 *     (see {@link dev.streamscore.models.ModelArtifact})
 * @param onnx how the ONNX Runtime session is created
 * @param batching how rows are batched, cached, retried and emitted
 * @param fallbackScore {@code null} (rows the model cannot score go to dead letters), or the score
 *     they get instead, marked {@code fallback}
 * @param reasons how many reasons a REVIEW or DECLINE score carries at most; 0 for none
 */
public record InferenceSettings(
        String modelLocation,
        OnnxOptions onnx,
        BatchingSettings batching,
        Double fallbackScore,
        int reasons)
        implements Serializable {

    /** The most reasons a score may carry. */
    public static final int MAX_REASONS = 10;

    public InferenceSettings {
        Preconditions.checkArgument(
                modelLocation != null && !modelLocation.isBlank(),
                "model location must be 'bundled:<id>' or a folder, found %s",
                modelLocation == null ? "none" : "'" + modelLocation + "'");
        Preconditions.checkArgument(onnx != null, "ONNX options must be set, found none");
        Preconditions.checkArgument(batching != null, "batching settings must be set, found none");
        Preconditions.checkArgument(
                fallbackScore == null || (fallbackScore >= 0 && fallbackScore <= 1),
                "fallback score must be a probability between 0 and 1, or none, found %s",
                fallbackScore);
        Preconditions.checkArgument(
                reasons >= 0 && reasons <= MAX_REASONS,
                "reasons per flagged score must be within 0..%s, found %s",
                MAX_REASONS,
                reasons);
    }

    /** The settings {@code config} gives, each option not set there at its default. */
    public static InferenceSettings from(ReadableConfig config) {
        return new InferenceSettings(
                config.get(InferenceOptions.MODEL),
                OnnxOptions.DEFAULT
                        .withThreads(
                                config.get(InferenceOptions.INTRA_OP_THREADS),
                                config.get(InferenceOptions.INTER_OP_THREADS))
                        .withExecutionProvider(
                                config.get(InferenceOptions.EXECUTION_PROVIDER),
                                config.get(InferenceOptions.GPU_DEVICE))
                        .withPadToSizes(config.get(InferenceOptions.PAD_TO_SIZES))
                        .withProfilePrefix(
                                config.getOptional(InferenceOptions.ORT_PROFILE).orElse(null)),
                BatchingSettings.from(config),
                config.getOptional(InferenceOptions.FALLBACK_SCORE).orElse(null),
                config.get(InferenceOptions.REASONS));
    }

    /** Every option at its default, the model at {@code modelLocation}. */
    public static InferenceSettings defaults(String modelLocation) {
        InferenceSettings defaults = from(new Configuration());
        return new InferenceSettings(
                modelLocation,
                defaults.onnx,
                defaults.batching,
                defaults.fallbackScore,
                defaults.reasons);
    }

    public InferenceSettings withOnnx(OnnxOptions onnx) {
        return new InferenceSettings(modelLocation, onnx, batching, fallbackScore, reasons);
    }

    public InferenceSettings withBatching(BatchingSettings batching) {
        return new InferenceSettings(modelLocation, onnx, batching, fallbackScore, reasons);
    }

    /** With the batching settings {@code change} makes of a builder of the current ones. */
    public InferenceSettings withBatching(UnaryOperator<BatchingSettings.Builder> change) {
        return withBatching(change.apply(batching.toBuilder()).build());
    }

    /** Reasons per flagged score; 0 turns them off. */
    public InferenceSettings withReasons(int reasons) {
        return new InferenceSettings(modelLocation, onnx, batching, fallbackScore, reasons);
    }

    /** {@code null} removes the fallback: rows the model cannot score go to dead letters. */
    public InferenceSettings withFallbackScore(Double fallbackScore) {
        return new InferenceSettings(modelLocation, onnx, batching, fallbackScore, reasons);
    }
}
