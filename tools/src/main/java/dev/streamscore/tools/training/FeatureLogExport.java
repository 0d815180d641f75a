package dev.streamscore.tools.training;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.schemas.FeatureLogEntry;
import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * The training CSV from what the job really served: its feature log (the exact rows each model
 * scored) joined by transaction id with the labels topic, both read from their start to the end
 * they had when the export began (read_committed). Point in time correct: the features are those of
 * the moment of scoring, not recomputed later.
 *
 * <p>The first label of a transaction counts, as in the job. Each transaction is written once (the
 * first entry the log has for it: a replayed score logs the same row again), in event-time order.
 * {@code fraud_pattern} is {@code none} for a genuine label and the label's source ({@code
 * chargeback}, {@code analyst}, {@code customer}) for fraud.
 */
final class FeatureLogExport {

    /** What unlabelled transactions become. */
    enum Unlabelled {
        SKIP,
        GENUINE
    }

    /** What the export read and wrote. */
    record Counts(
            long entries,
            long labels,
            long written,
            long frauds,
            long unlabelled,
            long repeated,
            long unreadable,
            long wrongLength) {}

    private static final SingleObjectCodec<FeatureLogEntry> ENTRIES =
            SingleObjectCodec.of(FeatureLogEntry.class);
    private static final SingleObjectCodec<FraudLabel> LABELS =
            SingleObjectCodec.of(FraudLabel.class);

    private FeatureLogExport() {}

    static Counts export(ScoringConfig config, Unlabelled unlabelled, Path out, PrintWriter log)
            throws IOException {
        long[] unreadable = {0};
        Map<String, FraudLabel> labels = new HashMap<>();
        long labelRecords =
                readAll(
                        config,
                        config.labelsTopic(),
                        bytes -> {
                            try {
                                FraudLabel label = LABELS.decode(bytes);
                                labels.putIfAbsent(label.getTransactionId(), label);
                            } catch (SingleObjectCodec.DecodeException | RuntimeException e) {
                                unreadable[0]++;
                            }
                        });
        log.printf(
                "read %d labels (%d transactions) from %s%n",
                labelRecords, labels.size(), config.labelsTopic());
        log.flush();
        Map<String, Row> rows = new LinkedHashMap<>();
        long[] repeated = {0};
        long[] wrongLength = {0};
        long[] none = {0};
        long entries =
                readAll(
                        config,
                        config.featureLogTopic(),
                        bytes -> {
                            FeatureLogEntry entry;
                            try {
                                entry = ENTRIES.decode(bytes);
                            } catch (SingleObjectCodec.DecodeException | RuntimeException e) {
                                unreadable[0]++;
                                return;
                            }
                            if (entry.getFeatures().size() != CardFeatures.COUNT) {
                                wrongLength[0]++;
                                return;
                            }
                            String id = entry.getTransactionId();
                            if (rows.containsKey(id)) {
                                repeated[0]++;
                                return;
                            }
                            FraudLabel label = labels.get(id);
                            if (label == null && unlabelled == Unlabelled.SKIP) {
                                none[0]++;
                                return;
                            }
                            rows.put(id, new Row(entry, label));
                        });
        List<Row> ordered = new ArrayList<>(rows.values());
        ordered.sort(Comparator.comparing(r -> r.entry.getEventTime()));
        long frauds = 0;
        try (TrainingCsv csv = TrainingCsv.create(out)) {
            for (Row r : ordered) {
                boolean fraud = r.label != null && r.label.getLabel() == LabelValue.FRAUD;
                frauds += fraud ? 1 : 0;
                csv.row(
                        r.entry.getTransactionId(),
                        r.entry.getCardId(),
                        r.entry.getEventTime().toEpochMilli(),
                        fraud
                                ? r.label.getSource().name().toLowerCase(java.util.Locale.ROOT)
                                : "none",
                        fraud,
                        floats(r.entry.getFeatures()));
            }
        }
        return new Counts(
                entries,
                labelRecords,
                ordered.size(),
                frauds,
                none[0],
                repeated[0],
                unreadable[0],
                wrongLength[0]);
    }

    private record Row(FeatureLogEntry entry, FraudLabel label) {}

    private static float[] floats(List<Float> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    /** Hands every record of {@code topic} up to its end at the start to {@code each}. */
    private static long readAll(ScoringConfig config, String topic, Consumer<byte[]> each) {
        Properties props =
                KafkaClients.readCommittedConsumer(
                        config.bootstrapServers(), null, config.kafka().consumer());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        long count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions =
                    consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                            .map(p -> new TopicPartition(p.topic(), p.partition()))
                            .toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = new HashMap<>(consumer.endOffsets(partitions));
            end.values().removeIf(o -> o == 0);
            end.keySet().removeIf(p -> consumer.position(p) >= end.get(p));
            while (!end.isEmpty()) {
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition p = new TopicPartition(record.topic(), record.partition());
                    Long last = end.get(p);
                    if (last != null && record.offset() < last) {
                        each.accept(record.value());
                        count++;
                    }
                }
                // Positions pass the end as transaction markers are skipped, records or not.
                end.keySet().removeIf(p -> consumer.position(p) >= end.get(p));
            }
        }
        return count;
    }
}
