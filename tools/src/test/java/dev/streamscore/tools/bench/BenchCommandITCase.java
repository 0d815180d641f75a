package dev.streamscore.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.tools.StreamscoreCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Keeps {@code streamscore bench} from rotting: the real command, cut to a few seconds (two
 * configurations, one round, a small backlog, one short latency run each, the ONNX Runtime
 * profile), against the real broker, MiniCluster and model.
 */
class BenchCommandITCase {

    @Test
    void measuresEachConfigurationEndToEndAndWritesTheReport(@TempDir Path dir) throws Exception {
        StringWriter output = new StringWriter();
        CommandLine cli = StreamscoreCli.commandLine();
        cli.setOut(new PrintWriter(output, true));
        int exit =
                cli.execute(
                        "bench",
                        "--configurations",
                        "ceiling,streamscore",
                        "--models",
                        "gbdt",
                        "--delivery",
                        "at-least-once",
                        "--repeats",
                        "1",
                        "--events",
                        "10000",
                        "--loads",
                        "50",
                        "--load-warmup",
                        "500ms",
                        "--load-duration",
                        "1s",
                        "--no-model-alone",
                        "--p99-target",
                        "5s",
                        "--latency-target",
                        "5s",
                        "--latency-target-steps",
                        "2",
                        "--ort-profile",
                        dir.resolve("profile").toString(),
                        "--out",
                        dir.resolve("out").toString());

        String printed = output.toString();
        assertThat(exit).as(printed).isZero();
        assertThat(printed)
                .contains("max      round 1  ceiling gbdt at-least-once")
                .contains("latency  round 1  streamscore gbdt at-least-once")
                .contains("| streamscore gbdt at-least-once |")
                .contains("recommendation for p99 <= 5000 ms, at-least-once: ")
                .contains("ONNX Runtime profile of streamscore gbdt at-least-once")
                .doesNotContain("target   step 1  ceiling")
                .contains("latency target 5000 ms (adaptive batching)");
        // The bisection: 50% first, then 75% if that met the target, 25% if not.
        java.util.regex.Matcher step =
                java.util.regex.Pattern.compile(
                                "target   step (\\d)  streamscore gbdt at-least-once +([\\d.]+)%.*"
                                        + " (<=|>) 5000 ms")
                        .matcher(printed);
        assertThat(step.find()).as(printed).isTrue();
        assertThat(step.group(2)).isEqualTo("50.0");
        boolean firstMet = step.group(3).equals("<=");
        assertThat(step.find()).as(printed).isTrue();
        assertThat(step.group(1)).isEqualTo("2");
        assertThat(step.group(2)).isEqualTo(firstMet ? "75.0" : "25.0");
        boolean secondMet = step.group(3).equals("<=");
        String found = secondMet ? step.group(2) : firstMet ? "50.0" : null;
        assertThat(printed)
                .containsPattern(
                        found == null
                                ? "streamscore gbdt at-least-once: p99 above 5000 ms"
                                : "streamscore gbdt at-least-once: [\\d,]+ events/s \\("
                                        + found.replace(".", "\\.")
                                        + "% of");
        assertThat(Files.readAllLines(dir.resolve("out/latency-target.csv")))
                .hasSize(3)
                .allSatisfy(l -> assertThat(l).doesNotContain("NaN"));

        List<String> csv = Files.readAllLines(dir.resolve("out/results.csv"));
        List<String> rows = csv.stream().filter(l -> !l.startsWith("#")).toList();
        // Header, then a max row and a load row per configuration.
        assertThat(rows).hasSize(5);
        assertThat(rows.stream().filter(r -> r.contains(",max,"))).hasSize(2);
        assertThat(rows.stream().filter(r -> r.contains(",load,"))).hasSize(2);
        for (String row : rows.subList(1, rows.size())) {
            assertThat(row).doesNotContain("NaN");
        }
        assertThat(csv)
                .anyMatch(l -> l.startsWith("# command: ./streamscore bench --configurations"));
        String html = Files.readString(dir.resolve("out/report.html"));
        assertThat(html).contains("<svg").contains("streamscore gbdt at-least-once");
        try (Stream<Path> traces = Files.list(dir.resolve("profile"))) {
            assertThat(traces.filter(p -> p.getFileName().toString().endsWith(".json")))
                    .isNotEmpty();
        }
    }
}
