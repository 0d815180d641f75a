package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.streamscore.jobs.JobArguments;
import dev.streamscore.jobs.KafkaConnectionCheck;
import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job against a secured broker: an in-process KRaft broker whose client listener is {@code
 * SASL_SSL} (TLS with a certificate authority made at test time, SCRAM-SHA-512 and PLAIN users),
 * beside its plaintext internal listeners. Exactly-once end to end with each mechanism, the SCRAM
 * password through Kafka's file config provider and the PLAIN one as a {@code kafka.*} option; no
 * secret in the logs, the printed configuration or Flink's REST API; a wrong password and a client
 * without TLS fail at start with a message that says so.
 */
class SecuredKafkaITCase {

    private static final String SCRAM_USER = "alice";
    private static final String PLAIN_USER = "bob";
    private static final String SCRAM_PASSWORD = "scram-" + Long.toHexString(System.nanoTime());
    private static final String PLAIN_PASSWORD = "plain-" + Long.toHexString(System.nanoTime());
    private static final int TRANSACTIONS = 200;

    @TempDir static Path dir;

    private static TestCertificates tls;
    private static EmbeddedKafka kafka;
    private static String secureBootstrap;
    private static Path secrets;
    private static final CapturingAppender LOGS = new CapturingAppender();

    @BeforeAll
    static void startSecuredBroker() throws Exception {
        LOGS.attach();
        tls = TestCertificates.create(dir);
        Map<String, String> broker = new HashMap<>();
        broker.put(
                "listeners",
                "EXTERNAL://localhost:0,CONTROLLER://localhost:0,SECURE://localhost:0");
        broker.put(
                "listener.security.protocol.map",
                "EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL");
        broker.put("listener.name.secure.ssl.keystore.location", tls.keystore().toString());
        broker.put("listener.name.secure.ssl.keystore.password", tls.storePassword());
        broker.put("listener.name.secure.ssl.keystore.type", "PKCS12");
        broker.put("listener.name.secure.ssl.key.password", tls.storePassword());
        broker.put("sasl.enabled.mechanisms", "SCRAM-SHA-512,PLAIN");
        broker.put("listener.name.secure.sasl.enabled.mechanisms", "SCRAM-SHA-512,PLAIN");
        broker.put(
                "listener.name.secure.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;");
        broker.put(
                "listener.name.secure.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_"
                        + PLAIN_USER
                        + "=\""
                        + PLAIN_PASSWORD
                        + "\";");
        kafka = EmbeddedKafka.start(0, broker);
        secureBootstrap = kafka.listenerAddress("SECURE");
        try (Admin admin = Admin.create(KafkaClients.admin(kafka.bootstrapServers()))) {
            admin.alterUserScramCredentials(
                            List.of(
                                    new UserScramCredentialUpsertion(
                                            SCRAM_USER,
                                            new ScramCredentialInfo(
                                                    ScramMechanism.SCRAM_SHA_512, 8192),
                                            SCRAM_PASSWORD)))
                    .all()
                    .get(30, TimeUnit.SECONDS);
        }
        // The secrets live in a file of their own; the client settings reference them.
        secrets = dir.resolve("secrets.properties");
        Files.writeString(
                secrets,
                "scram.password="
                        + SCRAM_PASSWORD
                        + "\ntruststore.password="
                        + tls.storePassword());
    }

    @AfterAll
    static void stop() throws Exception {
        LOGS.detach();
        if (kafka != null) {
            kafka.close();
        }
        // Every test's logs, the failing starts' included.
        assertThat(LOGS.text())
                .as("the logs")
                .isNotEmpty()
                .doesNotContain(SCRAM_PASSWORD, PLAIN_PASSWORD, tls.storePassword());
    }

