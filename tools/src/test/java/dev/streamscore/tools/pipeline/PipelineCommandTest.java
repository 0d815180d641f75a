package dev.streamscore.tools.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.pipeline.OfflineFeatures;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.tools.StreamscoreCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code streamscore pipeline check} and {@code pipeline features}, as a user runs them. */
class PipelineCommandTest {

    static final Path PAYOUTS =
            Path.of("..", "pipelines", "examples", "payouts").toAbsolutePath().normalize();

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cli = StreamscoreCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void checkPrintsWhatAValidFileComputes() {
        Run r = run("pipeline", "check", PAYOUTS.resolve("payouts.yaml").toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out())
                .contains("pipeline merchant-payouts: OK")
                .contains("features (14), the model's input in this order:")
                .contains(" 1. amount_log")
                .contains("model  : payouts-logreg:1.0.0")
                .contains("(generated)");
    }

    @Test
    void checkPrintsEveryProblemWithItsLineAndExitsOne(@TempDir Path dir) throws Exception {
        Files.copy(PAYOUTS.resolve("Payout.avsc"), dir.resolve("Payout.avsc"));
        String yaml =
                Files.readString(PAYOUTS.resolve("payouts.yaml"))
                        .replace("window: 7d}", "window: 7 days}")
                        .replace(
                                "log1p(double(amount_minor) / 100.0)\n",
                                "log1p(amount_minor / 100.0)\n")
                        .replace("model: model ", "model: " + PAYOUTS.resolve("model") + " ");
        Path file = dir.resolve("payouts.yaml");
        Files.writeString(file, yaml);
        List<String> lines = Files.readAllLines(file);
        int window =
                lines.indexOf(lines.stream().filter(l -> l.contains("7 days")).findFirst().get())
                        + 1;

        Run r = run("pipeline", "check", file.toString());

        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err())
                .contains("2 problems in the pipeline file")
                .contains(
                        file
                                + ":"
                                + window
                                + ": aggregate accounts_7d: window '7 days' is not a duration")
                .contains("feature amount_log:")
                .contains("fix: CEL does not mix int and double");
    }

    @Test
    void featuresWritesTheEnginesRowsWithLabels(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("training.csv");
        Run r =
                run(
                        "pipeline",
                        "features",
                        PAYOUTS.resolve("payouts.yaml").toString(),
                        "--events",
                        PAYOUTS.resolve("events.jsonl").toString(),
                        "--labels",
                        PAYOUTS.resolve("labels.csv").toString(),
                        "--out",
                        out.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> csv = Files.readAllLines(out);
        Pipeline p = Pipeline.load(PAYOUTS.resolve("payouts.yaml").toString(), null, false);
        List<OfflineFeatures.Row> rows =
                OfflineFeatures.compute(
                        p, OfflineFeatures.read(p, PAYOUTS.resolve("events.jsonl")));
        assertThat(csv.get(0)).startsWith("payout_id,merchant_id,requested_at,label,amount_log,");
        assertThat(csv).hasSize(rows.size() + 1);
        String[] first = csv.get(1).split(",");
        assertThat(first[0]).isEqualTo(rows.get(0).id());
        assertThat(first[3]).isIn("0", "1");
        assertThat(Float.parseFloat(first[4])).isEqualTo(rows.get(0).features()[0]);
        assertThat(r.out()).contains("wrote 3,318 rows of 14 features");
    }
}
