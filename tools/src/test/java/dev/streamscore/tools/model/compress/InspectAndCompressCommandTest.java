package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.tools.StreamscoreCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ./streamscore model inspect} and {@code model compress}, run in-process: what they print,
 * and exit code 2 with a one-line message for what they refuse.
 */
class InspectAndCompressCommandTest {

    @TempDir Path temp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cli = StreamscoreCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void inspectPrintsTheMlpsParameterCount() {
        assertThat(run("model", "inspect", Fixtures.folder("mlp"))).isZero();
        assertThat(out.toString())
                .contains("parameters:       3,365 (initializer and Constant elements)\n")
                .contains(
                        "operators:        Sub x1, Div x1, MatMul x3, Add x3, Relu x2, Sigmoid"
                                + " x1\n");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void compressWritesTheFolderAndSaysWhatItDid() {
        Path folder = temp.resolve("gbdt-prune50");
        int code =
                run(
                        "model",
                        "compress",
                        Fixtures.folder("gbdt"),
                        "--method",
                        "prune",
                        "--trees",
                        "50",
                        "--out",
                        folder.toString());
        assertThat(code).as(err.toString()).isZero();
        assertThat(ModelArtifact.load(folder.toString()).descriptor().version())
                .endsWith("-prune50");
        assertThat(out.toString())
                .contains("wrote:            " + folder + "\n")
                .contains("done:             kept the first 50 of 200 trees\n")
                .contains("runs on the cpu:  yes\n");
    }

    @Test
    void refusalsExitWithCodeTwoAndOneLine() {
        String gbdt = Fixtures.folder("gbdt");
        String out1 = temp.resolve("a").toString();
        assertThat(run("model", "compress", gbdt, "--method", "int8", "--out", out1)).isEqualTo(2);
        assertThat(err.toString())
                .startsWith("streamscore: int8 quantization does not apply to this model")
                .hasLineCount(1);
        err.getBuffer().setLength(0);
        assertThat(
                        run(
                                "model",
                                "compress",
                                Fixtures.folder("mlp"),
                                "--method",
                                "prune",
                                "--trees",
                                "3",
                                "--out",
                                out1))
                .isEqualTo(2);
        assertThat(err.toString()).startsWith("streamscore: prune does not apply").hasLineCount(1);
        err.getBuffer().setLength(0);
        // Only deploy, rollback, retire and status take the job's Kafka options.
        assertThat(run("model", "inspect", gbdt, "--tree", "3")).isEqualTo(2);
        assertThat(err.toString()).startsWith("Unknown options: '--tree', '3'");
        err.getBuffer().setLength(0);
        assertThat(run("model", "inspect", gbdt, "--bootstrap-servers", "kafka:9092")).isEqualTo(2);
        assertThat(err.toString()).startsWith("Unknown options: '--bootstrap-servers'");
    }
}
