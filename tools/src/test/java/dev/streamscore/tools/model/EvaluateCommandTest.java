package dev.streamscore.tools.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.tools.StreamscoreCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code streamscore model evaluate} through the command line, on a labelled set written by {@code
 * export-training-data}: its numbers, its CSV, and its PR-AUC gate, which must pass a variant that
 * scores exactly like the original and fail one that has lost most of its trees.
 */
class EvaluateCommandTest {

    @TempDir static Path dir;

    static Path data;
    static Path allTrees;
    static Path threeTrees;

    @BeforeAll
    static void writeDataAndVariants() {
        data = dir.resolve("heldout.csv");
        assertThat(
                        run(
                                "export-training-data",
                                "--seed",
                                "11",
                                "--events",
                                "40000",
                                "--out",
                                "" + data))
                .isZero();
        allTrees = dir.resolve("gbdt-200");
        threeTrees = dir.resolve("gbdt-3");
        assertThat(
                        run(
                                "model",
                                "compress",
                                "bundled:gbdt",
                                "--method",
                                "prune",
                                "--trees",
                                "200",
                                "--out",
                                "" + allTrees))
                .isZero();
        assertThat(
                        run(
                                "model",
                                "compress",
                                "bundled:gbdt",
                                "--method",
                                "prune",
                                "--trees",
                                "3",
                                "--out",
                                "" + threeTrees))
                .isZero();
    }

    @Test
    void aVariantThatScoresLikeTheOriginalPassesTheGate() throws Exception {
        Path out = dir.resolve("pass");
        int code =
                run(
                        "model",
                        "evaluate",
                        "bundled:gbdt",
                        "" + allTrees,
                        "--data",
                        "" + data,
                        "--max-pr-auc-drop",
                        "0.005",
                        "--repeats",
                        "1",
                        "--run-millis",
                        "50",
                        "--out",
                        "" + out);
        assertThat(code).isZero();
        List<String[]> rows = csv(out.resolve("evaluation.csv"));
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0)[3]).isEqualTo("original");
        assertThat(rows.get(1)[3]).isEqualTo("prune");
        // Pruning to all 200 trees changes nothing: same scores, same quality.
        assertThat(rows.get(1)[4]).isEqualTo(rows.get(0)[4]);
        assertThat(Double.parseDouble(rows.get(1)[10])).isZero();
        double prAuc = Double.parseDouble(rows.get(0)[4]);
        assertThat(prAuc).isBetween(0.3, 0.99);
        assertThat(Double.parseDouble(rows.get(0)[12])).isPositive();
        assertThat(Files.readString(out.resolve("throughput-vs-pr-auc.svg"))).contains("<svg");
    }

    @Test
    void aVariantThatLostTooMuchFailsTheGate() throws Exception {
        Path out = dir.resolve("fail");
        int code =
                run(
                        "model",
                        "evaluate",
                        "bundled:gbdt",
                        "" + threeTrees,
                        "--data",
                        "" + data,
                        "--max-pr-auc-drop",
                        "0.005",
                        "--repeats",
                        "1",
                        "--run-millis",
                        "50",
                        "--out",
                        "" + out);
        List<String[]> rows = csv(out.resolve("evaluation.csv"));
        double drop = Double.parseDouble(rows.get(1)[5]);
        assertThat(drop).as("three trees lose quality").isGreaterThan(0.005);
        assertThat(code).isEqualTo(EvaluateCommand.GATE_FAILED);
        // The same pair with a gate wider than the loss passes.
        int lenient =
                run(
                        "model",
                        "evaluate",
                        "bundled:gbdt",
                        "" + threeTrees,
                        "--data",
                        "" + data,
                        "--max-pr-auc-drop",
                        "" + (drop + 0.001),
                        "--repeats",
                        "1",
                        "--run-millis",
                        "50",
                        "--out",
                        "" + out);
        assertThat(lenient).isZero();
    }

    @Test
    void aFileThatIsNotALabelledSetIsRefusedWithItsLine() throws Exception {
        Path bad = dir.resolve("bad.csv");
        List<String> lines = Files.readAllLines(data).subList(0, 4);
        String broken = lines.get(2).replaceFirst(",[01],", ",maybe,");
        Files.write(bad, List.of(lines.get(0), lines.get(1), broken));
        assertThatThrownBy(() -> LabelledSet.read(bad))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad.csv:3")
                .hasMessageContaining("label must be 0 or 1");
        assertThat(run("model", "evaluate", "bundled:gbdt", "--data", "" + dir.resolve("none.csv")))
                .isEqualTo(2);
    }

    private static List<String[]> csv(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file);
        assertThat(lines.get(0)).startsWith("location,name,version,method,pr_auc,pr_auc_drop");
        return lines.stream().skip(1).map(l -> l.split(",", -1)).toList();
    }

    private static int run(String... args) {
        var cli = StreamscoreCli.commandLine();
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        if (code != 0 && code != EvaluateCommand.GATE_FAILED && code != 2) {
            throw new AssertionError("exit " + code + ": " + err);
        }
        return code;
    }
}
