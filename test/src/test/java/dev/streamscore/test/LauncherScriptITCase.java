package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, exactly as a user types it: {@code ./streamscore demo} in its own
 * JVM, with the launcher's classpath (not the test classpath), so a dependency missing from the
 * launcher fails here rather than in front of a user.
 */
class LauncherScriptITCase {

    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

    @Test
    void demoRunsFromTheLauncherScriptAndAccountsForEveryEvent(@TempDir Path tmp) throws Exception {
        Path log = tmp.resolve("demo.out");
        Process demo =
                new ProcessBuilder(
                                "bash",
                                "streamscore",
                                "demo",
                                "--events",
                                "400",
                                "--rate",
                                "400",
                                "--malformed-rate",
                                "0.02")
                        .directory(REPO.toFile())
                        .redirectErrorStream(true)
                        .redirectOutput(log.toFile())
                        .start();
        try {
            boolean exited = demo.waitFor(240, TimeUnit.SECONDS);
            String output = read(log);
            assertThat(exited).as("demo still running after 240 s:%n%s", output).isTrue();
            assertThat(demo.exitValue()).as(output).isZero();
            assertThat(output)
                    .contains("Kafka bootstrap : localhost:")
                    .contains("summary: all 400 events accounted for")
                    .contains("dead letters  : ");
        } finally {
            demo.descendants().forEach(ProcessHandle::destroyForcibly);
            demo.destroyForcibly();
        }
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }
}