    @Test
    void scoresEveryTransactionOnceOverSaslSslWithScramAndPlainAndShowsNoSecret() throws Exception {
        // SCRAM: a client.properties file whose secrets come from Kafka's file config provider.
        Path clientProperties = dir.resolve("client.properties");
        Files.writeString(
                clientProperties,
                String.join(
                        "\n",
                        "security.protocol=SASL_SSL",
                        "sasl.mechanism=SCRAM-SHA-512",
                        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule"
                                + " required username=\""
                                + SCRAM_USER
                                + "\" password=\"${file:"
                                + secrets
                                + ":scram.password}\";",
                        "ssl.truststore.location=" + tls.truststore(),
                        "ssl.truststore.type=PKCS12",
                        "ssl.truststore.password=${file:" + secrets + ":truststore.password}",
                        "config.providers=file",
                        "config.providers.file.class="
                                + "org.apache.kafka.common.config.provider.FileConfigProvider"));
        Configuration scram = options("scram");
        scram.setString(ScoringOptions.KAFKA_CONFIG.key(), clientProperties.toString());
        runEndToEnd(scram);

        // PLAIN: every setting as a --kafka.* flag of the job's command line, the password in it.
        Configuration plain =
                JobArguments.parse(
                        new String[] {
                            "--kafka.security.protocol",
                            "SASL_SSL",
                            "--kafka.sasl.mechanism",
                            "PLAIN",
                            "--kafka.sasl.jaas.config",
                            jaas("plain.PlainLoginModule", PLAIN_USER, PLAIN_PASSWORD),
                            "--kafka.ssl.truststore.location",
                            tls.truststore().toString(),
                            "--kafka.ssl.truststore.type",
                            "PKCS12",
                            "--kafka.ssl.truststore.password",
                            tls.storePassword()
                        });
        plain.addAll(options("plain"));
        runEndToEnd(plain);
    }

