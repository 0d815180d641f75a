package dev.streamscore.tools.demo;

import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.LabelSource;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Comparator;
import java.util.PriorityQueue;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The demo's producer: generated transactions at a steady rate, with a small share of malformed
 * records to show the dead-letter path. The generator's simulated weeks of card activity are
 * replayed as fast as {@code rate} allows, so event times are simulated times; the wall-clock time
 * each valid transaction was sent is kept in {@link #sentAt} for the end-to-end latency.
 */
public final class DemoTraffic implements Runnable {

    /** Whether the generator writes what {@code pipeline} reads: card transactions. */
    public static boolean generates(dev.streamscore.pipeline.Pipeline pipeline) {
        return pipeline.inputSchema()
                        .getFullName()
                        .equals(Transaction.getClassSchema().getFullName())
                && pipeline.inputFormat() == dev.streamscore.pipeline.Pipeline.Format.AVRO;
    }

    private final String bootstrapServers;
    private final Properties clientSettings;
    private final String topic;
    private final TransactionGenerator generator;
    private final long events;
    private final double rate;
    private final double malformedRate;
    private final SplittableRandom random;
    private final SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
    private final AtomicBoolean stopped = new AtomicBoolean();

    /** Records sent so far, valid and malformed. */
    public final AtomicLong sent = new AtomicLong();

    /** Malformed records sent so far. */
    public final AtomicLong malformed = new AtomicLong();

    /** Send time (epoch ms) of each valid transaction whose score has not been read yet. */
    public final ConcurrentHashMap<String, Long> sentAt;

    /** Labels sent so far, and of those FRAUD. */
    public final AtomicLong labelsSent = new AtomicLong();

    public final AtomicLong fraudLabelsSent = new AtomicLong();

    private final SingleObjectCodec<FraudLabel> labelCodec = SingleObjectCodec.of(FraudLabel.class);

    /** Where labels go, or null for none. */
    private String labelsTopic;

    private long minLabelDelayMillis;
    private long maxLabelDelayMillis;

    /** A label waiting for its time. */
    private record DueLabel(long dueMillis, FraudLabel label) {}

    private final PriorityQueue<DueLabel> labels =
            new PriorityQueue<>(Comparator.comparingLong(DueLabel::dueMillis));

    /**
     * @param events how many records to send; 0 or less for no bound
     * @param rate records per second
     */
    public DemoTraffic(
            String bootstrapServers,
            Properties clientSettings,
            String topic,
            TransactionGenerator.Settings settings,
            long events,
            double rate,
            double malformedRate) {
        this(
                bootstrapServers,
                clientSettings,
                topic,
                settings,
                events,
                rate,
                malformedRate,
                new ConcurrentHashMap<>());
    }

    /** As above, recording send times in {@code sentAt} (shared by several producers, say). */
    public DemoTraffic(
            String bootstrapServers,
            Properties clientSettings,
            String topic,
            TransactionGenerator.Settings settings,
            long events,
            double rate,
            double malformedRate,
            ConcurrentHashMap<String, Long> sentAt) {
        this.sentAt = sentAt;
        if (rate <= 0) {
            throw new IllegalArgumentException("rate must be positive, got " + rate);
        }
        if (malformedRate < 0 || malformedRate > 1) {
            throw new IllegalArgumentException(
                    "malformed rate must be in [0, 1], got " + malformedRate);
        }
        this.bootstrapServers = bootstrapServers;
        this.clientSettings = clientSettings;
        this.topic = topic;
        this.generator = new TransactionGenerator(settings);
        this.events = events;
        this.rate = rate;
        this.malformedRate = malformedRate;
        this.random = new SplittableRandom(settings.seed() ^ 0x5eed);
    }

    /**
     * Also labels every valid transaction sent, on {@code topic}, between {@code min} and {@code
     * max} after it was sent (uniformly): FRAUD from a chargeback where the generator labelled it
     * fraud (its noisy label, as a fraud team would get it), else GENUINE from the customer.
     */
    public DemoTraffic withLabels(String topic, Duration min, Duration max) {
        if (min.isNegative() || max.compareTo(min) < 0) {
            throw new IllegalArgumentException(
                    "label delays must satisfy 0 <= min <= max, got " + min + " and " + max);
        }
        this.labelsTopic = topic;
        this.minLabelDelayMillis = min.toMillis();
        this.maxLabelDelayMillis = max.toMillis();
        return this;
    }

    public void stop() {
        stopped.set(true);
    }

    @Override
    public void run() {
        Properties props = KafkaClients.producer(bootstrapServers, clientSettings);
        props.put(ProducerConfig.LINGER_MS_CONFIG, "2");
        long start = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            while (!stopped.get() && (events <= 0 || sent.get() < events)) {
                long due = start + (long) (sent.get() * 1e9 / rate);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                sendDueLabels(producer, System.currentTimeMillis());
                GeneratedTransaction g = generator.next();
                Transaction txn = g.transaction();
                byte[] key = txn.getCardId().getBytes(StandardCharsets.UTF_8);
                byte[] value = codec.encode(txn);
                if (random.nextDouble() < malformedRate) {
                    value = corrupt(txn, value);
                    malformed.incrementAndGet();
                } else {
                    long now = System.currentTimeMillis();
                    sentAt.put(txn.getTransactionId(), now);
                    if (labelsTopic != null) {
                        labels.add(label(g, now));
                    }
                }
                producer.send(new ProducerRecord<>(topic, key, value));
                sent.incrementAndGet();
            }
            // Once all transactions are out, labels still go out as they fall due, until stopped.
            while (!stopped.get() && !labels.isEmpty()) {
                Thread.sleep(20);
                sendDueLabels(producer, System.currentTimeMillis());
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private DueLabel label(GeneratedTransaction g, long sentMillis) {
        long due =
                sentMillis
                        + minLabelDelayMillis
                        + (maxLabelDelayMillis > minLabelDelayMillis
                                ? random.nextLong(maxLabelDelayMillis - minLabelDelayMillis + 1)
                                : 0);
        boolean fraud = g.labelledFraud();
        return new DueLabel(
                due,
                FraudLabel.newBuilder()
                        .setTransactionId(g.transaction().getTransactionId())
                        .setLabel(fraud ? LabelValue.FRAUD : LabelValue.GENUINE)
                        .setSource(fraud ? LabelSource.CHARGEBACK : LabelSource.CUSTOMER)
                        .setLabelledAt(Instant.ofEpochMilli(due))
                        .build());
    }

    private void sendDueLabels(KafkaProducer<byte[], byte[]> producer, long now) {
        while (!labels.isEmpty() && labels.peek().dueMillis() <= now) {
            FraudLabel label = labels.poll().label();
            producer.send(
                    new ProducerRecord<>(
                            labelsTopic,
                            label.getTransactionId().getBytes(StandardCharsets.UTF_8),
                            labelCodec.encode(label)));
            labelsSent.incrementAndGet();
            if (label.getLabel() == LabelValue.FRAUD) {
                fraudLabelsSent.incrementAndGet();
            }
        }
    }

    /** One of three kinds of bad input: garbage, truncated Avro, or valid Avro with a bad field. */
    private byte[] corrupt(Transaction txn, byte[] valid) {
        switch (random.nextInt(3)) {
            case 0:
                byte[] garbage = new byte[8 + random.nextInt(64)];
                for (int i = 0; i < garbage.length; i++) {
                    garbage[i] = (byte) random.nextInt(256);
                }
                return garbage;
            case 1:
                return Arrays.copyOf(valid, valid.length / 2);
            default:
                return codec.encode(Transaction.newBuilder(txn).setCurrency("usd!").build());
        }
    }
}
