package dev.streamscore.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.jobs.config.KafkaClientSettings;
import dev.streamscore.jobs.config.ScoringConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaClientSettingsTest {

    @TempDir Path dir;

    private Path file(String... lines) throws Exception {
        Path file = dir.resolve("client.properties");
        Files.writeString(file, String.join("\n", lines));
        return file;
    }

    private static Configuration args(String... args) {
        return JobArguments.parse(args);
    }

    @Test
    void readsAClientPropertiesFileWithPerClientPrefixesAndKafkaOptionsOverIt() throws Exception {
        Path file =
                file(
                        "security.protocol=SASL_SSL",
                        "sasl.mechanism=SCRAM-SHA-512",
                        "consumer.max.poll.records=100",
                        "producer.linger.ms=20");
        KafkaClientSettings kafka =
                KafkaClientSettings.from(
                        args(
                                "--kafka-config", file.toString(),
                                "--kafka.sasl.mechanism", "PLAIN",
                                "--kafka.producer.compression.type", "zstd"));

        Properties consumer = kafka.consumer();
        assertThat(consumer)
                .containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.mechanism", "PLAIN")
                .containsEntry("max.poll.records", "100")
                .doesNotContainKeys("linger.ms", "compression.type");
        assertThat(kafka.producer())
                .containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("linger.ms", "20")
                .containsEntry("compression.type", "zstd")
                .doesNotContainKey("max.poll.records");
    }

    @Test
    void optionsWinOverTheFileEvenOverItsPerClientSettings() throws Exception {
        Path file = file("producer.linger.ms=20", "consumer.client.id=from-file");
        KafkaClientSettings kafka =
                KafkaClientSettings.from(
                        args(
                                "--kafka-config", file.toString(),
                                "--kafka.linger.ms", "50",
                                "--kafka.client.id", "from-option"));
        assertThat(kafka.producer()).containsEntry("linger.ms", "50");
        assertThat(kafka.consumer()).containsEntry("client.id", "from-option");
        // So an option that breaks a guarantee is refused even where the file says otherwise.
        Path acksAll = file("producer.acks=all");
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        args(
                                                "--kafka-config",
                                                acksAll.toString(),
                                                "--kafka.acks",
                                                "1")))
                .hasMessageStartingWith("Kafka producer setting acks=1 is refused");
    }

    @Test
    void aMisspeltSettingIsRefusedNotPassedOnAndIgnored() throws Exception {
        assertThatThrownBy(
                        () -> KafkaClientSettings.from(args("--kafka.config", "client.properties")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "unknown Kafka client setting 'config' given as a kafka.* option: not a"
                                + " consumer, producer or admin client setting of kafka-clients"
                                + " (the client properties file is --kafka-config)");
        Path file = file("security.protcol=SSL");
        assertThatThrownBy(() -> KafkaClientSettings.from(args("--kafka-config", file.toString())))
                .hasMessageStartingWith(
                        "unknown Kafka client setting 'security.protcol' in " + file);
        assertThatThrownBy(
                        () ->
                                KafkaClientSettings.from(
                                        args("--kafka.producer.max.poll.records", "5")))
                .hasMessageContaining("not a producer setting");
        // Config providers take settings of their own.
        assertThat(
                        KafkaClientSettings.from(
                                        args(
                                                "--kafka.config.providers",
                                                "env",
                                                "--kafka.config.providers.env.class",
                                                "org.apache.kafka.common.config.provider.EnvVarConfigProvider"))
                                .consumer())
                .containsKeys("config.providers", "config.providers.env.class");
    }

    @Test
    void bootstrapServersAreGivenOnceForBothClients() {
        assertThatThrownBy(
                        () ->
                                KafkaClientSettings.from(
                                        args("--kafka.producer.bootstrap.servers", "other:9092")))
                .hasMessageContaining(
                        "producer.bootstrap.servers given as a kafka.* option is refused");
    }

    @Test
    void kafkaKeysComeFromTheYamlConfigToo() throws Exception {
        Path yaml = dir.resolve("job.yaml");
        Files.writeString(
                yaml, "kafka:\n  security.protocol: SSL\n  consumer:\n    fetch.min.bytes: 10\n");
        KafkaClientSettings kafka = KafkaClientSettings.from(args("--config", yaml.toString()));
        assertThat(kafka.consumer())
                .containsEntry("security.protocol", "SSL")
                .containsEntry("fetch.min.bytes", "10");
    }

    @Test
    void theJobsSourceAndSinksApplyTheSettingsUnderWhatTheJobOwns() throws Exception {
        ScoringConfig config =
                ScoringConfig.from(
                        args(
                                "--kafka.security.protocol", "SASL_SSL",
                                "--kafka.linger.ms", "50",
                                "--kafka.consumer.partition.discovery.interval.ms", "1000"));
        assertThat(config.kafka().producer()).containsEntry("linger.ms", "50");
        // Built without a broker: the builders take the settings as they are.
        assertThat(ScoringJob.kafkaSource(config)).isNotNull();
        assertThat(ScoringJob.scoreSink(config)).isNotNull();
    }

    @Test
    void refusesWhatTheJobOwnsSayingWhatToUseInstead() {
        assertThatThrownBy(() -> ScoringConfig.from(args("--kafka.group.id", "x")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Kafka client setting group.id is refused: set it with --group-id");
        assertThatThrownBy(() -> ScoringConfig.from(args("--kafka.producer.transactional.id", "x")))
                .hasMessage(
                        "Kafka client setting transactional.id is refused: set the prefix with"
                                + " --transactional-id-prefix");
        assertThatThrownBy(() -> ScoringConfig.from(args("--kafka.transaction.timeout.ms", "1")))
                .hasMessageContaining("set it with --transaction-timeout");
        assertThatThrownBy(() -> ScoringConfig.from(args("--kafka.value.deserializer", "Foo")))
                .hasMessageContaining("value.deserializer is refused");
    }

    @Test
    void refusesWhatWouldBreakAGuarantee() {
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        args("--kafka.isolation.level", "read_uncommitted")))
                .hasMessageStartingWith(
                        "Kafka consumer setting isolation.level=read_uncommitted is refused");
        assertThatThrownBy(() -> ScoringConfig.from(args("--kafka.producer.acks", "1")))
                .hasMessageStartingWith("Kafka producer setting acks=1 is refused");
        assertThatThrownBy(() -> ScoringConfig.from(args("--kafka.enable.auto.commit", "true")))
                .hasMessageStartingWith(
                        "Kafka consumer setting enable.auto.commit=true is refused");
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        args(
                                                "--delivery", "exactly-once",
                                                "--kafka.enable.idempotence", "false")))
                .hasMessageContaining("enable.idempotence=false is refused with exactly-once");
        // What is harmless is the user's to choose.
        assertThat(
                        ScoringConfig.from(
                                        args(
                                                "--kafka.isolation.level", "read_committed",
                                                "--kafka.acks", "all",
                                                "--kafka.enable.idempotence", "false"))
                                .kafka()
                                .producer())
                .containsEntry("enable.idempotence", "false");
        KafkaClientSettings.NONE.check(DeliveryGuarantee.EXACTLY_ONCE);
    }

    @Test
    void bootstrapServersComeFromTheFlagOrTheSettingsButNotTwoDifferentOnes() throws Exception {
        Path file = file("bootstrap.servers=kafka-1:9093");
        assertThat(ScoringConfig.from(args("--kafka-config", file.toString())).bootstrapServers())
                .isEqualTo("kafka-1:9093");
        assertThat(
                        ScoringConfig.from(
                                        args(
                                                "--kafka-config",
                                                file.toString(),
                                                "--bootstrap-servers",
                                                "kafka-1:9093"))
                                .bootstrapServers())
                .isEqualTo("kafka-1:9093");
        assertThatThrownBy(
                        () ->
                                ScoringConfig.from(
                                        args(
                                                "--kafka-config",
                                                file.toString(),
                                                "--bootstrap-servers",
                                                "other:9092")))
                .hasMessage(
                        "bootstrap-servers is other:9092 but the Kafka client settings give"
                                + " bootstrap.servers=kafka-1:9093; give one of them");
    }

    @Test
    void neverShowsAValueNeitherPrintedNorInAFileErrorNorInTheEnvironment() throws Exception {
        String secret = "pw-" + System.nanoTime();
        Configuration options =
                args(
                        "--kafka.sasl.jaas.config",
                        "org.apache.kafka.common.security.plain.PlainLoginModule required"
                                + " username=\"u\" password=\""
                                + secret
                                + "\";",
                        "--batch-size",
                        "64");
        ScoringConfig config = ScoringConfig.from(options);
        assertThat(config.toString()).contains("sasl.jaas.config").doesNotContain(secret);
        assertThat(ScoringJob.flinkSettings(options).toMap())
                .containsKey("batch-size")
                .doesNotContainKey("kafka.sasl.jaas.config");

        Path broken = file("ssl.key.password=\\u12" + secret);
        assertThatThrownBy(
                        () -> KafkaClientSettings.from(args("--kafka-config", broken.toString())))
                .hasMessageStartingWith("cannot read Kafka client properties file " + broken)
                .hasMessageNotContaining(secret);
        assertThatThrownBy(() -> KafkaClientSettings.from(args("--kafka-config", "/nonexistent")))
                .hasMessage("Kafka client properties file /nonexistent does not exist");
    }
}
