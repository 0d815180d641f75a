package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model call that fails inside ONNX Runtime is reported once, through the exception {@link
 * OnnxModel#score} throws, not also as a stray ERROR line ONNX Runtime prints to the process's
 * stderr. ONNX Runtime writes to the native stderr, which Java cannot redirect in-process, so each
 * case runs in a child JVM ({@link FailingCall}) and reads its stderr.
 */
class OrtLogLevelTest {

    /** How ONNX Runtime's own log lines at ERROR begin. */
    private static final String ORT_ERROR_LINE = "[E:onnxruntime";

    @Test
    void aFailedCallIsReportedByItsExceptionAloneByDefault(@TempDir Path dir) throws Exception {
        ChildRun run = runFailingCall(dir, "FATAL");
        assertThat(run.stdout())
                .contains("OrtException: Error code - ORT_FAIL")
                .contains("Reshape");
        assertThat(run.stderr()).doesNotContain(ORT_ERROR_LINE);
    }

    @Test
    void theRunLogLevelLetsOrtsOwnErrorLinesThroughWhenAskedTo(@TempDir Path dir) throws Exception {
        // Proves the test above can fail: the same call at ERROR prints ORT's line to stderr.
        ChildRun run = runFailingCall(dir, "ERROR");
        assertThat(run.stdout()).contains("OrtException: Error code - ORT_FAIL");
        assertThat(run.stderr()).contains(ORT_ERROR_LINE).contains("Reshape");
    }

    @Test
    void loadTimeWarningsStayOnAndPerCallLinesOffByDefault() {
        assertThat(OnnxOptions.DEFAULT.sessionLogLevel()).isEqualTo(OnnxOptions.LogLevel.WARNING);
        assertThat(OnnxOptions.DEFAULT.runLogLevel()).isEqualTo(OnnxOptions.LogLevel.FATAL);
    }

    private static ChildRun runFailingCall(Path dir, String runLogLevel) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder =
                new ProcessBuilder(
                        List.of(
                                java,
                                FailingCall.class.getName(),
                                PaddingTest.fixture("fails-unless-8-rows"),
                                runLogLevel));
        // The classpath goes in the environment: a long command line is best avoided with ORT.
        builder.environment().put("CLASSPATH", System.getProperty("java.class.path"));
        File out = dir.resolve("stdout").toFile();
        File err = dir.resolve("stderr").toFile();
        builder.redirectOutput(out).redirectError(err);
        Process process = builder.start();
        try {
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("child JVM finished").isTrue();
        } finally {
            process.destroyForcibly();
        }
        ChildRun run =
                new ChildRun(
                        Files.readString(out.toPath(), StandardCharsets.UTF_8),
                        Files.readString(err.toPath(), StandardCharsets.UTF_8));
        assertThat(process.exitValue()).as("child exit status; %s", run).isZero();
        return run;
    }

    private record ChildRun(String stdout, String stderr) {}

    /** Child JVM: scores 3 rows with a model that takes only 8, and prints what it caught. */
    public static final class FailingCall {
        public static void main(String[] args) throws Exception {
            OnnxOptions options =
                    OnnxOptions.DEFAULT.withLogLevels(
                            OnnxOptions.LogLevel.WARNING, OnnxOptions.LogLevel.valueOf(args[1]));
            try (OnnxModel model = OnnxModel.open(args[0], options)) {
                model.score(new float[3][model.featureCount()]);
                System.out.println("scored: the model was expected to fail");
            } catch (ai.onnxruntime.OrtException e) {
                System.out.println(
                        "caught " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
    }
}