    @Test
    void aWrongPasswordFailsTheStartNamingTheAuthenticationFailure() throws Exception {
        Configuration wrong = options("wrong");
        String wrongPassword = "wrong-" + Long.toHexString(System.nanoTime());
        wrong.setString("kafka.security.protocol", "SASL_SSL");
        wrong.setString("kafka.sasl.mechanism", "SCRAM-SHA-512");
        wrong.setString(
                "kafka.sasl.jaas.config",
                jaas("scram.ScramLoginModule", SCRAM_USER, wrongPassword));
        wrong.setString("kafka.ssl.truststore.location", tls.truststore().toString());
        wrong.setString("kafka.ssl.truststore.type", "PKCS12");
        wrong.setString("kafka.ssl.truststore.password", tls.storePassword());
        ScoringConfig config = createTopics(ScoringConfig.from(wrong));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(ScoringJob.flinkSettings(wrong));

        long start = System.nanoTime();
        // Preemptive: were the check to pass, run() would run the job until cancelled.
        assertThatThrownBy(
                        () ->
                                assertTimeoutPreemptively(
                                        Duration.ofSeconds(90), () -> ScoringJob.run(env, config)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("authentication failed on Kafka at " + secureBootstrap)
                .hasMessageContaining("SaslAuthenticationException")
                .hasMessageNotContaining(wrongPassword);
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .isLessThan(KafkaConnectionCheck.DEFAULT_TIMEOUT);
        assertThat(config.toString()).doesNotContain(wrongPassword, tls.storePassword());
    }

    @Test
    void aClientWithoutTlsGetsNoAnswerFromTheTlsListener() throws Exception {
        Configuration noTls = options("no-tls");
        noTls.setString("kafka.security.protocol", "SASL_PLAINTEXT");
        noTls.setString("kafka.sasl.mechanism", "PLAIN");
        noTls.setString(
                "kafka.sasl.jaas.config",
                jaas("plain.PlainLoginModule", PLAIN_USER, PLAIN_PASSWORD));
        ScoringConfig config = ScoringConfig.from(noTls);

        assertThatThrownBy(() -> KafkaConnectionCheck.check(config, Duration.ofSeconds(5)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("no answer from Kafka at " + secureBootstrap)
                .hasMessageContaining("security.protocol=SASL_PLAINTEXT")
                .hasMessageNotContaining(PLAIN_PASSWORD);
    }

    /** A client's JAAS config for {@code module} of {@code org.apache.kafka.common.security}. */
    private static String jaas(String module, String user, String password) {
        return "org.apache.kafka.common.security."
                + module
                + " required username=\""
                + user
                + "\" password=\""
                + password
                + "\";";
    }

    /** The job's options for one run against the secured listener, exactly-once. */
    private static Configuration options(String run) {
        Configuration o = new Configuration();
        o.set(ScoringOptions.BOOTSTRAP_SERVERS, secureBootstrap);
        o.set(ScoringOptions.INPUT_TOPIC, "transactions-" + run);
        o.set(ScoringOptions.SCORES_TOPIC, "scores-" + run);
        o.set(ScoringOptions.DEAD_LETTER_TOPIC, "dead-letters-" + run);
        o.set(ScoringOptions.GROUP_ID, "secured-" + run);
        o.set(ScoringOptions.TRANSACTIONAL_ID_PREFIX, "secured-" + run);
        o.set(ScoringOptions.DELIVERY, DeliveryGuarantee.EXACTLY_ONCE);
        o.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        o.set(ScoringOptions.PARALLELISM, 2);
        o.set(BatchingOptions.BATCH_SIZE, 64);
        return o;
    }

    private static ScoringConfig createTopics(ScoringConfig config) throws Exception {
        kafka.createTopics(config.topicPartitions(2));
        return config;
    }

    /**
     * Sends generated transactions and one garbage record through the secured listener, runs the
     * job, and reads every score and the dead letter back with a secured read_committed consumer:
     * each exactly once. Then no secret in the printed configuration or in Flink's REST API.
     */
    private static void runEndToEnd(Configuration options) throws Exception {
        ScoringConfig config = createTopics(ScoringConfig.from(options));
        KafkaConnectionCheck.check(config, KafkaConnectionCheck.DEFAULT_TIMEOUT);
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(7).withCards(50));
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        List<String> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        KafkaClients.producer(
                                config.bootstrapServers(), config.kafka().producer()))) {
            for (int i = 0; i < TRANSACTIONS; i++) {
                Transaction txn = generator.next().transaction();
                sent.add(txn.getTransactionId());
                producer.send(
                        new ProducerRecord<>(
                                config.inputTopic(),
                                txn.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(txn)));
            }
            producer.send(
                            new ProducerRecord<>(
                                    config.inputTopic(),
                                    "garbage".getBytes(StandardCharsets.UTF_8)))
                    .get(30, TimeUnit.SECONDS);
        }

        int restPort = freePort();
        Configuration flink = ScoringJob.flinkSettings(options);
        flink.set(RestOptions.PORT, restPort);
        flink.set(RestOptions.BIND_PORT, Integer.toString(restPort));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(flink);
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("streamscore secured " + config.inputTopic());
        Map<String, Integer> scores = new HashMap<>();
        List<DeadLetter> deadLetters = new ArrayList<>();
        try {
            consume(config, scores, deadLetters, TRANSACTIONS, 1, Duration.ofSeconds(180));
            // A duplicate would arrive right behind the expected output.
            consume(config, scores, deadLetters, Integer.MAX_VALUE, 2, Duration.ofSeconds(3));
            assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.RUNNING);
            String jobId = job.getJobID().toHexString();
            for (String path :
                    List.of(
                            "/jobs/" + jobId + "/config",
                            "/jobmanager/config",
                            "/jobs/" + jobId + "/jobmanager/config")) {
                // Flink masks keys that look secret; no Kafka setting may be there at all.
                assertThat(get(restPort, path))
                        .as("Flink REST %s", path)
                        .doesNotContain(SCRAM_PASSWORD, PLAIN_PASSWORD, tls.storePassword())
                        .doesNotContain("kafka.sasl", "kafka.ssl", "kafka.security");
            }
        } finally {
            job.cancel().get(30, TimeUnit.SECONDS);
        }
        assertThat(scores.keySet()).containsExactlyInAnyOrderElementsOf(sent);
        assertThat(scores.values()).allMatch(n -> n == 1);
        assertThat(deadLetters).hasSize(1);
        assertThat(config.toString())
                .as("the configuration as printed")
                .doesNotContain(SCRAM_PASSWORD, PLAIN_PASSWORD, tls.storePassword());
    }

