package dev.streamscore.tools.demo;

import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.ModelQuality;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
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
    private final String qualityTopic;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final ScoreReader scores;
    private final SingleObjectCodec<DeadLetter> deadLetters =
            SingleObjectCodec.of(DeadLetter.class);
    private final SingleObjectCodec<ModelQuality> qualities =
            SingleObjectCodec.of(ModelQuality.class);

    /** The latest quality record read per role, model and version, in the order first seen. */
    public final Map<String, ModelQuality> quality =
            java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>());

    /** Latency since the last {@link #intervalLatency()} call, and over the whole run. */
    private final Recorder interval = new Recorder(3);

    private final Histogram total = new Histogram(3);

    public final AtomicLong scored = new AtomicLong();
    public final AtomicLong reviewed = new AtomicLong();
    public final AtomicLong declined = new AtomicLong();
    public final AtomicLong cacheHits = new AtomicLong();
    public final AtomicLong deadLettered = new AtomicLong();
    public final AtomicLong unreadable = new AtomicLong();

    /** REVIEW and DECLINE scores that came with at least one reason. */
    public final AtomicLong flaggedWithReasons = new AtomicLong();

    /** The latest REVIEW or DECLINE score read that has reasons, or null. */
    public final AtomicReference<ScoreReader.ReadScore> lastExplained = new AtomicReference<>();

    private final Map<String, Long> sentAt;

    /**
     * @param sentAt send time (epoch ms) by transaction id, filled by the producer; each entry is
     *     removed when its score is read. May be empty when others produce the input.
     */
    public ScoreMonitor(
            ScoreReader scores,
            String bootstrapServers,
            Properties clientSettings,
            String scoresTopic,
            String deadLetterTopic,
            Map<String, Long> sentAt) {
        this(scores, bootstrapServers, clientSettings, scoresTopic, deadLetterTopic, null, sentAt);
    }

    /** As above, also reading the quality topic ({@code null}: none). */
    public ScoreMonitor(
            ScoreReader scores,
            String bootstrapServers,
            Properties clientSettings,
            String scoresTopic,
            String deadLetterTopic,
            String qualityTopic,
            Map<String, Long> sentAt) {
        this.scores = scores;
        this.qualityTopic = qualityTopic;
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
            consumer.subscribe(
                    qualityTopic == null
                            ? List.of(scoresTopic, deadLetterTopic)
                            : List.of(scoresTopic, deadLetterTopic, qualityTopic));
            while (!stopped.get()) {
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(100))) {
                    long now = System.currentTimeMillis();
                    try {
                        if (record.topic().equals(scoresTopic)) {
                            count(scores.read(record.value()), now);
                        } else if (record.topic().equals(qualityTopic)) {
                            ModelQuality q = qualities.decode(record.value());
                            quality.put(
                                    q.getRole()
                                            + " "
                                            + q.getModelName()
                                            + ":"
                                            + q.getModelVersion(),
                                    q);
                        } else {
                            deadLetters.decode(record.value());
                            deadLettered.incrementAndGet();
                        }
                    } catch (SingleObjectCodec.DecodeException
                            | dev.streamscore.pipeline.events.DecodeException e) {
                        unreadable.incrementAndGet();
                    }
                }
            }
        }
    }

    /**
     * One line for a flagged score and its reasons: {@code t-42 DECLINE 0.931 because
     * amount_to_avg_log=2.31 (+1.82), foreign=1 (+0.90)}.
     */
    public static String explained(ScoreReader.ReadScore score) {
        StringBuilder line =
                new StringBuilder()
                        .append(score.id())
                        .append(' ')
                        .append(score.decision())
                        .append(String.format(" %.3f because ", score.score()));
        for (int i = 0; i < score.reasons().size(); i++) {
            ScoreReader.ReadReason r = score.reasons().get(i);
            line.append(i == 0 ? "" : ", ")
                    .append(r.feature())
                    .append('=')
                    .append(String.format("%.4g", r.value()))
                    .append(String.format(" (%+.2f)", r.contribution()));
        }
        return line.toString();
    }

    /**
     * One line for a quality record: {@code champion fraud-gbdt:2.0.0 4,120 labelled (21 fraud):
     * precision 0.28, recall 0.77 at review; PR-AUC 0.71}.
     */
    public static String quality(ModelQuality q) {
        return String.format(
                "%s %s:%s  %,d labelled (%,d fraud): precision %.2f, recall %.2f at review;"
                        + " precision %.2f, recall %.2f at decline; PR-AUC %.2f",
                q.getRole().name().toLowerCase(java.util.Locale.ROOT),
                q.getModelName(),
                q.getModelVersion(),
                q.getLabelled(),
                q.getFrauds(),
                q.getPrecisionAtReview(),
                q.getRecallAtReview(),
                q.getPrecisionAtDecline(),
                q.getRecallAtDecline(),
                q.getPrAuc());
    }

    private void count(ScoreReader.ReadScore score, long now) {
        scored.incrementAndGet();
        if ("REVIEW".equals(score.decision())) {
            reviewed.incrementAndGet();
        } else if ("DECLINE".equals(score.decision())) {
            declined.incrementAndGet();
        }
        if (score.cacheHit()) {
            cacheHits.incrementAndGet();
        }
        if (score.flagged() && !score.reasons().isEmpty()) {
            flaggedWithReasons.incrementAndGet();
            lastExplained.set(score);
        }
        Long sent = sentAt.remove(score.id());
        if (sent != null) {
            interval.recordValue(Math.max(0, now - sent));
        }
    }
}
