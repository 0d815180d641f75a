package dev.streamscore.tools.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

class JobOptionsTest {

    private static Configuration parse(String... args) {
        CommandSpec spec = CommandSpec.create().name("run");
        JobOptions.addTo(spec);
        return JobOptions.toConfiguration(new CommandLine(spec).parseArgs(args));
    }

    @Test
    void takesJobOptionsAndKafkaClientPropertiesAsFlags() {
        Configuration conf =
                parse(
                        "--batch-size",
                        "32",
                        "--kafka.security.protocol",
                        "SASL_SSL",
                        "--kafka.sasl.mechanism=PLAIN");
        assertThat(conf.toMap())
                .containsEntry("batch-size", "32")
                .containsEntry("kafka.security.protocol", "SASL_SSL")
                .containsEntry("kafka.sasl.mechanism", "PLAIN");
    }

    @Test
    void anythingElseIsAnUnknownOption() {
        assertThatThrownBy(() -> parse("--batchsize", "32"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Unknown option: '--batchsize'");
        assertThatThrownBy(() -> parse("--kafka.acks"))
                .hasMessage("option '--kafka.acks' needs a value");
    }
}
