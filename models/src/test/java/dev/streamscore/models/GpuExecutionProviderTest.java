package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.logging.log4j.Level;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The GPU path itself, where it can run: with the GPU build of ONNX Runtime ({@code mvn -Pgpu}) on
 * a machine with an NVIDIA driver, CUDA 12 and cuDNN 9. Skipped everywhere else (the build machines
 * have no GPU); {@link ExecutionProviderTest} covers the fallback there.
 */
@EnabledIf("gpuBuildOnAGpuMachine")
class GpuExecutionProviderTest {

    static boolean gpuBuildOnAGpuMachine() {
        return OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)
                && Files.exists(Path.of("/proc/driver/nvidia/version"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"bundled:gbdt", "bundled:mlp"})
    void cudaScoresAsTheCpuDoesWithAndWithoutPadding(String location) throws Exception {
        OnnxOptions cuda = OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.CUDA, 0);
        float[][] rows = PaddingTest.randomRows(300, 18, 11);
        try (OnnxModel cpu = OnnxModel.open(location, OnnxOptions.DEFAULT);
                OnnxModel gpu = OnnxModel.open(location, cuda);
                OnnxModel gpuPadded =
                        OnnxModel.open(location, cuda.withPadToSizes(1, 8, 32, 128, 256))) {
            assertThat(gpu.executionProvider()).isEqualTo(ExecutionProvider.CUDA);
            float[] expected = cpu.score(rows);
            float[] onGpu = gpu.score(rows);
            float[] onGpuPadded = gpuPadded.score(rows);
            for (int i = 0; i < rows.length; i++) {
                assertThat(onGpu[i]).as("row %s", i).isCloseTo(expected[i], Offset.offset(1e-5f));
                assertThat(onGpuPadded[i])
                        .as("row %s, padded", i)
                        .isCloseTo(expected[i], Offset.offset(1e-5f));
            }
        }
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void autoChoosesAGpuProviderAndSaysWhy() throws Exception {
        OnnxOptions auto = OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.AUTO, 0);
        try (CapturedLog log = CapturedLog.of(OnnxModel.class);
                OnnxModel model = OnnxModel.open("bundled:mlp", auto)) {
            System.out.println("GpuExecutionProviderTest: " + log.at(Level.INFO));
            assertThat(model.executionProvider())
                    .isIn(ExecutionProvider.TENSORRT, ExecutionProvider.CUDA);
        }
    }
}
