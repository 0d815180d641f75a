package dev.streamscore.operators.inference;

import dev.streamscore.models.ExecutionProvider;
import dev.streamscore.models.OnnxOptions;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * The options of the job's inference, beside those of its batching ({@link
 * dev.streamscore.operators.batching.BatchingOptions}): which model, how ONNX Runtime runs it, and
 * what an event it cannot score gets. The one place their defaults are written (those of ONNX
 * Runtime come from {@link OnnxOptions#DEFAULT}); {@link InferenceSettings#from} reads them.
 */
public final class InferenceOptions {

    private InferenceOptions() {}

    /** The reference model the job scores with when no other is named. */
    public static final ConfigOption<String> MODEL =
            ConfigOptions.key("model")
                    .stringType()
                    .defaultValue("bundled:gbdt")
                    .withDescription(
                            "Model to score with: bundled:gbdt, bundled:mlp, bundled:deep (the"
                                    + " expensive one), or a folder holding descriptor.json and"
                                    + " the ONNX file, such as one `streamscore model compress`"
                                    + " writes.");

    public static final ConfigOption<Integer> INTRA_OP_THREADS =
            ConfigOptions.key("intra-op-threads")
                    .intType()
                    .defaultValue(OnnxOptions.DEFAULT.intraOpThreads())
                    .withDescription(
                            "ONNX Runtime threads per model call; 1 by default, since a"
                                    + " TaskManager's slots already use the cores.");

    public static final ConfigOption<Integer> INTER_OP_THREADS =
            ConfigOptions.key("inter-op-threads")
                    .intType()
                    .defaultValue(OnnxOptions.DEFAULT.interOpThreads())
                    .withDescription("ONNX Runtime threads for independent graph nodes.");

    public static final ConfigOption<ExecutionProvider> EXECUTION_PROVIDER =
            ConfigOptions.key("execution-provider")
                    .enumType(ExecutionProvider.class)
                    .defaultValue(OnnxOptions.DEFAULT.executionProvider())
                    .withDescription(
                            "Where ONNX Runtime runs the model: cpu, cuda, tensorrt, or auto"
                                + " (TensorRT, else CUDA, else CPU; logs the choice and why). GPU"
                                + " providers need the build with -Pgpu.");

    public static final ConfigOption<Integer> GPU_DEVICE =
            ConfigOptions.key("gpu-device")
                    .intType()
                    .defaultValue(OnnxOptions.DEFAULT.deviceId())
                    .withDescription("GPU device id used by cuda and tensorrt.");

    public static final ConfigOption<List<Integer>> PAD_TO_SIZES =
            ConfigOptions.key("pad-to-sizes")
                    .intType()
                    .asList()
                    .defaultValues()
                    .withDescription(
                            "Batch sizes, increasing, to pad every model call to (e.g."
                                + " 1;8;32;128;256), for providers that prefer static shapes; empty"
                                + " = off.");

    public static final ConfigOption<String> ORT_PROFILE =
            ConfigOptions.key("ort-profile")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Write ONNX Runtime's own profiling trace (Chrome trace JSON) of each"
                                + " model session to <this prefix>_<time>.json when the job stops;"
                                + " for diagnosis, it slows every call.");

    public static final ConfigOption<Double> FALLBACK_SCORE =
            ConfigOptions.key("fallback-score")
                    .doubleType()
                    .noDefaultValue()
                    .withDescription(
                            "Score in [0, 1] for an event the model cannot score, marked"
                                    + " fallback=true; unset sends it to the dead-letter topic.");

    public static final ConfigOption<Integer> REASONS =
            ConfigOptions.key("reasons")
                    .intType()
                    .defaultValue(3)
                    .withDescription(
                            "Reasons on each REVIEW or DECLINE score: up to this many features"
                                    + " that pushed it up (TreeSHAP for tree ensembles, occlusion"
                                    + " against the descriptor's baseline otherwise), 0 to 10; 0"
                                    + " turns them off.");

    /** Every option above, in the order the README's table lists them. */
    public static List<ConfigOption<?>> all() {
        return List.of(
                MODEL,
                INTRA_OP_THREADS,
                INTER_OP_THREADS,
                EXECUTION_PROVIDER,
                GPU_DEVICE,
                PAD_TO_SIZES,
                ORT_PROFILE,
                FALLBACK_SCORE,
                REASONS);
    }
}