    private static void consume(
            ScoringConfig config,
            Map<String, Integer> scores,
            List<DeadLetter> deadLetters,
            int expectedScores,
            int expectedDeadLetters,
            Duration timeout)
            throws Exception {
        SingleObjectCodec<FraudScore> scoreCodec = SingleObjectCodec.of(FraudScore.class);
        SingleObjectCodec<DeadLetter> deadLetterCodec = SingleObjectCodec.of(DeadLetter.class);
        Properties props =
                KafkaClients.readCommittedConsumer(
                        config.bootstrapServers(), null, config.kafka().consumer());
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<org.apache.kafka.common.TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(config.scoresTopic(), config.deadLetterTopic())) {
                for (int p = 0; p < 2; p++) {
                    partitions.add(new org.apache.kafka.common.TopicPartition(topic, p));
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            scores.clear();
            deadLetters.clear();
            while (System.nanoTime() < deadline
                    && (scores.values().stream().mapToInt(Integer::intValue).sum() < expectedScores
                            || deadLetters.size() < expectedDeadLetters)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(config.scoresTopic())) {
                        scores.merge(
                                scoreCodec.decode(r.value()).getTransactionId(), 1, Integer::sum);
                    } else {
                        deadLetters.add(deadLetterCodec.decode(r.value()));
                    }
                }
            }
        }
    }

    private static String get(int port, String path) throws IOException {
        HttpURLConnection c =
                (HttpURLConnection)
                        URI.create("http://localhost:" + port + path).toURL().openConnection();
        c.setConnectTimeout(5_000);
        c.setReadTimeout(10_000);
        assertThat(c.getResponseCode()).as("GET %s", path).isEqualTo(200);
        try (var in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** Everything logged at INFO and above while the test class runs, with stack traces. */
    private static final class CapturingAppender extends AbstractAppender {
        private final ConcurrentLinkedQueue<String> lines = new ConcurrentLinkedQueue<>();
        private final Map<String, org.apache.logging.log4j.core.Appender> consoles =
                new HashMap<>();
        private Level previousRootLevel;

        CapturingAppender() {
            super("secured-kafka-capture", null, null, true, Property.EMPTY_ARRAY);
        }

        @Override
        public void append(LogEvent event) {
            lines.add(event.getMessage().getFormattedMessage());
            Throwable t = event.getThrown();
            while (t != null) {
                lines.add(t.toString());
                t = t.getCause();
            }
        }

        /** Captures INFO and above; the console keeps showing only what it showed before. */
        void attach() {
            LoggerContext context = (LoggerContext) LogManager.getContext(false);
            start();
            context.getConfiguration().addAppender(this);
            LoggerConfig root = context.getConfiguration().getRootLogger();
            previousRootLevel = root.getLevel();
            consoles.putAll(root.getAppenders());
            for (String name : consoles.keySet()) {
                root.removeAppender(name);
                root.addAppender(consoles.get(name), previousRootLevel, null);
            }
            root.addAppender(this, Level.INFO, null);
            root.setLevel(Level.INFO);
            context.updateLoggers();
        }

        void detach() {
            LoggerContext context = (LoggerContext) LogManager.getContext(false);
            LoggerConfig root = context.getConfiguration().getRootLogger();
            root.removeAppender(getName());
            if (previousRootLevel != null) {
                for (String name : consoles.keySet()) {
                    root.removeAppender(name);
                    root.addAppender(consoles.get(name), null, null);
                }
                root.setLevel(previousRootLevel);
            }
            context.updateLoggers();
            stop();
        }

        String text() {
            return String.join("\n", lines);
        }
    }
}
