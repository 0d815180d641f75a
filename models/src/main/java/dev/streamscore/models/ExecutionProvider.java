package dev.streamscore.models;

import ai.onnxruntime.OrtProvider;
import java.util.Arrays;
import java.util.Collection;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Where ONNX Runtime runs a model: on the CPU, on an NVIDIA GPU through CUDA or TensorRT, or the
 * best of these that works here ({@link #AUTO}). The GPU providers exist only in the GPU build of
 * ONNX Runtime, which the Maven profile {@code gpu} of the models module brings in.
 *
 * <pre>{@code
 * OnnxOptions options = OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.AUTO, 0);
 * try (OnnxModel model = OnnxModel.open("bundled:mlp", options)) {
 *     ExecutionProvider inUse = model.executionProvider(); // never AUTO
 * }
 * }</pre>
 */
public enum ExecutionProvider {
    /** ONNX Runtime's default CPU provider; always available. */
    CPU(OrtProvider.CPU),
    /** NVIDIA CUDA; nodes CUDA cannot run fall back to the CPU. */
    CUDA(OrtProvider.CUDA),
    /** NVIDIA TensorRT, with CUDA and then the CPU for the nodes TensorRT cannot run. */
    TENSORRT(OrtProvider.TENSOR_RT),
    /** TensorRT, else CUDA, else the CPU: the first that initialises; the log says why. */
    AUTO(null);

    private final OrtProvider ortProvider;

    ExecutionProvider(OrtProvider ortProvider) {
        this.ortProvider = ortProvider;
    }

    /** Parses {@code cpu}, {@code cuda}, {@code tensorrt} or {@code auto}, in any case. */
    public static ExecutionProvider parse(String text) {
        for (ExecutionProvider p : values()) {
            if (p.id().equalsIgnoreCase(text == null ? "" : text.trim())) {
                return p;
            }
        }
        throw new IllegalArgumentException(
                "execution provider must be one of "
                        + Arrays.stream(values())
                                .map(ExecutionProvider::id)
                                .collect(Collectors.joining(", "))
                        + ", found '"
                        + text
                        + "'");
    }

    /** The lower-case name used in options, logs and metrics. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** ONNX Runtime's name for this provider; null for {@link #AUTO}. */
    OrtProvider ortProvider() {
        return ortProvider;
    }

    /** {@link #id()}: options and metrics show {@code cuda}, not {@code CUDA}. */
    @Override
    public String toString() {
        return id();
    }

    /** ONNX Runtime providers named as this enum names them (TENSOR_RT as tensorrt). */
    static String describe(Collection<OrtProvider> providers) {
        return providers.stream()
                .map(p -> p.name().toLowerCase(Locale.ROOT).replace("_", ""))
                .sorted()
                .collect(Collectors.joining(", ", "[", "]"));
    }
}
