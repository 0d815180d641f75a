package dev.streamscore.tools.demo;

import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * Reads the score and dead-letter topics as any outside consumer would (read_committed), and keeps
 * the demo's figures: counts, decisions, cache hits, and end-to-end latency from the moment a
 * transaction was sent to the moment its score is read.
 */
public final class ScoreMonitor implements Runnable {

    private final String bootstrapServers;
    private final Properties clientSettings;
    private final String scoresTopic;
    private final String deadLetterTopic;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final SingleObjectCodec<FraudScore> scores = SingleObjectCodec.of(FraudScore.class);
    private final SingleObjectCodec<DeadLetter> deadLetters =
            SingleObjectCodec.of(DeadLetter.class);

    /** Latency since the last {@link #intervalLatency()} call, and over the whole run. */
    private final Recorder interval = new Recorder(3);

    private final Histogram total = new Histogram(3);

    public final AtomicLong scored = new AtomicLong();
    public final AtomicLong reviewed = new AtomicLong();
    public final AtomicLong declined = new AtomicLong();
    public final AtomicLong cacheHits = new AtomicLong();
    public final AtomicLong deadLettered = new AtomicLong();
    public final AtomicLong unreadable = new AtomicLong();

    private final Map<String, Long> sentAt;

    /**
     * @param sentAt send time (epoch ms) by transaction id, filled by the producer; each entry is
     *     removed when its score is read. May be empty when others produce the input.
     */
    public ScoreMonitor(
            String bootstrapServers,
            Properties clientSettings,
            String scoresTopic,
            String deadLetterTopic,
            Map<String, Long> sentAt) {
        this.sentAt = sentAt;
        this.bootstrapServers = bootstrapServers;
        this.clientSettings = clientSettings;
        this.scoresTopic = scoresTopic;
        this.deadLetterTopic = deadLetterTopic;
    }

    public void stop() {
        stopped.set(true);
    }

    /** Latencies recorded since the previous call, in milliseconds. */
    public synchronized Histogram intervalLatency() {
        Histogram h = interval.getIntervalHistogram();
        total.add(h);
        return h;
    }

    /** All latencies so far, in milliseconds. */
    public synchronized Histogram totalLatency() {
        total.add(interval.getIntervalHistogram());
        return total.copy();
    }

    @Override
    public void run() {
        Properties props =
                KafkaClients.readCommittedConsumer(
                        bootstrapServers, "streamscore-demo-monitor", clientSettings);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(scoresTopic, deadLetterTopic));
            while (!stopped.get()) {
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(100))) {
                    long now = System.currentTimeMillis();
                    try {
                        if (record.topic().equals(scoresTopic)) {
                            count(scores.decode(record.value()), now);
                        } else {
                            deadLetters.decode(record.value());
                            deadLettered.incrementAndGet();
                        }
                    } catch (SingleObjectCodec.DecodeException e) {
                        unreadable.incrementAndGet();
                    }
                }
            }
        }
    }

    private void count(FraudScore score, long now) {
        scored.incrementAndGet();
        if (score.getDecision() == Decision.REVIEW) {
            reviewed.incrementAndGet();
        } else if (score.getDecision() == Decision.DECLINE) {
            declined.incrementAndGet();
        }
        if (score.getCacheHit()) {
            cacheHits.incrementAndGet();
        }
        Long sent = sentAt.remove(score.getTransactionId());
        if (sent != null) {
            interval.recordValue(Math.max(0, now - sent));
        }
    }
}
