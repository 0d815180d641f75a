package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What the fault tests share: generated transactions sent at a steady pace (so that the stream
 * keeps flowing across the fault), a read_committed consumer of the scores and dead letters, and
 * the exact count of each transaction's scores.
 *
 * <pre>{@code
 * ExactlyOnceLedger ledger = ExactlyOnceLedger.start(bootstrap, config, 3_000, 31);
 * ledger.readUntil(1, Duration.ofSeconds(120));   // a checkpoint has committed
 * ... the fault ...
 * ledger.readAll(Duration.ofSeconds(180));
 * ledger.assertEachScoredExactlyOnce();
 * }</pre>
 */
final class ExactlyOnceLedger implements AutoCloseable {

    private final ScoringConfig config;
    private final List<Transaction> transactions = new ArrayList<>();
    private final AtomicInteger sent = new AtomicInteger();
    private final Map<String, Integer> scored = new HashMap<>();
    private final List<FraudScore> read = new ArrayList<>();
    private final CompletableFuture<Void> producing;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final SingleObjectCodec<FraudScore> scores = SingleObjectCodec.of(FraudScore.class);

    private ExactlyOnceLedger(
            String bootstrap, ScoringConfig config, int count, long seed, boolean send) {
        this.config = config;
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(seed).withCards(500));
        for (int i = 0; i < count; i++) {
            transactions.add(generator.next().transaction());
        }
        consumer =
                new KafkaConsumer<>(
                        KafkaClients.readCommittedConsumer(
                                bootstrap, "reader-" + config.groupId()));
        consumer.subscribe(List.of(config.scoresTopic(), config.deadLetterTopic()));
        producing =
                send
                        ? CompletableFuture.runAsync(() -> produce(bootstrap))
                        : CompletableFuture.completedFuture(null);
    }

    /** Starts sending {@code count} generated transactions, about 300 a second. */
    static ExactlyOnceLedger start(String bootstrap, ScoringConfig config, int count, long seed) {
        return new ExactlyOnceLedger(bootstrap, config, count, seed, true);
    }

    /** A reader of the job's output only, for transactions the test sent itself. */
    static ExactlyOnceLedger reader(String bootstrap, ScoringConfig config) {
        return new ExactlyOnceLedger(bootstrap, config, 0, 0, false);
    }

    int sent() {
        return sent.get();
    }

    int total() {
        return transactions.size();
    }

    /** Every score read, in the order read. */
    List<FraudScore> scores() {
        return read;
    }

    int committed() {
        return scored.values().stream().mapToInt(i -> i).sum();
    }

    /** Reads until {@code n} scores in all have been read, or {@code timeout}. */
    void readUntil(int n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && committed() < n) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                assertThat(r.topic())
                        .as("no dead letters expected")
                        .isEqualTo(config.scoresTopic());
                FraudScore score = scores.decode(r.value());
                read.add(score);
                scored.merge(score.getTransactionId(), 1, Integer::sum);
            }
        }
    }

    /** Waits for the producer, reads every score, then 3 s more for any duplicate. */
    void readAll(Duration timeout) throws Exception {
        producing.get(timeout.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        readUntil(transactions.size(), timeout);
        readUntil(Integer.MAX_VALUE, Duration.ofSeconds(3));
    }

    void assertEachScoredExactlyOnce() {
        List<String> missing = new ArrayList<>();
        List<String> duplicated = new ArrayList<>();
        for (Transaction t : transactions) {
            int n = scored.getOrDefault(t.getTransactionId(), 0);
            if (n == 0) {
                missing.add(t.getTransactionId());
            } else if (n > 1) {
                duplicated.add(t.getTransactionId());
            }
        }
        assertThat(missing).as("transactions never scored").isEmpty();
        assertThat(duplicated).as("transactions scored more than once").isEmpty();
        assertThat(scored).hasSize(transactions.size());
    }

    private void produce(String bootstrap) {
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(KafkaClients.producer(bootstrap))) {
            for (Transaction t : transactions) {
                producer.send(
                        new ProducerRecord<>(
                                config.inputTopic(),
                                t.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(t)));
                sent.incrementAndGet();
                Thread.sleep(3);
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        producing.cancel(true);
        consumer.close();
    }
}
