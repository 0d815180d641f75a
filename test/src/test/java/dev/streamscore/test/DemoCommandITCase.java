package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.StreamscoreCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code ./streamscore demo} as a user runs it, in-process: it must start its own broker and Flink,
 * score every transaction, dead-letter every malformed record, and stop cleanly; and with a fixed
 * {@code --kafka-port} and {@code --no-generator}, serve ordinary Kafka clients on that port.
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
        assertThat(text).contains("Kafka bootstrap : localhost:", "all 1500 events accounted for");
        Matcher sent = Pattern.compile("sent +: 1500 \\((\\d+) malformed\\)").matcher(text);
        assertThat(sent.find()).as(text).isTrue();
        int malformed = Integer.parseInt(sent.group(1));
        assertThat(malformed).isPositive();
        assertThat(text).contains("scored        : " + (1500 - malformed));
        assertThat(text).contains("dead letters  : " + malformed);
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void outsideClientsProduceAndConsumeOnTheFixedPort() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        String bootstrap = "localhost:" + port;
        StringWriter output = new StringWriter();
        CommandLine cli = StreamscoreCli.commandLine();
        cli.setOut(new PrintWriter(output, true));
        CompletableFuture<Integer> demo =
                CompletableFuture.supplyAsync(
                        () ->
                                cli.execute(
                                        "demo",
                                        "--no-generator",
                                        "--events",
                                        "201",
                                        "--kafka-port",
                                        Integer.toString(port)));

        // Wait for the banner, then produce as any outside client would.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!output.toString().contains("generator       : off")
                && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(output.toString()).contains("Kafka bootstrap : " + bootstrap);
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(21));
        Set<String> sent = new HashSet<>();
        Properties producerProps = KafkaClients.producer(bootstrap);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps)) {
            for (int i = 0; i < 200; i++) {
                Transaction t = generator.next().transaction();
                sent.add(t.getTransactionId());
                producer.send(
                        new ProducerRecord<>(
                                "transactions",
                                t.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(t)));
            }
            producer.send(
                    new ProducerRecord<>(
                            "transactions", "not avro".getBytes(StandardCharsets.UTF_8)));
        }

        // An ordinary consumer on the same port reads every score while the demo runs.
        Set<String> scored = new HashSet<>();
        SingleObjectCodec<FraudScore> scores = SingleObjectCodec.of(FraudScore.class);
        // At-least-once output is visible at once; read_committed reads it just the same.
        Properties consumerProps = KafkaClients.readCommittedConsumer(bootstrap, "outside-reader");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps)) {
            consumer.subscribe(List.of("fraud-scores"));
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (scored.size() < sent.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    scored.add(scores.decode(r.value()).getTransactionId());
                }
            }
        }
        assertThat(scored).isEqualTo(sent);

        int exit = demo.get(90, TimeUnit.SECONDS);
        String text = output.toString();
        assertThat(exit).as(text).isZero();
        assertThat(text)
                .contains(
                        "all 201 events accounted for", "scored        : 200", "dead letters  : 1");
    }
}
