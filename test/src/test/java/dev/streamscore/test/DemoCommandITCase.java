package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.cli.StreamscoreCli;
import dev.streamscore.models.OnnxModel;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code ./streamscore demo --events N} as a user runs it, in-process: it must start its own broker
 * and Flink, score every generated transaction, dead-letter every malformed one, and stop cleanly.
 */
class DemoCommandITCase {

    @Test
    void boundedDemoAccountsForEveryEventAndStopsCleanly() {
        StringWriter output = new StringWriter();
        CommandLine cli = StreamscoreCli.commandLine();
        cli.setOut(new PrintWriter(output, true));

        int exit =
                cli.execute(
                        "demo",
                        "--events",
                        "1500",
                        "--rate",
                        "1000",
                        "--malformed-rate",
                        "0.01",
                        "--checkpoint-interval",
                        "2 s");

        String text = output.toString();
        assertThat(exit).as(text).isZero();
        assertThat(text)
                .contains("Kafka bootstrap : localhost:", "all 1500 transactions accounted for");
        Matcher sent = Pattern.compile("sent +: 1500 \\((\\d+) malformed\\)").matcher(text);
        assertThat(sent.find()).as(text).isTrue();
        int malformed = Integer.parseInt(sent.group(1));
        assertThat(text).contains("scored        : " + (1500 - malformed));
        assertThat(text).contains("dead letters  : " + malformed);
        assertThat(OnnxModel.openSessions()).isZero();
    }
}
