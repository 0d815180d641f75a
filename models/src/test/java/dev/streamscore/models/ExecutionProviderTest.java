package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import java.util.EnumSet;
import java.util.Set;
import org.apache.logging.log4j.Level;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Choosing where ONNX Runtime runs, proven on a CPU-only machine: {@code auto} falls back to the
 * CPU and logs why each GPU provider was passed over, both when the build lacks them (the default
 * CPU artifact) and when the build has them but they fail to initialise (ONNX Runtime's own
 * failure, driven by claiming the GPU providers are in the build); {@code cuda} and {@code
 * tensorrt} asked for by name fail with a message that says what this build has and where the GPU
 * build comes from. These cases need the CPU build (the default); on the GPU build ONNX Runtime
 * would find its GPU provider libraries, and {@code GpuExecutionProviderTest} applies instead.
 */
class ExecutionProviderTest {

    private static final String MODEL = "bundled:mlp";

    /** What the GPU artifact (onnxruntime_gpu) reports, on a machine without CUDA. */
    private static final Set<OrtProvider> GPU_BUILD =
            EnumSet.of(OrtProvider.CPU, OrtProvider.CUDA, OrtProvider.TENSOR_RT);

    private static final OnnxOptions AUTO =
            OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.AUTO, 0);

    @AfterEach
    void nothingLeftOpen() {
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void autoOnTheCpuBuildRunsOnTheCpuAndLogsThatTheGpuProvidersAreNotInTheBuild()
            throws Exception {
        assumeCpuOnlyBuild();
        try (CapturedLog log = CapturedLog.of(OnnxModel.class);
                OnnxModel model = OnnxModel.open(MODEL, AUTO)) {
            assertThat(model.executionProvider()).isEqualTo(ExecutionProvider.CPU);
            assertThat(log.at(Level.INFO))
                    .filteredOn(l -> l.contains("auto chose"))
                    .singleElement()
                    .asString()
                    .startsWith("INFO Execution provider auto chose cpu for model fraud-mlp:2.0.0")
                    .contains("tensorrt: not in this ONNX Runtime build, which has [cpu]")
                    .contains("cuda: not in this ONNX Runtime build, which has [cpu]")
                    .contains("onnxruntime_gpu")
                    .contains("-Pgpu");
        }
    }

    @Test
    void autoFallsBackToTheCpuWhenTheGpuProvidersFailToInitialiseAndLogsOrtsReasons()
            throws Exception {
        assumeCpuOnlyBuild();
        try (CapturedLog log = CapturedLog.of(OnnxModel.class);
                OnnxModel model = OnnxModel.open(MODEL, AUTO, GPU_BUILD)) {
            assertThat(model.executionProvider()).isEqualTo(ExecutionProvider.CPU);
            String choice =
                    log.at(Level.INFO).stream()
                            .filter(l -> l.contains("auto chose"))
                            .findFirst()
                            .orElseThrow();
            assertThat(choice)
                    .startsWith("INFO Execution provider auto chose cpu")
                    .contains(
                            "tensorrt (GPU device 0): failed to initialise: Error code -"
                                    + " ORT_EP_FAIL - message: Failed to find TensorRT shared"
                                    + " provider")
                    .contains(
                            "cuda (GPU device 0): failed to initialise: Error code - ORT_EP_FAIL"
                                    + " - message: Failed to find CUDA shared provider");
            // TensorRT is tried before CUDA.
            assertThat(choice.indexOf("tensorrt")).isLessThan(choice.indexOf("cuda"));
            assertThat(model.score(new float[][] {new float[model.featureCount()]})).hasSize(1);
        }
    }

    @Test
    void autoScoresExactlyAsTheCpuProviderDoes() throws Exception {
        assumeCpuOnlyBuild();
        float[][] rows = {new float[18], new float[18]};
        rows[1][0] = 5f;
        try (OnnxModel cpu = OnnxModel.open(MODEL, OnnxOptions.DEFAULT);
                OnnxModel auto = OnnxModel.open(MODEL, AUTO, GPU_BUILD)) {
            assertThat(auto.score(rows)).containsExactly(cpu.score(rows));
        }
    }

    @Test
    void cudaOnTheCpuBuildFailsNamingTheProvidersOfThisBuildAndTheGpuProfile() {
        assumeCpuOnlyBuild();
        OnnxOptions cuda = OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.CUDA, 0);
        assertThatThrownBy(() -> OnnxModel.open(MODEL, cuda))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith(
                        "execution provider 'cuda' is not in this ONNX Runtime build, which has"
                                + " [cpu]; the GPU build"
                                + " (com.microsoft.onnxruntime:onnxruntime_gpu) comes with the"
                                + " Maven profile 'gpu'")
                .hasMessageContaining("'auto'");
    }

    @Test
    void tensorrtOnTheCpuBuildFailsNamingTheProvidersOfThisBuild() {
        assumeCpuOnlyBuild();
        OnnxOptions trt = OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.TENSORRT, 1);
        assertThatThrownBy(() -> OnnxModel.open(MODEL, trt))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(
                        "'tensorrt' is not in this ONNX Runtime build, which has [cpu]");
    }

    @Test
    void aGpuProviderInTheBuildThatFailsToInitialiseFailsWithOrtsReasonAndTheDevice() {
        assumeCpuOnlyBuild();
        OnnxOptions cuda = OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.CUDA, 1);
        assertThatThrownBy(() -> OnnxModel.open(MODEL, cuda, GPU_BUILD))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage(
                        "execution provider 'cuda' (GPU device 1) failed to initialise for model"
                                + " fraud-mlp:2.0.0: Error code - ORT_EP_FAIL - message: Failed to"
                                + " find CUDA shared provider");
    }

    @Test
    void handlesOnDifferentProvidersDoNotShareASession() throws Exception {
        try (OnnxModel cpu = OnnxModel.open(MODEL, OnnxOptions.DEFAULT);
                OnnxModel auto = OnnxModel.open(MODEL, AUTO);
                OnnxModel cpuAgain = OnnxModel.open(MODEL, OnnxOptions.DEFAULT)) {
            assertThat(OnnxModel.openSessions()).isEqualTo(2);
            assertThat(auto.options().executionProvider()).isEqualTo(ExecutionProvider.AUTO);
            assertThat(cpuAgain.executionProvider()).isEqualTo(ExecutionProvider.CPU);
        }
    }

    @Test
    void providerNamesParseInAnyCaseAndAnUnknownOneListsTheChoices() {
        assertThat(ExecutionProvider.parse("TensorRT")).isEqualTo(ExecutionProvider.TENSORRT);
        assertThat(ExecutionProvider.parse(" auto ")).isEqualTo(ExecutionProvider.AUTO);
        assertThat(ExecutionProvider.CUDA).hasToString("cuda");
        assertThatThrownBy(() -> ExecutionProvider.parse("gpu"))
                .hasMessage(
                        "execution provider must be one of cpu, cuda, tensorrt, auto, found 'gpu'");
    }

    @Test
    void theCpuIsTheDefaultProvider() throws Exception {
        assertThat(OnnxOptions.DEFAULT.executionProvider()).isEqualTo(ExecutionProvider.CPU);
        try (OnnxModel model = OnnxModel.open(MODEL, OnnxOptions.DEFAULT)) {
            assertThat(model.executionProvider()).isEqualTo(ExecutionProvider.CPU);
        }
    }

    private static void assumeCpuOnlyBuild() {
        assumeTrue(
                OrtEnvironment.getAvailableProviders().equals(EnumSet.of(OrtProvider.CPU)),
                "needs the CPU build of ONNX Runtime (the default, not -Pgpu)");
    }
}
