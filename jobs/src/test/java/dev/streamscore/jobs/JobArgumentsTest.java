package dev.streamscore.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobArgumentsTest {

    @Test
    void defaultsApplyWhenNothingIsGiven() {
        ScoringConfig config = ScoringConfig.from(JobArguments.parse(new String[0]));
        assertThat(config).isEqualTo(ScoringConfig.defaults());
        assertThat(config.inference().batching().maxBatchSize()).isEqualTo(256);
        assertThat(config.inference().modelLocation()).isEqualTo("bundled:gbdt");
        assertThat(config.delivery()).isEqualTo(DeliveryGuarantee.AT_LEAST_ONCE);
    }

    @Test
    void flagsOverrideTheConfigFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("job.yaml");
        Files.writeString(file, "batch-size: 64\nmax-wait: 25 ms\ndelivery: exactly-once\n");
        ScoringConfig config =
                ScoringConfig.from(
                        JobArguments.parse(
                                new String[] {"--config", file.toString(), "--batch-size", "32"}));
        assertThat(config.inference().batching().maxBatchSize()).isEqualTo(32);
        assertThat(config.inference().batching().maxWait()).isEqualTo(Duration.ofMillis(25));
        assertThat(config.delivery()).isEqualTo(DeliveryGuarantee.EXACTLY_ONCE);
    }

    @Test
    void unknownOptionsAreRejectedWithTheKnownOnes(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> JobArguments.parse(new String[] {"--batchsize", "3"}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--batchsize")
                .hasMessageContaining("--batch-size");
        Path file = dir.resolve("job.yaml");
        Files.writeString(file, "bach-size: 64\n");
        assertThatThrownBy(() -> JobArguments.parse(new String[] {"--config", file.toString()}))
                .hasMessageContaining("unknown option 'bach-size'");
    }

    @Test
    void anOptionWithoutAValueOrAStrayWordIsRejected() {
        assertThatThrownBy(() -> JobArguments.parse(new String[] {"--batch-size"}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("option '--batch-size' needs a value");
        assertThatThrownBy(() -> JobArguments.parse(new String[] {"batch-size", "3"}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected --<option> <value> pairs")
                .hasMessageContaining("--batch-size");
    }

    @Test
    void aMistakeNeverEchoesAValueThatMayBeASecret() {
        String secret = "s3cret-" + System.nanoTime();
        // A value that starts with '-' is read as an option name; one without a key is a stray
        // word.
        assertThatThrownBy(
                        () ->
                                JobArguments.parse(
                                        new String[] {
                                            "--kafka.sasl.jaas.config", "x", "-" + secret + "!", "y"
                                        }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageNotContaining(secret);
        assertThatThrownBy(() -> JobArguments.parse(new String[] {"--batch-size", "1", secret}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("cannot read the command line")
                .hasMessageNotContaining(secret);
    }

    @Test
    void everyOptionIsOneOfTheJobsOperatorsOrInferenceOptionsOnce() {
        List<String> keys = ScoringOptions.all().stream().map(ConfigOption::key).toList();
        assertThat(keys).doesNotHaveDuplicates();
        assertThat(ScoringOptions.all())
                .containsAll(ScoringOptions.own())
                .containsAll(InferenceOptions.all())
                .containsAll(BatchingOptions.all())
                .hasSize(
                        ScoringOptions.own().size()
                                + InferenceOptions.all().size()
                                + BatchingOptions.all().size());
    }

    @Test
    void noneIsNotADeliveryGuaranteeTheJobOffers() {
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        JobArguments.parse(new String[] {"--delivery", "none"})))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("delivery must be at-least-once or exactly-once");
    }

    @Test
    void badValuesFailWithAClearMessage() {
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        JobArguments.parse(new String[] {"--batch-size", "0"})))
                .hasMessageContaining("batch");
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        JobArguments.parse(new String[] {"--parallelism", "0"})))
                .hasMessage("parallelism must be at least 1, got 0");
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        JobArguments.parse(
                                                new String[] {
                                                    "--state-ttl", "1 h",
                                                    "--dedup-window", "2 h"
                                                })))
                .hasMessage(
                        "dedup-window must not be longer than state-ttl (a key's"
                                + " remembered event ids expire with its state), got PT2H"
                                + " and PT1H");
        // The key it had before pipeline files, still accepted.
        assertThat(
                        ScoringConfig.from(
                                        JobArguments.parse(
                                                new String[] {"--card-history-ttl", "2 h"}))
                                .stateTtl())
                .isEqualTo(java.time.Duration.ofHours(2));
    }

    /** The README's configuration table lists exactly these options with these defaults. */
    @Test
    void readmeConfigurationTableMatchesTheOptions() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        String begin = "<!-- options:begin -->";
        String end = "<!-- options:end -->";
        assertThat(readme).contains(begin, end);
        String table =
                readme.substring(readme.indexOf(begin) + begin.length(), readme.indexOf(end))
                        .trim();
        assertThat(table).isEqualTo(configurationTable());
    }

    /** The table as it must stand in the README; print it with the test's failure to update. */
    static String configurationTable() {
        List<String> rows = new ArrayList<>();
        rows.add("| option | default | meaning |");
        rows.add("| --- | --- | --- |");
        for (ConfigOption<?> option : ScoringOptions.all()) {
            rows.add(
                    "| `--"
                            + option.key()
                            + "` | `"
                            + JobArguments.defaultText(option)
                            + "` | "
                            + JobArguments.description(option)
                            + " |");
        }
        return String.join("\n", rows);
    }
}
